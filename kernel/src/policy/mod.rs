//! An exported policy behind one interface, whichever backend runs it.
//!
//! `Export` is what every backend reads from its file: the PolicyConfig (sizes, sampler), the
//! action names, bounds and discrete action vectors. `Policy` does the processing around the
//! network as `policy/processing.py` and `policy/onnx_runtime.py` do: image resize and
//! scaling, the text (UTF-8 byte tokens padded to max_text_len, or the MiniLM encoder's token
//! states), sensor / surface checks, the sampler's noise (standard normal for diffusion,
//! temperature x Gumbel for the categorical head: `sampler_noise`), clipping to the training
//! bounds, the nearest discrete action.
pub mod candle;
pub mod config;
pub mod onnx;
pub mod text;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Gumbel, StandardNormal};

pub use config::{Export, PolicyConfig};
use config::Sampler;

/// Padding id of the byte tokenizer (256 byte values + padding).
pub const TEXT_PAD: i64 = 256;

/// The instruction as the network takes it (PolicyConfig.text_encoder).
pub enum Text {
    /// 'bytes': (max_text_len,) byte ids.
    Bytes(Vec<i64>),
    /// 'minilm': (max_text_len, 384) token states of the text encoder.
    States(Vec<f32>),
}

/// Model inputs of one observation, already preprocessed.
pub struct Inputs {
    /// (3, S, S) float in [0, 1], empty without vision.
    pub images: Vec<f32>,
    pub text: Text,
    pub sensors: Vec<f32>,
    pub surface: Vec<f32>,
    /// The sampler's noise, `Export::noise_shape`; empty for a regression head.
    pub noise: Vec<f32>,
}

/// A network that maps inputs to actions (1, A) in robot units, within the training bounds.
pub trait Backend: Send {
    fn actions(&mut self, inputs: &Inputs) -> Result<Vec<f32>, String>;
    /// Whether the network reads the noise input (an ONNX export of a categorical head written
    /// before sampled actions has none: it always takes the most likely action).
    fn takes_noise(&self) -> bool;
}

/// What a backend can be built from: a file path and the thread setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Ort,
    Candle,
}

impl BackendKind {
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "ort" => Ok(Self::Ort),
            "candle" => Ok(Self::Candle),
            _ => Err(format!("unknown backend '{name}'; choose ort or candle")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Ort => "ort",
            Self::Candle => "candle",
        }
    }

    /// The file this backend reads for an export at `model_path` (the .onnx and the
    /// .safetensors of one export sit side by side); Candle also reads a .gguf named so.
    pub fn model_file(self, model_path: &str) -> String {
        if self == Self::Candle && model_path.ends_with(".gguf") {
            return model_path.to_string();
        }
        let stem = model_path
            .strip_suffix(".onnx")
            .or_else(|| model_path.strip_suffix(".safetensors"))
            .unwrap_or(model_path);
        match self {
            Self::Ort => format!("{stem}.onnx"),
            Self::Candle => format!("{stem}.safetensors"),
        }
    }
}

/// Thread settings of a backend (ONNX Runtime's names; Candle uses intra_op_num_threads).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threads {
    pub intra_op: usize,
    pub inter_op: usize,
    pub spinning: bool,
}

/// What tells a rewritten or replaced file from the one loaded: (size, mtime s, mtime ns,
/// inode); None when it is missing (`durable.file_version` in Python).
pub type FileVersion = Option<(u64, i64, i64, u64)>;

/// The version of the file at `path`.
pub fn file_version(path: &Path) -> FileVersion {
    std::fs::metadata(path).ok().map(|m| (m.size(), m.mtime(), m.mtime_nsec(), m.ino()))
}

/// One loaded export: its backend, its metadata and the sampler's random source.
pub struct Policy {
    pub export: Export,
    pub description: String,
    backend: Box<dyn Backend>,
    encoder: Option<Arc<Mutex<text::TextEncoder>>>,
    rng: StdRng,
    temperature: f32,
}

/// An observation as the node assembles it.
pub struct Observation<'a> {
    pub rgb: &'a [u8],
    pub height: usize,
    pub width: usize,
    pub instruction: &'a str,
    pub sensors: &'a [f32],
    pub surface: &'a [f32],
}

/// The answer: action values in robot units, their names and the nearest discrete action.
pub struct Action {
    pub index: i32,
    pub values: Vec<f32>,
}

impl Policy {
    /// Load the export at `path` with `kind`; Err says why it does not load. `seed` seeds the
    /// sampler's noise, `temperature` is the categorical head's (0: the most likely action).
    pub fn load(kind: BackendKind, path: &str, threads: Threads, seed: u64, temperature: f64) -> Result<Self, String> {
        // The whole file is read first: a file replaced while loading never mixes versions.
        let bytes = std::fs::read(path).map_err(|e| format!("{path}: cannot read the model ({e})"))?;
        let (export, backend): (Export, Box<dyn Backend>) = match kind {
            BackendKind::Ort => {
                let (export, backend) = onnx::OrtBackend::load(&bytes, threads)
                    .map_err(|e| format!("{path}: {e}"))?;
                (export, Box::new(backend))
            }
            BackendKind::Candle => {
                let load = if path.ends_with(".gguf") { candle::CandleBackend::load_gguf } else { candle::CandleBackend::load };
                let (export, backend) = load(&bytes).map_err(|e| format!("{path}: {e}"))?;
                (export, Box::new(backend))
            }
        };
        let path = Path::new(path);
        let encoder = match export.config.text_encoder.as_str() {
            "minilm" => Some(text::shared(
                path.parent().unwrap_or(Path::new(".")), export.config.max_text_len, threads,
            )?),
            _ => None,
        };
        let name = path.file_name().map_or(path.to_string_lossy(), |n| n.to_string_lossy());
        let choice = match (export.sampler == Sampler::Categorical, temperature > 0.0, backend.takes_noise()) {
            (true, true, true) => format!(", sampled at temperature {temperature}"),
            (true, true, false) => ", most likely action: the export predates sampling, no noise input".to_string(),
            (true, false, _) => ", most likely action".to_string(),
            (false, ..) => String::new(),
        };
        let description = format!("{name}: {}{choice} ({})", export.describe(), kind.name());
        Ok(Self { export, description, backend, encoder, rng: StdRng::seed_from_u64(seed), temperature: temperature as f32 })
    }

    /// Turn an observation into model inputs; Err for a malformed one (Python's messages).
    pub fn preprocess(&mut self, obs: &Observation) -> Result<Inputs, String> {
        let c = &self.export.config;
        let vector = |values: &[f32], key: &str, dim: usize| -> Result<Vec<f32>, String> {
            if values.len() != dim {
                return Err(format!("{key} must have {dim} values, got {}", values.len()));
            }
            if values.iter().any(|v| !v.is_finite()) {
                return Err(format!("{key} holds non-finite values"));
            }
            Ok(values.to_vec())
        };
        let sensors = vector(obs.sensors, "sensors", c.robotics_sensor_dim)?;
        let surface = vector(obs.surface, "surface", c.robotics_surface_dim)?;
        let images = if c.use_vision {
            crate::image::to_model_input(obs.rgb, obs.height, obs.width, c.image_size)
        } else {
            Vec::new()
        };
        let noise_len = self.export.noise_shape.iter().product();
        let noise = sampler_noise(&self.export.sampler, noise_len, &mut self.rng, self.temperature);
        let text = match &mut self.encoder {
            Some(encoder) => Text::States(encoder.lock().unwrap_or_else(|e| e.into_inner()).encode(obs.instruction)?.to_vec()),
            None => Text::Bytes(tokenize(obs.instruction, c.max_text_len)),
        };
        Ok(Inputs { images, text, sensors, surface, noise })
    }

    /// Run the network; Err when it fails or its output is not finite.
    pub fn act(&mut self, inputs: &Inputs) -> Result<Action, String> {
        let mut values = self.backend.actions(inputs)?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err("the model produced non-finite actions".into());
        }
        for ((v, lo), hi) in values.iter_mut().zip(&self.export.action_low).zip(&self.export.action_high) {
            *v = v.clamp(*lo, *hi);
        }
        Ok(Action { index: self.export.discrete_index(&values), values })
    }

    /// Preprocess and act.
    pub fn select_action(&mut self, obs: &Observation) -> Result<Action, String> {
        let inputs = self.preprocess(obs)?;
        self.act(&inputs)
    }
}

/// `len` values of the noise input of a network with `sampler` (`processing.sampler_noise` in
/// Python): standard normal for diffusion; for the categorical head `temperature` x Gumbel(0,
/// 1), so that argmax(logits + noise) is a draw from softmax(logits / temperature) (the
/// Gumbel-max trick), zeros at 0.
pub fn sampler_noise(sampler: &Sampler, len: usize, rng: &mut StdRng, temperature: f32) -> Vec<f32> {
    match sampler {
        Sampler::Categorical if temperature > 0.0 => {
            let gumbel = Gumbel::new(0.0f32, 1.0).expect("a unit Gumbel distribution");
            (0..len).map(|_| temperature * gumbel.sample(rng)).collect()
        }
        Sampler::Categorical => vec![0.0; len],
        _ => (0..len).map(|_| StandardNormal.sample(rng)).collect(),
    }
}

/// UTF-8 bytes of `text`, cut at `len`, padded with TEXT_PAD.
pub fn tokenize(text: &str, len: usize) -> Vec<i64> {
    let mut ids = vec![TEXT_PAD; len];
    for (id, byte) in ids.iter_mut().zip(text.as_bytes()) {
        *id = *byte as i64;
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bytes_cut_and_padded() {
        assert_eq!(tokenize("ab", 4), vec![97, 98, 256, 256]);
        assert_eq!(tokenize("abcdef", 3), vec![97, 98, 99]);
        assert_eq!(tokenize("é", 3), vec![0xc3, 0xa9, 256]);
    }

    #[test]
    fn categorical_noise_samples_the_tempered_softmax() {
        // argmax(logits + T x Gumbel) over many draws: frequencies within 0.01 of
        // softmax(logits / T) (binomial std at 40 000 draws is at most 0.0025).
        let logits = [1.0f32, 0.0, -1.0, 0.5];
        let mut rng = StdRng::seed_from_u64(7);
        for temperature in [1.0f32, 0.5] {
            let mut counts = [0usize; 4];
            let draws = 40_000;
            for _ in 0..draws {
                let noise = sampler_noise(&Sampler::Categorical, 4, &mut rng, temperature);
                let scores: Vec<f32> = logits.iter().zip(&noise).map(|(l, n)| l + n).collect();
                let best = (0..4).fold(0, |b, i| if scores[i] > scores[b] { i } else { b });
                counts[best] += 1;
            }
            let total: f32 = logits.iter().map(|l| (l / temperature).exp()).sum();
            for (count, logit) in counts.iter().zip(logits) {
                let expected = (logit / temperature).exp() / total;
                assert!((*count as f32 / draws as f32 - expected).abs() < 0.01, "{counts:?} at {temperature}");
            }
        }
        assert_eq!(sampler_noise(&Sampler::Categorical, 5, &mut rng, 0.0), vec![0.0; 5]);
        assert_eq!(sampler_noise(&Sampler::OnePass, 0, &mut rng, 1.0), Vec::<f32>::new());
    }

    #[test]
    fn each_backend_reads_its_file_of_the_export() {
        assert_eq!(BackendKind::Candle.model_file("e/policy.onnx"), "e/policy.safetensors");
        assert_eq!(BackendKind::Ort.model_file("e/policy.onnx"), "e/policy.onnx");
        assert_eq!(BackendKind::Ort.model_file("e/policy.safetensors"), "e/policy.onnx");
        assert_eq!(BackendKind::Candle.model_file("e/policy.gguf"), "e/policy.gguf");
        assert!(BackendKind::parse("tensorrt").is_err());
    }
}
