//! nanobot_kernel: the exported nanobot_ros policy served as a ROS 2 node from Rust.
//!
//!   nanobot_kernel [--ros-args -p model_path:=exports/policy.onnx -p backend:=ort|candle ...]
//!   nanobot_kernel echo [--ros-args ...]          transport floor: answer frames, no model
//!   nanobot_kernel infer BACKEND MODEL INPUTS     one action from inputs in a .safetensors
//!   nanobot_kernel select BACKEND MODEL OBS INSTRUCTION  one action from an observation
//!   nanobot_kernel tokens FOLDER LENGTH TEXT...   the MiniLM tokenizer's ids and mask
//!   nanobot_kernel time BACKEND MODEL [N [IDLE_MS]]  in-process select_action p50 / p99
//!
//! See docs/kernel.md. Exit codes: 0 after SIGINT / SIGTERM, 2 for bad parameters.
mod image;
mod node;
mod policy;
mod server;
mod tools;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).expect("signal handler");
    }
    let result = match args.get(1).map(String::as_str) {
        Some("echo") => node::run_echo(stop),
        Some("infer") if args.len() == 5 => tools::infer(&args[2], &args[3], &args[4]),
        Some("select") if args.len() == 6 => tools::select(&args[2], &args[3], &args[4], &args[5]),
        Some("tokens") if args.len() >= 4 => tools::tokens(&args[2], &args[3], &args[4..]),
        Some("time") if args.len() >= 4 => {
            let number = |i: usize, default: f64| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default);
            tools::time(&args[2], &args[3], number(4, 1000.0) as usize, number(5, 0.0))
        }
        None | Some("--ros-args") => node::run(stop),
        Some(_) => Err("usage: nanobot_kernel [echo | infer BACKEND MODEL INPUTS | select BACKEND MODEL OBS INSTRUCTION | tokens FOLDER LENGTH TEXT... | time BACKEND MODEL [N [IDLE_MS]]] [--ros-args ...]".into()),
    };
    if let Err(error) = result {
        eprintln!("[ERROR] {error}");
        std::process::exit(2);
    }
}
