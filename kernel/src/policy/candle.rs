//! Pure-Rust backend: the export's .safetensors (or its .gguf) run by Candle on the CPU.
//!
//! The topology comes from the file's metadata (the PolicyConfig the checkpoint was trained
//! with; `config.rs` parses it); nothing about the model is fixed here. The forward pass is
//! `policy/modeling.py`'s, op for op: ViT patch tokens (the Conv2d patch embedding as a matrix
//! product over patches, fixed 2-D sin-cos positions, pre-norm blocks with exact-erf GELU),
//! FiLM by the mean text token (byte embeddings, or the projected MiniLM token states),
//! sensor / surface tokens from standardized vectors, the transformer over
//! [sensor][surface][vision][text][ACT] (bidirectional, or causal when the config says so),
//! LayerNorm, then the regression head, the categorical head (argmax of the logits over the
//! discrete actions, the first on a tie, as torch.argmax) or the diffusion head's MLP denoiser
//! (SiLU) driven by DDIM-k or DDPM exactly as `policy/diffusion.py` (x0 clipped to +-3).
//! The sampler's scalar arithmetic is done in f32 in the same order as PyTorch.
//!
//! Ternary exports (`ternary`, BitNet b1.58, `policy/bitnet.py`): the transformer blocks'
//! linear layers use round(W / s) clipped to {-1, 0, 1} times s = mean |W| (from the
//! full-precision QAT weights the .safetensors keeps), and their inputs are rounded to 8-bit
//! absmax per token (half to even, as torch.round) and added back as x + (q - x), the
//! arithmetic of the exported graph.
//!
//! GGUF (`policy/quantize.py`): the same tensors under their PyTorch names (F32, or F16 2-D
//! weights, widened to f32 here), the config and the export's settings as string keys.
use std::collections::HashMap;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor, D};
use candle_nn::{LayerNorm, Linear, Module};

use super::config::{ddim_timesteps, Sampler, CHECKPOINT_FORMAT, VISION_HEADS};
use super::{Backend, Export, Inputs, PolicyConfig, Text};

type Result<T> = std::result::Result<T, String>;

fn err(e: candle_core::Error) -> String {
    format!("candle: {e}")
}

/// Clipping of the predicted clean action (`diffusion.CLIP_X0`).
const CLIP_X0: f32 = 3.0;
/// Width of the diffusion timestep embedding (`DiffusionHead.time_dim`).
const TIME_DIM: usize = 32;
const LAYER_NORM_EPS: f64 = 1e-5;

/// The file's tensors by their PyTorch names; `prefix` is how the file spells them
/// ("model." in a checkpoint safetensors, nothing in a GGUF).
struct Weights {
    tensors: HashMap<String, Tensor>,
    prefix: &'static str,
}

impl Weights {
    fn get(&self, name: &str) -> Result<Tensor> {
        let full = format!("{}{name}", self.prefix);
        self.tensors.get(&full).cloned().ok_or(format!("the file has no tensor {full}"))
    }
    fn vec(&self, name: &str) -> Result<Vec<f32>> {
        self.get(name)?.flatten_all().and_then(|t| t.to_vec1()).map_err(err)
    }
    fn bounds(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        Ok((self.vec("action_norm.low")?, self.vec("action_norm.high")?))
    }
    fn linear(&self, name: &str) -> Result<Linear> {
        Ok(Linear::new(self.get(&format!("{name}.weight"))?, Some(self.get(&format!("{name}.bias"))?)))
    }
    fn dense(&self, name: &str, ternary: bool) -> Result<Dense> {
        let linear = self.linear(name)?;
        if !ternary {
            return Ok(Dense::Full(linear));
        }
        let weight = ternary_weight(linear.weight()).map_err(err)?;
        Ok(Dense::Ternary(Linear::new(weight, linear.bias().cloned())))
    }
    fn norm(&self, name: &str) -> Result<LayerNorm> {
        Ok(LayerNorm::new(self.get(&format!("{name}.weight"))?, self.get(&format!("{name}.bias"))?, LAYER_NORM_EPS))
    }
}

/// round(W / s) in {-1, 0, 1} times s = mean |W| (clamped at 1e-5), as `bitnet.ternary_weight`
/// (the mean summed in f64, so it is PyTorch's f32 mean to the last bit or next to it).
fn ternary_weight(weight: &Tensor) -> candle_core::Result<Tensor> {
    let values = weight.flatten_all()?.to_vec1::<f32>()?;
    let mean = values.iter().map(|v| v.abs() as f64).sum::<f64>() / values.len() as f64;
    let scale = (mean as f32).max(1e-5);
    let ternary: Vec<f32> = values.iter().map(|v| (v / scale).round_ties_even().clamp(-1.0, 1.0) * scale).collect();
    Tensor::from_vec(ternary, weight.shape(), weight.device())
}

/// x rounded to 8-bit absmax per row, `bitnet.quantize_activations`, added as x + (q - x).
fn quantize_activations(x: &Tensor) -> candle_core::Result<Tensor> {
    let (rows, cols) = x.dims2()?;
    let mut values = x.to_vec2::<f32>()?.concat();
    for row in values.chunks_mut(cols) {
        let scale = 127.0 / row.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-5);
        for v in row.iter_mut() {
            let q = (*v * scale).round_ties_even().clamp(-128.0, 127.0) / scale;
            *v += q - *v;
        }
    }
    Tensor::from_vec(values, (rows, cols), x.device())
}

/// A block's linear layer: full precision, or BitLinear with its weight already ternary.
enum Dense {
    Full(Linear),
    Ternary(Linear),
}

impl Module for Dense {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::Full(linear) => linear.forward(x),
            Self::Ternary(linear) => linear.forward(&quantize_activations(x)?),
        }
    }
}

/// Pre-norm transformer block of `models/vit.py` (Attention + GELU MLP).
struct Block {
    norm1: LayerNorm,
    qkv: Dense,
    proj: Dense,
    norm2: LayerNorm,
    fc1: Dense,
    fc2: Dense,
    heads: usize,
}

impl Block {
    /// `ternary`: the four linear layers are BitLinear (`bitnet.TERNARY_TARGETS`).
    fn load(w: &Weights, name: &str, heads: usize, ternary: bool) -> Result<Self> {
        Ok(Self {
            norm1: w.norm(&format!("{name}.norm1"))?,
            qkv: w.dense(&format!("{name}.attn.qkv"), ternary)?,
            proj: w.dense(&format!("{name}.attn.proj"), ternary)?,
            norm2: w.norm(&format!("{name}.norm2"))?,
            fc1: w.dense(&format!("{name}.mlp.0"), ternary)?,
            fc2: w.dense(&format!("{name}.mlp.3"), ternary)?,
            heads,
        })
    }

    /// x (L, d) -> (L, d); `mask` (L, L) additive (0 or -inf) or None.
    fn forward(&self, x: &Tensor, mask: Option<&Tensor>) -> candle_core::Result<Tensor> {
        let (l, d) = x.dims2()?;
        let hd = d / self.heads;
        let qkv = self.qkv.forward(&self.norm1.forward(x)?)?
            .reshape((l, 3, self.heads, hd))?
            .permute((1, 2, 0, 3))?
            .contiguous()?;
        let (q, k, v) = (qkv.get(0)?, qkv.get(1)?, qkv.get(2)?);
        let mut scores = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?;
        if let Some(mask) = mask {
            scores = scores.broadcast_add(mask)?;
        }
        let attended = candle_nn::ops::softmax_last_dim(&scores)?.matmul(&v)?
            .transpose(0, 1)?
            .reshape((l, d))?;
        let x = (x + self.proj.forward(&attended)?)?;
        let hidden = self.fc1.forward(&self.norm2.forward(&x)?)?.gelu_erf()?;
        x + self.fc2.forward(&hidden)?
    }
}

/// Fixed 2-D sin-cos positions (grid * grid, dim) as `vit.sincos_pos_embed_2d`, in f64.
fn sincos_2d(dim: usize, grid: usize) -> Vec<f32> {
    let half = dim / 2;
    let one_d = |pos: usize| -> Vec<f64> {
        let n = half / 2;
        let omega = (0..n).map(|i| 1.0 / 10000f64.powf(i as f64 / (half as f64 / 2.0)));
        let angles: Vec<f64> = omega.map(|o| pos as f64 * o).collect();
        angles.iter().map(|a| a.sin()).chain(angles.iter().map(|a| a.cos())).collect()
    };
    let mut out = Vec::with_capacity(grid * grid * dim);
    for row in 0..grid {
        for col in 0..grid {
            out.extend(one_d(row).into_iter().chain(one_d(col)).map(|v| v as f32));
        }
    }
    out
}

struct Vision {
    patch_weight: Tensor, // (c * p * p, vision_embd)
    patch_bias: Tensor,
    pos: Tensor,
    blocks: Vec<Block>,
    norm: LayerNorm,
    proj: Linear,
    film: Option<Linear>,
    patch: usize,
    size: usize,
}

impl Vision {
    fn load(w: &Weights, c: &PolicyConfig, dev: &Device) -> Result<Self> {
        let (p, vd) = (c.patch_size, c.vision_embd);
        let grid = c.image_size / p;
        let weight = w.get("vision.patch_embed.weight")?;
        Ok(Self {
            patch_weight: weight.reshape((vd, 3 * p * p)).and_then(|t| t.t()?.contiguous()).map_err(err)?,
            patch_bias: w.get("vision.patch_embed.bias")?,
            pos: Tensor::from_vec(sincos_2d(vd, grid), (grid * grid, vd), dev).map_err(err)?,
            blocks: (0..c.vision_depth).map(|i| Block::load(w, &format!("vision.blocks.{i}"), VISION_HEADS, c.ternary)).collect::<Result<_>>()?,
            norm: w.norm("vision.norm")?,
            proj: w.linear("vision_proj")?,
            film: if c.film { Some(w.linear("film")?) } else { None },
            patch: p,
            size: c.image_size,
        })
    }

    /// Image (3, S, S) -> vision tokens (N, n_embd), FiLM-ed by the mean text token.
    fn forward(&self, image: &[f32], text: &Tensor, dev: &Device) -> candle_core::Result<Tensor> {
        let (p, s) = (self.patch, self.size);
        let grid = s / p;
        // Patches in row-major order, each flattened (channel, row, column) like the
        // Conv2d weight, so that conv(stride = kernel = p) is one matrix product.
        let mut patches = Vec::with_capacity(3 * s * s);
        for gy in 0..grid {
            for gx in 0..grid {
                for c in 0..3 {
                    for ky in 0..p {
                        let start = c * s * s + (gy * p + ky) * s + gx * p;
                        patches.extend_from_slice(&image[start..start + p]);
                    }
                }
            }
        }
        let patches = Tensor::from_vec(patches, (grid * grid, 3 * p * p), dev)?;
        let mut x = (patches.matmul(&self.patch_weight)?.broadcast_add(&self.patch_bias)? + &self.pos)?;
        for block in &self.blocks {
            x = block.forward(&x, None)?;
        }
        let mut x = self.proj.forward(&self.norm.forward(&x)?)?;
        if let Some(film) = &self.film {
            let d = x.dim(1)?;
            let ss = film.forward(&text.mean_keepdim(0)?)?;
            let (scale, shift) = (ss.narrow(1, 0, d)?, ss.narrow(1, d, d)?);
            x = x.broadcast_mul(&(scale + 1.0)?)?.broadcast_add(&shift)?;
        }
        Ok(x)
    }
}

/// Standardization + projection of a sensor or surface vector into one token.
struct VectorToken {
    mean: Vec<f32>,
    std: Vec<f32>,
    proj: Linear,
}

impl VectorToken {
    fn load(w: &Weights, name: &str) -> Result<Self> {
        Ok(Self { mean: w.vec(&format!("{name}_norm.mean"))?, std: w.vec(&format!("{name}_norm.std"))?, proj: w.linear(&format!("{name}_proj"))? })
    }
    fn forward(&self, values: &[f32], dev: &Device) -> candle_core::Result<Tensor> {
        let v: Vec<f32> = values.iter().zip(&self.mean).zip(&self.std).map(|((x, m), s)| (x - m) / s).collect();
        self.proj.forward(&Tensor::from_vec(v, (1, values.len()), dev)?)
    }
}

enum Head {
    Regression(Linear, Linear),
    /// Logits over the discrete actions -> the vector of the most likely one.
    Categorical(Linear, Linear, Vec<Vec<f32>>),
    Diffusion { net: [Linear; 4], alpha_bars: Vec<f32>, epsilon: bool },
}

pub struct CandleBackend {
    dev: Device,
    vision: Option<Vision>,
    sensor: Option<VectorToken>,
    surface: Option<VectorToken>,
    text: TextTokens,
    act_token: Tensor,
    pos: Tensor,
    blocks: Vec<Block>,
    norm: LayerNorm,
    mask: Option<Tensor>,
    head: Head,
    sampler: Sampler,
    low: Vec<f32>,
    high: Vec<f32>,
}

/// How the text becomes tokens: byte embeddings, or a projection of MiniLM token states.
enum TextTokens {
    Bytes(Tensor),
    MiniLm(Linear),
}

/// Read the checkpoint JSON from the safetensors header's `__metadata__`.
fn checkpoint_metadata(bytes: &[u8]) -> Result<serde_json::Value> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| format!("not a safetensors file ({e})"))?;
    let header = meta.metadata().clone().unwrap_or_default();
    if header.get("format").map(String::as_str) != Some(CHECKPOINT_FORMAT) {
        return Err(format!("not a nanobot_ros checkpoint (format {:?})", header.get("format")));
    }
    let text = header.get("metadata").ok_or("the header has no metadata")?;
    serde_json::from_str(text).map_err(|e| format!("metadata is malformed: {e}"))
}

/// Make the calling thread rayon's only worker, once per process, when one thread is asked
/// for (RAYON_NUM_THREADS=1): Candle's layer norm and softmax split rows with rayon, and a pool
/// thread would cost a hand-off and a futex wake per call; this way they run inline. Called by
/// the first forward, so the worker is the thread that serves: the node loads models on a
/// thread that ends, and a pool whose only worker has ended never runs a job again.
fn run_rayon_inline() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if candle_core::utils::get_num_threads() == 1 {
            let _ = rayon::ThreadPoolBuilder::new().num_threads(1).use_current_thread().build_global();
        }
    });
}

impl CandleBackend {
    /// From a policy checkpoint .safetensors (the export's sidecar).
    pub fn load(bytes: &[u8]) -> Result<(Export, Self)> {
        let meta = checkpoint_metadata(bytes)?;
        let w = Weights { tensors: candle_core::safetensors::load_buffer(bytes, &Device::Cpu).map_err(err)?, prefix: "model." };
        let export = Export::from_checkpoint_metadata(&meta, &|| w.bounds())?;
        Self::build(w, export)
    }

    /// From a policy .gguf (`policy/quantize.py:export_gguf`); the metadata is checked before
    /// any tensor but the bounds is read.
    pub fn load_gguf(bytes: &[u8]) -> Result<(Export, Self)> {
        let reader = std::cell::RefCell::new(std::io::Cursor::new(bytes));
        let content = gguf_file::Content::read(&mut *reader.borrow_mut()).map_err(|e| format!("not a GGUF file ({e})"))?;
        let read = |name: &str| -> Result<Tensor> {
            if !content.tensor_infos.contains_key(name) {
                return Err(format!("the file has no tensor {name}"));
            }
            content.tensor(&mut *reader.borrow_mut(), name, &Device::Cpu)
                .and_then(|q| q.dequantize(&Device::Cpu))
                .map_err(|e| format!("tensor {name}: {e}"))
        };
        let bounds = || {
            let values = |name: &str| read(name)?.to_vec1::<f32>().map_err(err);
            Ok((values("action_norm.low")?, values("action_norm.high")?))
        };
        let text = |key: &str| content.metadata.get(key).and_then(|v| v.to_string().ok()).cloned();
        let export = Export::from_gguf_metadata(text, &bounds)?;
        let tensors = content.tensor_infos.keys().map(|name| Ok((name.clone(), read(name)?))).collect::<Result<_>>()?;
        Self::build(Weights { tensors, prefix: "" }, export)
    }

    fn build(w: Weights, export: Export) -> Result<(Export, Self)> {
        let dev = Device::Cpu;
        let c = &export.config;
        if c.text_condition != "mean" {
            return Err(format!("text_condition '{}' is not served by the Candle backend yet (serve the .onnx with backend ort)", c.text_condition));
        }
        let l = c.sequence_length();
        let head = if c.head == "diffusion" {
            let alpha_bars = w.vec("head.alpha_bars")?;
            if alpha_bars.len() != c.robotics_diffusion_steps {
                return Err(format!("head.alpha_bars has {} steps, config {}", alpha_bars.len(), c.robotics_diffusion_steps));
            }
            Head::Diffusion {
                net: [w.linear("head.net.0")?, w.linear("head.net.2")?, w.linear("head.net.4")?, w.linear("head.net.6")?],
                alpha_bars,
                epsilon: c.robotics_diffusion_prediction == "epsilon",
            }
        } else if c.head == "categorical" {
            let vectors = w.get("action_vectors")?.to_vec2::<f32>().map_err(err)?;
            if vectors.len() != c.n_actions || vectors.iter().any(|v| v.len() != c.robotics_action_dim) {
                return Err(format!("action_vectors must be {} vectors (n_actions) of {} values", c.n_actions, c.robotics_action_dim));
            }
            Head::Categorical(w.linear("head.0")?, w.linear("head.2")?, vectors)
        } else {
            Head::Regression(w.linear("head.0")?, w.linear("head.2")?)
        };
        let mask = if c.causal {
            let m: Vec<f32> = (0..l * l).map(|i| if i % l <= i / l { 0.0 } else { f32::NEG_INFINITY }).collect();
            Some(Tensor::from_vec(m, (l, l), &dev).map_err(err)?)
        } else {
            None
        };
        let backend = Self {
            vision: if c.use_vision { Some(Vision::load(&w, c, &dev)?) } else { None },
            sensor: if c.robotics_sensor_dim > 0 { Some(VectorToken::load(&w, "sensor")?) } else { None },
            surface: if c.robotics_surface_dim > 0 { Some(VectorToken::load(&w, "surface")?) } else { None },
            text: if c.text_encoder == "minilm" { TextTokens::MiniLm(w.linear("text_proj")?) } else { TextTokens::Bytes(w.get("text_embed.weight")?) },
            act_token: w.get("act_token")?.reshape((1, c.n_embd)).map_err(err)?,
            pos: w.get("pos_embed")?.reshape((l, c.n_embd)).map_err(err)?,
            blocks: (0..c.n_layer).map(|i| Block::load(&w, &format!("blocks.{i}"), c.n_head, c.ternary)).collect::<Result<_>>()?,
            norm: w.norm("norm")?,
            mask,
            head,
            sampler: export.sampler.clone(),
            low: export.action_low.clone(),
            high: export.action_high.clone(),
            dev,
        };
        Ok((export, backend))
    }

    /// The trunk: hidden state (1, n_embd) at the ACT token (`Policy.condition`).
    fn condition(&self, inputs: &Inputs) -> candle_core::Result<Tensor> {
        let text = match (&self.text, &inputs.text) {
            (TextTokens::Bytes(embed), Text::Bytes(ids)) => {
                let ids: Vec<u32> = ids.iter().map(|&t| t as u32).collect();
                let n = ids.len();
                embed.index_select(&Tensor::from_vec(ids, n, &self.dev)?, 0)?
            }
            (TextTokens::MiniLm(proj), Text::States(states)) => {
                let dim = proj.weight().dim(1)?;
                proj.forward(&Tensor::from_slice(states, (states.len() / dim, dim), &self.dev)?)?
            }
            _ => candle_core::bail!("the text input is not what the model's text encoder gives"),
        };
        let mut tokens = Vec::new();
        if let Some(s) = &self.sensor {
            tokens.push(s.forward(&inputs.sensors, &self.dev)?);
        }
        if let Some(s) = &self.surface {
            tokens.push(s.forward(&inputs.surface, &self.dev)?);
        }
        if let Some(v) = &self.vision {
            tokens.push(v.forward(&inputs.images, &text, &self.dev)?);
        }
        tokens.push(text);
        tokens.push(self.act_token.clone());
        let mut x = (Tensor::cat(&tokens, 0)? + &self.pos)?;
        for block in &self.blocks {
            x = block.forward(&x, self.mask.as_ref())?;
        }
        let last = x.dim(0)? - 1;
        self.norm.forward(&x.narrow(0, last, 1)?)
    }

    /// Denoiser output for x (A values) at timestep t.
    fn denoise(&self, net: &[Linear; 4], x: &[f32], t: usize, cond: &Tensor) -> candle_core::Result<Vec<f32>> {
        let half = TIME_DIM / 2;
        let mut emb = vec![0f32; TIME_DIM];
        for i in 0..half {
            let freq = (-(10000f32.ln()) * i as f32 / half as f32).exp();
            let angle = t as f32 * freq;
            emb[i] = angle.sin();
            emb[half + i] = angle.cos();
        }
        let input = Tensor::cat(&[
            Tensor::from_slice(x, (1, x.len()), &self.dev)?,
            cond.clone(),
            Tensor::from_vec(emb, (1, TIME_DIM), &self.dev)?,
        ], D::Minus1)?;
        let h = net[0].forward(&input)?.silu()?;
        let h = net[1].forward(&h)?.silu()?;
        let h = net[2].forward(&h)?.silu()?;
        net[3].forward(&h)?.flatten_all()?.to_vec1()
    }

    /// Actions in [-1, 1] (unit), or for the categorical head the chosen vector (robot units).
    fn head_actions(&self, inputs: &Inputs) -> candle_core::Result<Vec<f32>> {
        let cond = self.condition(inputs)?;
        let (net, ab, epsilon) = match &self.head {
            Head::Regression(fc1, fc2) => {
                return fc2.forward(&fc1.forward(&cond)?.gelu_erf()?)?.flatten_all()?.to_vec1();
            }
            Head::Categorical(fc1, fc2, vectors) => {
                let mut logits: Vec<f32> = fc2.forward(&fc1.forward(&cond)?.gelu_erf()?)?.flatten_all()?.to_vec1()?;
                for (logit, noise) in logits.iter_mut().zip(&inputs.noise) {
                    *logit += noise;
                }
                let best = logits.iter().enumerate().fold(0, |best, (i, v)| if *v > logits[best] { i } else { best });
                return Ok(vectors[best].clone());
            }
            Head::Diffusion { net, alpha_bars, epsilon } => (net, alpha_bars, *epsilon),
        };
        let a = self.low.len();
        let predict_x0 = |x: &[f32], t: usize| -> candle_core::Result<Vec<f32>> {
            let out = self.denoise(net, x, t, &cond)?;
            Ok(x.iter().zip(out).map(|(&xi, o)| {
                let x0 = if epsilon { (xi - (1.0 - ab[t]).sqrt() * o) / ab[t].sqrt() } else { o };
                x0.clamp(-CLIP_X0, CLIP_X0)
            }).collect())
        };
        match self.sampler {
            Sampler::Ddim(k) => {
                let mut x = inputs.noise[..a].to_vec();
                let steps = ddim_timesteps(ab.len(), k);
                for (i, &t) in steps.iter().enumerate() {
                    let x0 = predict_x0(&x, t)?;
                    let Some(&next) = steps.get(i + 1) else { return Ok(x0) };
                    let (abt, prev) = (ab[t], ab[next]);
                    x = x.iter().zip(&x0).map(|(&xi, &x0i)| {
                        let eps = (xi - abt.sqrt() * x0i) / (1.0 - abt).sqrt();
                        prev.sqrt() * x0i + (1.0 - prev).sqrt() * eps
                    }).collect();
                }
                Ok(x)
            }
            Sampler::Ddpm => {
                let mut x = inputs.noise[..a].to_vec();
                for t in (0..ab.len()).rev() {
                    let x0 = predict_x0(&x, t)?;
                    if t == 0 {
                        return Ok(x0);
                    }
                    let (abt, prev) = (ab[t], ab[t - 1]);
                    let beta = 1.0 - abt / prev;
                    let (c0, ct) = (prev.sqrt() * beta / (1.0 - abt), (1.0 - beta).sqrt() * (1.0 - prev) / (1.0 - abt));
                    let sd = (beta * (1.0 - prev) / (1.0 - abt)).sqrt();
                    let z = &inputs.noise[t * a..(t + 1) * a];
                    x = (0..a).map(|j| (c0 * x0[j] + ct * x[j]) + sd * z[j]).collect();
                }
                Ok(x)
            }
            Sampler::OnePass | Sampler::Categorical => unreachable!("a diffusion head has a sampler"),
        }
    }
}

impl Backend for CandleBackend {
    fn takes_noise(&self) -> bool {
        true
    }

    fn actions(&mut self, inputs: &Inputs) -> Result<Vec<f32>> {
        run_rayon_inline();
        let unit = self.head_actions(inputs).map_err(err)?;
        if matches!(self.head, Head::Categorical(..)) {
            return Ok(unit);
        }
        // Normalizer.from_unit: [-1, 1] -> the training bounds.
        Ok(unit.iter().zip(&self.low).zip(&self.high).map(|((u, lo), hi)| (u.clamp(-1.0, 1.0) + 1.0) / 2.0 * (hi - lo) + lo).collect())
    }
}
