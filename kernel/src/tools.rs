//! Command-line tools beside the node: one inference from given model inputs (the parity tests
//! compare it with PyTorch), one select_action from an observation (compared with the Python
//! kernel runtime, its pre-processing and text encoder included) and in-process timing of
//! select_action (where the time goes).
use std::time::Instant;

use safetensors::{Dtype, SafeTensors};

use crate::policy::{BackendKind, Inputs, Observation, Policy, Text, Threads};

const ONE_THREAD: Threads = Threads { intra_op: 1, inter_op: 1, spinning: false };

fn load(backend: &str, model: &str) -> Result<Policy, String> {
    let kind = BackendKind::parse(backend)?;
    if kind == BackendKind::Candle {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    Policy::load(kind, &kind.model_file(model), ONE_THREAD, 0, 0.0)
}

/// The float32 tensor `name` of `file`, empty when absent.
fn floats(file: &SafeTensors, name: &str) -> Vec<f32> {
    file.tensor(name).map(|t| t.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()).unwrap_or_default()
}

fn print(action: crate::policy::Action) {
    println!("{}", serde_json::json!({"actions": action.values, "index": action.index}));
}

/// Print {"actions": [...], "index": i} for the model inputs in `inputs` (a .safetensors with
/// images, text (int64 byte ids, or float32 MiniLM token states), sensors, surface, noise as the
/// ONNX graph takes them; absent ones empty).
pub fn infer(backend: &str, model: &str, inputs: &str) -> Result<(), String> {
    let mut policy = load(backend, model)?;
    let bytes = std::fs::read(inputs).map_err(|e| format!("{inputs}: {e}"))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| format!("{inputs}: {e}"))?;
    let text = file.tensor("text").map_err(|e| format!("{inputs}: text: {e}"))?;
    let text = match text.dtype() {
        Dtype::I64 => Text::Bytes(text.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect()),
        _ => Text::States(floats(&file, "text")),
    };
    let inputs = Inputs { images: floats(&file, "images"), text, sensors: floats(&file, "sensors"), surface: floats(&file, "surface"), noise: floats(&file, "noise") };
    print(policy.act(&inputs)?);
    Ok(())
}

/// Print the action for an observation: `obs` a .safetensors with `image` (H, W, 3) uint8 rgb,
/// and `sensors`, `surface`, `noise` (the sampler's) when the model takes them; the instruction
/// is an argument.
pub fn select(backend: &str, model: &str, obs: &str, instruction: &str) -> Result<(), String> {
    let mut policy = load(backend, model)?;
    let bytes = std::fs::read(obs).map_err(|e| format!("{obs}: {e}"))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| format!("{obs}: {e}"))?;
    let image = file.tensor("image").map_err(|e| format!("{obs}: image: {e}"))?;
    let (height, width) = match (image.dtype(), image.shape()) {
        (Dtype::U8, &[h, w, 3]) => (h, w),
        (dtype, shape) => return Err(format!("{obs}: image must be (H, W, 3) uint8, got {dtype:?} {shape:?}")),
    };
    let (sensors, surface) = (floats(&file, "sensors"), floats(&file, "surface"));
    let observation = Observation { rgb: image.data(), height, width, instruction, sensors: &sensors, surface: &surface };
    let mut inputs = policy.preprocess(&observation)?;
    if file.tensor("noise").is_ok() {
        inputs.noise = floats(&file, "noise");
    }
    print(policy.act(&inputs)?);
    Ok(())
}

/// Time select_action on a black 40x40 frame `n` times, each after `idle_ms` of sleep (0:
/// back to back, as a busy core; > 0: as a node that waits for frames); print p50 / p99 in ms.
pub fn time(backend: &str, model: &str, n: usize, idle_ms: f64) -> Result<(), String> {
    let mut policy = load(backend, model)?;
    let rgb = vec![0u8; 40 * 40 * 3];
    let c = policy.export.config.clone();
    let (sensors, surface) = (vec![0.0; c.robotics_sensor_dim], vec![0.0; c.robotics_surface_dim]);
    let obs = Observation { rgb: &rgb, height: 40, width: 40, instruction: "go to the red marker", sensors: &sensors, surface: &surface };
    policy.select_action(&obs)?;
    let mut times: Vec<f64> = (0..n.max(1)).map(|_| {
        std::thread::sleep(std::time::Duration::from_secs_f64(idle_ms / 1e3));
        let start = Instant::now();
        let _ = policy.select_action(&obs);
        start.elapsed().as_secs_f64() * 1e3
    }).collect();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!("{backend} select_action, {idle_ms} ms idle before each, p50 {:.3} ms p99 {:.3} ms", pick(0.5), pick(0.99));
    Ok(())
}

/// Print {"ids": [[...], ...], "mask": [[...], ...]}: the MiniLM tokenizer's output for each
/// text, with `folder`'s tokenizer.json cut / padded to `length` as the text encoder takes it.
pub fn tokens(folder: &str, length: &str, texts: &[String]) -> Result<(), String> {
    let length = length.parse().map_err(|e| format!("length {length}: {e}"))?;
    let tokenizer = crate::policy::text::load_tokenizer(std::path::Path::new(folder), length)?;
    let (mut ids, mut mask) = (Vec::new(), Vec::new());
    for text in texts {
        let (i, m) = crate::policy::text::tokenize(&tokenizer, text)?;
        ids.push(i);
        mask.push(m);
    }
    println!("{}", serde_json::json!({"ids": ids, "mask": mask}));
    Ok(())
}
