//! The export's description of itself: PolicyConfig and sampler, action names and bounds.
//!
//! Every file of an export carries it (the keys: `nanobot_ros/policy/format.py`): the .onnx as
//! `nanobot.*` metadata_props, the .safetensors in its `__metadata__` (`metadata` holds the
//! checkpoint's JSON: `policy_config`, and `export` with the sampler, DDIM steps, action names
//! and discrete actions; the bounds are the `model.action_norm` tensors), the .gguf as
//! `nanobot.*` string keys (policy/quantize.py). This file is the one place they are parsed.
//! Every PolicyConfig field must be present (older exports lack the policy v2 ones: their
//! defaults): the defaults have one home, the Python dataclass, and exports write them all.
//! Unknown fields are an error that names them, as `PolicyConfig.from_dict` does; as there, a
//! config without `head` is an older file's, whose two head booleans name the head.
use serde::Deserialize;

pub const ONNX_FORMAT: &str = "nanobot_ros.policy_onnx/1";
pub const CHECKPOINT_FORMAT: &str = "nanobot_ros.checkpoint/1";
pub const GGUF_FORMAT: &str = "nanobot_ros.policy_gguf/1";
pub const WEIGHTS_KIND: &str = "nanobot_policy";

/// The Python PolicyConfig's fields (`policy/configuration.py`;
/// test/structure/test_kernel_contract.py compares them). All are parsed, so an unknown or missing one is an error; a few only
/// matter to training.
#[allow(dead_code)]
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub n_layer: usize,
    pub n_head: usize,
    pub n_embd: usize,
    pub causal: bool,
    pub film: bool,
    pub max_text_len: usize,
    pub use_vision: bool,
    pub image_size: usize,
    pub patch_size: usize,
    pub vision_embd: usize,
    pub vision_depth: usize,
    pub use_robotics: bool,
    pub robotics_sensor_dim: usize,
    pub robotics_surface_dim: usize,
    pub robotics_action_dim: usize,
    /// regression, diffusion or categorical (`HEADS`).
    pub head: String,
    pub robotics_diffusion_steps: usize,
    pub robotics_diffusion_prediction: String,
    pub robotics_aux_regression: f64,
    pub diffusion_hidden: usize,
    // Policy v2 fields: absent in older exports (their defaults).
    /// The categorical head's logit count; its action vectors are the weights' `action_vectors`.
    #[serde(default = "five_actions")]
    pub n_actions: usize,
    #[serde(default)]
    pub ternary: bool,
    #[serde(default = "bytes_encoder")]
    pub text_encoder: String,
    /// FiLM's text summary: 'mean', or 'cross' (cross-attention of the vision tokens over the
    /// text; branch s6-policy of issue #16). ort runs either (it is in the graph); Candle
    /// refuses 'cross' with the reason.
    #[serde(default = "mean_condition")]
    pub text_condition: String,
}

fn five_actions() -> usize {
    5
}

fn bytes_encoder() -> String {
    "bytes".to_string()
}

fn mean_condition() -> String {
    "mean".to_string()
}

/// The action heads a config names (`HEADS` in policy/configuration.py).
pub const HEADS: [&str; 3] = ["regression", "diffusion", "categorical"];

/// Give a config written before the `head` field (two booleans, `robotics_use_diffusion` and
/// `robotics_categorical`, the second absent in the oldest files) its `head`.
fn name_the_head(config: &mut serde_json::Value) -> Result<(), String> {
    let Some(fields) = config.as_object_mut() else { return Ok(()) };
    if fields.contains_key("head") {
        return Ok(());
    }
    let mut flag = |name: &str| fields.remove(name).and_then(|v| v.as_bool()).unwrap_or(false);
    let head = match (flag("robotics_use_diffusion"), flag("robotics_categorical")) {
        (true, true) => return Err("the config names two action heads (categorical and diffusion)".into()),
        (true, false) => "diffusion",
        (false, true) => "categorical",
        (false, false) => "regression",
    };
    fields.insert("head".into(), head.into());
    Ok(())
}

/// The ViT's head count (`PolicyConfig.vit_config` in Python: fixed at 4).
pub const VISION_HEADS: usize = 4;

impl PolicyConfig {
    pub fn parse(json: &str) -> Result<Self, String> {
        let mut value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("bad policy config: {e}"))?;
        name_the_head(&mut value)?;
        let config: Self =
            serde_json::from_value(value).map_err(|e| format!("bad policy config: {e}"))?;
        if config.n_head == 0 || config.n_embd % config.n_head != 0 {
            return Err(format!("n_embd {} is not divisible by n_head {}", config.n_embd, config.n_head));
        }
        if config.use_vision && (config.patch_size == 0 || config.image_size % config.patch_size != 0) {
            return Err(format!("image_size {} is not a multiple of patch_size {}", config.image_size, config.patch_size));
        }
        if !["sample", "epsilon"].contains(&config.robotics_diffusion_prediction.as_str()) {
            return Err(format!("unknown diffusion prediction '{}'", config.robotics_diffusion_prediction));
        }
        if !["bytes", "minilm"].contains(&config.text_encoder.as_str()) {
            return Err(format!("unknown text encoder '{}'", config.text_encoder));
        }
        if !["mean", "cross"].contains(&config.text_condition.as_str()) {
            return Err(format!("unknown text condition '{}'", config.text_condition));
        }
        if !HEADS.contains(&config.head.as_str()) {
            return Err(format!("unknown action head '{}'", config.head));
        }
        Ok(config)
    }

    pub fn num_vision_tokens(&self) -> usize {
        if self.use_vision {
            (self.image_size / self.patch_size).pow(2)
        } else {
            0
        }
    }

    pub fn sequence_length(&self) -> usize {
        (self.robotics_sensor_dim > 0) as usize
            + (self.robotics_surface_dim > 0) as usize
            + self.num_vision_tokens()
            + self.max_text_len
            + 1
    }
}

/// Sampler of the action head: none (a regression head, one pass), the categorical head's
/// argmax of logits + noise (zeros: the most likely action; T x Gumbel noise: a sample at
/// temperature T), or diffusion.
#[derive(Clone, Debug, PartialEq)]
pub enum Sampler {
    OnePass,
    Categorical,
    Ddim(usize),
    Ddpm,
}

/// Reads an export's action bounds (low, high) from its tensors.
pub type Bounds<'a> = &'a dyn Fn() -> Result<(Vec<f32>, Vec<f32>), String>;

/// Everything about an export that is not a weight.
#[derive(Clone, Debug)]
pub struct Export {
    pub config: PolicyConfig,
    pub sampler: Sampler,
    pub noise_shape: Vec<usize>,
    pub action_names: Vec<String>,
    pub discrete_actions: Vec<Vec<f32>>,
    pub action_low: Vec<f32>,
    pub action_high: Vec<f32>,
}

fn json<T: for<'de> Deserialize<'de>>(text: &str, key: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("metadata {key} is malformed: {e}"))
}

/// The value of string key `nanobot.<name>`.
fn key(get: &dyn Fn(&str) -> Option<String>, name: &str) -> Result<String, String> {
    get(&format!("nanobot.{name}")).ok_or(format!("metadata has no nanobot.{name}"))
}

fn field<T: serde::de::DeserializeOwned>(meta: &serde_json::Value, path: &[&str]) -> Result<T, String> {
    let mut value = meta;
    for key in path {
        value = value.get(key).ok_or(format!("metadata has no {}", path.join(".")))?;
    }
    serde_json::from_value(value.clone()).map_err(|e| format!("metadata {}: {e}", path.join(".")))
}

impl Export {
    /// Build from the parts both files share; checks that the sizes agree.
    pub fn new(
        config: PolicyConfig, sampler: &str, ddim_steps: usize, action_names: Vec<String>,
        discrete_actions: Vec<Vec<f32>>, low: Vec<f32>, high: Vec<f32>,
    ) -> Result<Self, String> {
        let a = config.robotics_action_dim;
        // The label of a head without a sampler ('regression' or 'categorical'; older exports
        // wrote 'regression' or even 'ddim' for either) is not needed: the config says which.
        let sampler = match (config.head == "diffusion", sampler) {
            (false, _) if config.head == "categorical" => Sampler::Categorical,
            (false, _) => Sampler::OnePass,
            (true, "ddim") if (1..=config.robotics_diffusion_steps).contains(&ddim_steps) => Sampler::Ddim(ddim_steps),
            (true, "ddim") => return Err(format!("DDIM needs 1 <= k <= {} steps, got {ddim_steps}", config.robotics_diffusion_steps)),
            (true, "ddpm") => Sampler::Ddpm,
            (true, other) => return Err(format!("unknown sampler '{other}'")),
        };
        let noise_shape = match sampler {
            Sampler::OnePass => vec![],
            Sampler::Categorical => vec![1, config.n_actions],
            Sampler::Ddim(_) => vec![1, 1, a],
            Sampler::Ddpm => vec![config.robotics_diffusion_steps, 1, a],
        };
        if low.len() != a || high.len() != a || action_names.len() != a {
            return Err(format!(
                "action_dim {a} but {} bounds low, {} high, {} names", low.len(), high.len(), action_names.len()
            ));
        }
        if discrete_actions.iter().any(|v| v.len() != a) {
            return Err(format!("discrete actions must each have {a} values"));
        }
        Ok(Self { config, sampler, noise_shape, action_names, discrete_actions, action_low: low, action_high: high })
    }

    /// From ONNX metadata_props: `get(key)` returns the value of `nanobot.<key>`.
    pub fn from_onnx_metadata(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let bounds = || Ok((json(&key(&get, "action_low")?, "action_low")?, json(&key(&get, "action_high")?, "action_high")?));
        Self::from_keys(&get, ONNX_FORMAT, "policy export", &bounds)
    }

    /// From a GGUF's string keys (policy/quantize.py): `get(key)` returns `nanobot.<key>`. The
    /// bounds are the action_norm tensors (`bounds()`: low, high, read once the format is
    /// known); sampler, DDIM steps and action names are keys as in the ONNX export.
    pub fn from_gguf_metadata(get: impl Fn(&str) -> Option<String>, bounds: Bounds) -> Result<Self, String> {
        Self::from_keys(&get, GGUF_FORMAT, "policy GGUF", bounds)
    }

    /// The `nanobot.*` string keys both the ONNX export and the GGUF carry.
    fn from_keys(get: &dyn Fn(&str) -> Option<String>, expected: &str, what: &str, bounds: Bounds) -> Result<Self, String> {
        let format = get("nanobot.format");
        if format.as_deref() != Some(expected) {
            return Err(format!("not a nanobot_ros {what} (format {format:?})"));
        }
        let config = PolicyConfig::parse(&key(get, "policy_config")?)?;
        let steps: usize = key(get, "ddim_steps")?.parse().map_err(|e| format!("metadata ddim_steps: {e}"))?;
        let (low, high) = bounds()?;
        Self::new(
            config, &key(get, "sampler")?, steps,
            json(&key(get, "action_names")?, "action_names")?,
            json(&key(get, "discrete_actions")?, "discrete_actions")?,
            low, high,
        )
    }

    /// From a policy safetensors' checkpoint JSON (`__metadata__["metadata"]`, checked to be
    /// CHECKPOINT_FORMAT by the caller); the bounds are its action_norm tensors (`bounds()`).
    pub fn from_checkpoint_metadata(meta: &serde_json::Value, bounds: Bounds) -> Result<Self, String> {
        if meta.get("kind").and_then(|k| k.as_str()) != Some(WEIGHTS_KIND) {
            return Err(format!("not a policy checkpoint (kind {:?})", meta.get("kind")));
        }
        let config = PolicyConfig::parse(&meta.get("policy_config").ok_or("metadata has no policy_config")?.to_string())?;
        let (low, high) = bounds()?;
        Self::new(
            config,
            &field::<String>(meta, &["export", "sampler"])?,
            field(meta, &["export", "ddim_steps"])?,
            field(meta, &["export", "action_names"])?,
            field(meta, &["export", "discrete_actions"])?,
            low, high,
        )
    }

    /// Nearest discrete action (squared distance), -1 when there are none.
    pub fn discrete_index(&self, values: &[f32]) -> i32 {
        let distance = |v: &Vec<f32>| v.iter().zip(values).map(|(a, b)| (a - b) * (a - b)).sum::<f32>();
        let mut best = (-1, f32::INFINITY);
        for (i, v) in self.discrete_actions.iter().enumerate() {
            let d = distance(v);
            if d < best.1 {
                best = (i as i32, d);
            }
        }
        best.0
    }

    pub fn describe(&self) -> String {
        let c = &self.config;
        let head = match self.sampler {
            Sampler::Categorical => "categorical".to_string(),
            Sampler::OnePass => "regression".to_string(),
            Sampler::Ddim(k) => format!("diffusion (ddim, {k} DDIM steps)"),
            Sampler::Ddpm => "diffusion (DDPM)".to_string(),
        };
        let text = if c.text_encoder == "minilm" { ", MiniLM text encoder" } else { "" };
        let ternary = if c.ternary { ", ternary layers" } else { "" };
        format!("{} layers x {}, image {} px, {head} head{text}{ternary}", c.n_layer, c.n_embd, c.image_size)
    }
}

/// DDIM's k timesteps (0-based, descending) evenly spaced over [0, steps), as
/// `policy/diffusion.py:ddim_timesteps` (Python's round: half to even).
pub fn ddim_timesteps(steps: usize, k: usize) -> Vec<usize> {
    let mut out: Vec<usize> = (0..k)
        .map(|i| {
            let x = i as f64 * (steps - 1) as f64 / (k.max(2) - 1) as f64;
            let r = x.round();
            (if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 { r - 1.0 } else { r }) as usize
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddim_timesteps_match_python() {
        // ddim_timesteps(100, 10), (8, 4), (8, 1), (5, 3) as diffusion.py returns them.
        assert_eq!(ddim_timesteps(100, 10), vec![99, 88, 77, 66, 55, 44, 33, 22, 11, 0]);
        assert_eq!(ddim_timesteps(8, 4), vec![7, 5, 2, 0]);
        assert_eq!(ddim_timesteps(8, 1), vec![0]);
        assert_eq!(ddim_timesteps(5, 3), vec![4, 2, 0]);
        // 1.5 and 4.5 round to even: 2 and 4.
        assert_eq!(ddim_timesteps(4, 3), vec![3, 2, 0]);
    }

    const CONFIG: &str = r#"{"n_layer": 1, "n_head": 2, "n_embd": 16, "causal": false, "film": true,
        "max_text_len": 8, "use_vision": true, "image_size": 16, "patch_size": 8, "vision_embd": 16,
        "vision_depth": 1, "use_robotics": true, "robotics_sensor_dim": 0, "robotics_surface_dim": 0,
        "robotics_action_dim": 2, "robotics_use_diffusion": false, "robotics_diffusion_steps": 8,
        "robotics_diffusion_prediction": "sample", "robotics_aux_regression": 1.0,
        "diffusion_hidden": 16"#;

    #[test]
    fn policy_v2_fields_default_when_absent_and_are_checked_when_present() {
        let old = PolicyConfig::parse(&format!("{CONFIG}}}")).unwrap();
        assert_eq!((old.head.as_str(), old.n_actions, old.ternary, old.text_encoder.as_str(), old.text_condition.as_str()), ("regression", 5, false, "bytes", "mean"));
        let v2 = PolicyConfig::parse(&format!(r#"{CONFIG}, "robotics_categorical": true, "ternary": true, "text_encoder": "minilm", "text_condition": "cross"}}"#)).unwrap();
        assert_eq!((v2.head.as_str(), v2.ternary, v2.text_encoder.as_str(), v2.text_condition.as_str()), ("categorical", true, "minilm", "cross"));
        let e = PolicyConfig::parse(&format!(r#"{CONFIG}, "text_condition": "sum"}}"#)).unwrap_err();
        assert_eq!(e, "unknown text condition 'sum'");
        let e = PolicyConfig::parse(&format!(r#"{CONFIG}, "text_encoder": "bert"}}"#)).unwrap_err();
        assert_eq!(e, "unknown text encoder 'bert'");
    }

    #[test]
    fn the_head_is_one_field_and_older_files_name_it_with_two_booleans() {
        let new = CONFIG.replace(r#""robotics_use_diffusion": false"#, r#""head": "diffusion", "n_actions": 7"#);
        let c = PolicyConfig::parse(&format!("{new}}}")).unwrap();
        assert_eq!((c.head.as_str(), c.n_actions), ("diffusion", 7));
        let old = CONFIG.replace("false, \"robotics_diffusion_steps", "true, \"robotics_diffusion_steps");
        assert_eq!(PolicyConfig::parse(&format!("{old}}}")).unwrap().head, "diffusion");
        let e = PolicyConfig::parse(&format!(r#"{old}, "robotics_categorical": true}}"#)).unwrap_err();
        assert_eq!(e, "the config names two action heads (categorical and diffusion)");
        let e = PolicyConfig::parse(&format!("{}}}", new.replace("\"diffusion\"", "\"flow\""))).unwrap_err();
        assert_eq!(e, "unknown action head 'flow'");
        let e = PolicyConfig::parse(&format!(r#"{new}, "robotics_categorical": true}}"#)).unwrap_err();
        assert!(e.contains("robotics_categorical"), "{e}");
    }

    #[test]
    fn unknown_config_keys_are_named() {
        let e = PolicyConfig::parse(r#"{"n_layer": 1, "wings": 2}"#).unwrap_err();
        assert!(e.contains("wings"), "{e}");
    }
}
