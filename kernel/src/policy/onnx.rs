//! ONNX Runtime backend: the export's .onnx (the sampler unrolled in the graph, noise an input)
//! run by the `ort` crate on the onnxruntime wheel's libonnxruntime.so, loaded at run time
//! (`ORT_DYLIB_PATH`; nothing is linked or downloaded at build time).
use std::borrow::Cow;
use std::sync::OnceLock;

use ort::session::builder::SessionBuilder;
use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;

use super::{Backend, Export, Inputs, Text, Threads};

pub struct OrtBackend {
    session: Session,
    input_names: Vec<String>,
    shapes: Shapes,
}

struct Shapes {
    image: usize,
    text: usize,
    sensors: usize,
    surface: usize,
    noise: Vec<usize>,
}

fn ort_error(error: ort::Error) -> String {
    format!("not a loadable ONNX model ({error})")
}

/// Load libonnxruntime.so once per process from ORT_DYLIB_PATH (run.sh points it at the
/// onnxruntime wheel's library).
fn runtime() -> Result<(), String> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED.get_or_init(|| {
        let path = std::env::var("ORT_DYLIB_PATH").map_err(|_| {
            "ORT_DYLIB_PATH is not set: point it at libonnxruntime.so (the onnxruntime wheel's capi/ folder)".to_string()
        })?;
        let builder = ort::init_from(&path).map_err(|e| format!("cannot load ONNX Runtime from {path}: {e}"))?;
        builder.with_name("nanobot_kernel").commit();
        Ok(())
    }).clone()
}

/// An ONNX Runtime session from a file's bytes with the kernel's thread settings.
pub(super) fn session(bytes: &[u8], threads: Threads) -> Result<Session, String> {
    runtime()?;
    let options = |e: ort::Error<SessionBuilder>| format!("ONNX Runtime session options: {e}");
    Session::builder()
        .map_err(|e| format!("ONNX Runtime session options: {e}"))?
        .with_intra_threads(threads.intra_op).map_err(options)?
        .with_inter_threads(threads.inter_op).map_err(options)?
        .with_parallel_execution(false).map_err(options)?
        .with_intra_op_spinning(threads.spinning).map_err(options)?
        .with_inter_op_spinning(threads.spinning).map_err(options)?
        .commit_from_memory(bytes)
        .map_err(ort_error)
}

impl OrtBackend {
    /// Build a session from the file's bytes and read its metadata. A quantized export (int8
    /// dynamic quantization, ternary int8 weights) is an ordinary graph to ONNX Runtime.
    pub fn load(bytes: &[u8], threads: Threads) -> Result<(Export, Self), String> {
        let session = session(bytes, threads)?;
        let export = {
            let metadata = session.metadata().map_err(ort_error)?;
            Export::from_onnx_metadata(|key| metadata.custom(key))?
        };
        let input_names = session.inputs().iter().map(|i| i.name().to_string()).collect();
        let c = &export.config;
        let shapes = Shapes {
            image: c.image_size,
            text: c.max_text_len,
            sensors: c.robotics_sensor_dim,
            surface: c.robotics_surface_dim,
            noise: export.noise_shape.clone(),
        };
        Ok((export, Self { session, input_names, shapes }))
    }
}

fn tensor<T: ort::value::PrimitiveTensorElementType + std::fmt::Debug + Clone + 'static>(
    shape: &[usize], data: &[T],
) -> Result<SessionInputValue<'static>, String> {
    let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    Tensor::from_array((shape, data.to_vec()))
        .map(|t| t.into_dyn().into())
        .map_err(|e| format!("input tensor: {e}"))
}

impl Backend for OrtBackend {
    fn takes_noise(&self) -> bool {
        self.input_names.iter().any(|name| name == "noise")
    }

    fn actions(&mut self, inputs: &Inputs) -> Result<Vec<f32>, String> {
        let s = &self.shapes;
        let mut feed: Vec<(Cow<str>, SessionInputValue)> = Vec::with_capacity(self.input_names.len());
        for name in &self.input_names {
            let value = match name.as_str() {
                "images" => tensor(&[1, 3, s.image, s.image], &inputs.images)?,
                "text" => match &inputs.text {
                    Text::Bytes(ids) => tensor(&[1, s.text], ids)?,
                    Text::States(states) => tensor(&[1, s.text, states.len() / s.text], states)?,
                },
                "sensors" => tensor(&[1, s.sensors], &inputs.sensors)?,
                "surface" => tensor(&[1, s.surface], &inputs.surface)?,
                "noise" => tensor(&s.noise, &inputs.noise)?,
                other => return Err(format!("the graph wants an input '{other}' this kernel does not know")),
            };
            feed.push((Cow::Owned(name.clone()), value));
        }
        let outputs = self.session.run(feed).map_err(|e| format!("ONNX Runtime run failed: {e}"))?;
        let (_, values) = outputs[0].try_extract_tensor::<f32>().map_err(|e| format!("output: {e}"))?;
        Ok(values.to_vec())
    }
}
