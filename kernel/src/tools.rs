//! Command-line tools beside the node: one inference from given inputs (the parity tests
//! compare it with PyTorch) and in-process timing of select_action (where the time goes).
use std::time::Instant;

use crate::policy::{BackendKind, Inputs, Observation, Policy, Threads};

const ONE_THREAD: Threads = Threads { intra_op: 1, inter_op: 1, spinning: false };

fn load(backend: &str, model: &str) -> Result<Policy, String> {
    let kind = BackendKind::parse(backend)?;
    if kind == BackendKind::Candle {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    Policy::load(kind, &kind.model_file(model), ONE_THREAD, 0)
}

/// Print {"actions": [...]} for the model inputs in `inputs` (a .safetensors with images,
/// text (int64), sensors, surface, noise as the ONNX graph takes them; absent ones empty).
pub fn infer(backend: &str, model: &str, inputs: &str) -> Result<(), String> {
    let mut policy = load(backend, model)?;
    let bytes = std::fs::read(inputs).map_err(|e| format!("{inputs}: {e}"))?;
    let file = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| format!("{inputs}: {e}"))?;
    let floats = |name: &str| -> Vec<f32> {
        file.tensor(name).map(|t| t.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()).unwrap_or_default()
    };
    let text = file.tensor("text").map_err(|e| format!("{inputs}: text: {e}"))?;
    let text = text.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect();
    let inputs = Inputs { images: floats("images"), text, sensors: floats("sensors"), surface: floats("surface"), noise: floats("noise") };
    let action = policy.act(&inputs)?;
    println!("{}", serde_json::json!({"actions": action.values, "index": action.index}));
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
