//! The MiniLM text encoder of a `text_encoder: minilm` export: the instruction's token states.
//!
//! The export's folder holds `text_encoder.onnx` (input_ids, attention_mask -> embedding,
//! tokens) and `tokenizer.json` beside the policy (`policy/text_encoder.py`). As the Python
//! `OnnxTextEncoder`: the `tokenizers` tokenizer (the same library, the Rust crate; special
//! tokens added, truncated and padded to max_text_len ids with [PAD] = 0), then the encoder
//! under ONNX Runtime, whose `tokens` output (max_text_len, 384) is zero past the text's end.
//! Both backends use it (the encoder exists only as ONNX). Instructions change rarely: the
//! states are computed once per new instruction (the last one's are kept).
//!
//! `shared` builds the encoder once while its files stay the same: every export of a MiniLM
//! policy has the same encoder beside it (90 MB, ~0.4 s of building its session, four times
//! the policy's own), and a learn stack's kernel hot-reloads an export every few seconds.
//! One slot, as the Python `shared_text_encoder`: a kernel serves one export folder.
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ort::session::Session;
use ort::value::Tensor;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::{file_version, onnx, FileVersion, Threads};

pub const ENCODER_FILE: &str = "text_encoder.onnx";
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// The encoders built in this process (the node reports it as `text_encoder_loads`).
pub static LOADS: AtomicU64 = AtomicU64::new(0);

/// What an encoder was built from: its folder, its two files' versions, length and threads.
type Source = (PathBuf, [FileVersion; 2], usize, Threads);

/// The last encoder built and what it was built from.
static SHARED: Mutex<Option<(Source, Arc<Mutex<TextEncoder>>)>> = Mutex::new(None);

/// The encoder of `folder` for `length` tokens: the one built before while its files, the
/// length and the threads are the same, a new one otherwise.
pub fn shared(folder: &Path, length: usize, threads: Threads) -> Result<Arc<Mutex<TextEncoder>>, String> {
    let folder = folder.canonicalize().unwrap_or_else(|_| folder.to_path_buf());
    let versions = [ENCODER_FILE, TOKENIZER_FILE].map(|name| file_version(&folder.join(name)));
    let source: Source = (folder, versions, length, threads);
    let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((built_from, encoder)) = slot.as_ref() {
        if *built_from == source {
            return Ok(encoder.clone());
        }
    }
    let encoder = Arc::new(Mutex::new(TextEncoder::load(&source.0, length, threads)?));
    LOADS.fetch_add(1, Ordering::Relaxed);
    *slot = Some((source, encoder.clone()));
    Ok(encoder)
}

pub struct TextEncoder {
    tokenizer: Tokenizer,
    session: Session,
    length: usize,
    last: Option<(String, Vec<f32>)>,
}

fn read(folder: &Path, name: &str) -> Result<Vec<u8>, String> {
    let path = folder.join(name);
    std::fs::read(&path).map_err(|e| format!("the MiniLM text encoder needs {} beside the model ({e})", path.display()))
}

/// `folder`'s tokenizer.json, truncating and padding to `length` ids.
pub fn load_tokenizer(folder: &Path, length: usize) -> Result<Tokenizer, String> {
    let mut tokenizer = Tokenizer::from_bytes(read(folder, TOKENIZER_FILE)?)
        .map_err(|e| format!("{TOKENIZER_FILE}: {e}"))?;
    tokenizer
        .with_truncation(Some(TruncationParams { max_length: length, ..Default::default() }))
        .map_err(|e| format!("{TOKENIZER_FILE}: {e}"))?;
    tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::Fixed(length), ..Default::default() }));
    Ok(tokenizer)
}

/// Token ids and attention mask of `text` (special tokens added), as the Python tokenizer gives.
pub fn tokenize(tokenizer: &Tokenizer, text: &str) -> Result<(Vec<i64>, Vec<i64>), String> {
    let encoding = tokenizer.encode(text, true).map_err(|e| format!("tokenizer: {e}"))?;
    let widen = |v: &[u32]| v.iter().map(|&x| x as i64).collect::<Vec<i64>>();
    Ok((widen(encoding.get_ids()), widen(encoding.get_attention_mask())))
}

impl TextEncoder {
    /// Load the encoder and tokenizer from `folder`, for `length` tokens.
    pub fn load(folder: &Path, length: usize, threads: Threads) -> Result<Self, String> {
        let tokenizer = load_tokenizer(folder, length)?;
        let session = onnx::session(&read(folder, ENCODER_FILE)?, threads).map_err(|e| format!("{ENCODER_FILE}: {e}"))?;
        Ok(Self { tokenizer, session, length, last: None })
    }

    /// The token states (length * 384 values, row-major) of `text`.
    pub fn encode(&mut self, text: &str) -> Result<&[f32], String> {
        if self.last.as_ref().map(|(t, _)| t.as_str()) != Some(text) {
            let (ids, mask) = tokenize(&self.tokenizer, text)?;
            let input = |v: Vec<i64>| {
                Tensor::from_array((vec![1, self.length as i64], v)).map_err(|e| format!("text encoder input: {e}"))
            };
            let outputs = self.session
                .run(ort::inputs!["input_ids" => input(ids)?, "attention_mask" => input(mask)?])
                .map_err(|e| format!("text encoder run failed: {e}"))?;
            let (_, states) = outputs["tokens"].try_extract_tensor::<f32>().map_err(|e| format!("text encoder output: {e}"))?;
            self.last = Some((text.to_string(), states.to_vec()));
        }
        Ok(&self.last.as_ref().expect("just set").1)
    }
}
