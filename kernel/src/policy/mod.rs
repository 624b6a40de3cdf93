//! An exported policy behind one interface, whichever backend runs it.
//!
//! `Export` is what every backend reads from its file: the PolicyConfig (sizes, sampler), the
//! action names, bounds and discrete action vectors. `Policy` does the processing around the
//! network as `policy/processing.py` and `policy/onnx_runtime.py` do: image resize and
//! scaling, the text (UTF-8 byte tokens padded to max_text_len, or the MiniLM encoder's token
//! states), sensor / surface checks, the sampler's noise, clipping to the training bounds, the
//! nearest discrete action.
pub mod candle;
pub mod config;
pub mod onnx;
pub mod text;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

pub use config::{Export, PolicyConfig};

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
#[derive(Clone, Copy, Debug)]
pub struct Threads {
    pub intra_op: usize,
    pub inter_op: usize,
    pub spinning: bool,
}

/// One loaded export: its backend, its metadata and the sampler's random source.
pub struct Policy {
    pub export: Export,
    pub description: String,
    backend: Box<dyn Backend>,
    encoder: Option<text::TextEncoder>,
    rng: StdRng,
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
    /// Load the export at `path` with `kind`; Err says why it does not load.
    pub fn load(kind: BackendKind, path: &str, threads: Threads, seed: u64) -> Result<Self, String> {
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
        let path = std::path::Path::new(path);
        let encoder = match export.config.text_encoder.as_str() {
            "minilm" => Some(text::TextEncoder::load(
                path.parent().unwrap_or(std::path::Path::new(".")), export.config.max_text_len, threads,
            )?),
            _ => None,
        };
        let name = path.file_name().map_or(path.to_string_lossy(), |n| n.to_string_lossy());
        let description = format!("{name}: {} ({})", export.describe(), kind.name());
        Ok(Self { export, description, backend, encoder, rng: StdRng::seed_from_u64(seed) })
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
        let noise_len: usize = self.export.noise_shape.iter().product();
        let noise = (0..noise_len).map(|_| StandardNormal.sample(&mut self.rng)).collect();
        let text = match &mut self.encoder {
            Some(encoder) => Text::States(encoder.encode(obs.instruction)?.to_vec()),
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
    fn each_backend_reads_its_file_of_the_export() {
        assert_eq!(BackendKind::Candle.model_file("e/policy.onnx"), "e/policy.safetensors");
        assert_eq!(BackendKind::Ort.model_file("e/policy.onnx"), "e/policy.onnx");
        assert_eq!(BackendKind::Ort.model_file("e/policy.safetensors"), "e/policy.onnx");
        assert_eq!(BackendKind::Candle.model_file("e/policy.gguf"), "e/policy.gguf");
        assert!(BackendKind::parse("tensorrt").is_err());
    }
}
