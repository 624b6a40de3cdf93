//! The kernel's contract without ROS: observation in, action out, and when to stop instead.
//!
//! Mirrors `nanobot_ros/nodes/action_server.py` (topics and QoS live in node.rs). Each frame
//! is answered at once with the model's action. Whenever an answer cannot be trusted the safe
//! action is returned instead (index `safe_index`, all values 0) with source
//! '<node>:safe:<reason kind>', and the reason is logged (a new reason at once, a repeated one
//! at most every 2 s; reasons differing only in their numbers repeat): no model loaded, a model
//! file that does not load, an image that does not decode, a frame older than `stale_after`,
//! no instruction yet, telemetry / surface missing, stale, non-finite or of the wrong length,
//! a model output that is not finite. `watchdog` returns the safe action once when no frame
//! arrived for `control_period`.
//!
//! Hot reload: `check_model_file` looks at the file (size, mtime, inode); when it changed the
//! new file is loaded into a new backend on a thread of its own, and `take_loaded` swaps it in
//! only when that worked, so a broken export never replaces a working model, and frames keep
//! being answered by the old model while the new one loads (a room export with its MiniLM text
//! encoder takes about half a second: long enough for frames to go stale in the learn stack,
//! where the trainer exports every few seconds). Exporters write a temp file and rename it.
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{channel, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use crate::image::{to_rgb, Frame};
use crate::policy::{file_version, BackendKind, FileVersion, Observation, Policy, Threads};

#[derive(Clone, Debug)]
pub struct Settings {
    pub name: String,
    pub model_path: String,
    pub backend: BackendKind,
    pub threads: Threads,
    pub stale_after: f64,
    pub control_period: f64,
    pub reload_period: f64,
    pub safe_index: i32,
    pub seed: u64,
    pub temperature: f64,
}

impl Settings {
    pub fn validate(&self) -> Result<(), String> {
        for (label, value) in [("stale_after", self.stale_after), ("control_period", self.control_period), ("reload_period", self.reload_period)] {
            if !(value > 0.0) {
                return Err(format!("{label} must be > 0, got {value}"));
            }
        }
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(format!("temperature must be >= 0 and finite, got {}", self.temperature));
        }
        if self.threads.intra_op < 1 || self.threads.inter_op < 1 {
            return Err(format!("thread counts must be >= 1, got intra {}, inter {}", self.threads.intra_op, self.threads.inter_op));
        }
        Ok(())
    }
}

/// An action to publish: what the node puts into nanobot_msgs/Action.
#[derive(Debug)]
pub struct Answer {
    pub index: i32,
    pub names: Vec<String>,
    pub values: Vec<f32>,
    pub source: String,
}

#[derive(Debug, PartialEq)]
pub enum Log {
    Info(String),
    Warn(String),
    Error(String),
}

/// Diagnostic level as diagnostic_msgs/DiagnosticStatus has it.
pub const OK: u8 = 0;
pub const WARN: u8 = 1;
pub const ERROR: u8 = 2;

pub struct Server {
    pub settings: Settings,
    policy: Option<Policy>,
    model_error: String,
    file_key: Option<FileVersion>,
    /// The file being loaded and the loading thread's answer, while one runs.
    loading: Option<(String, Receiver<Result<Policy, String>>)>,
    instruction: Option<String>,
    telemetry: Option<(Instant, Vec<f32>)>,
    surface: Option<(Instant, Vec<f32>)>,
    answered: u64,
    safe_actions: BTreeMap<String, u64>,
    reloads: u64,
    reload_failures: u64,
    latency_ms: f64,
    last_frame: Instant,
    watchdog_sent: bool,
    last_reason: Option<(String, Instant)>,
    /// What to log, drained by the node.
    pub logs: Vec<Log>,
}

/// A reason with its numbers replaced by '#', so "3.1 s old" and "3.2 s old" are one reason.
fn reason_key(reason: &str) -> String {
    let mut key = String::with_capacity(reason.len());
    let mut chars = reason.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            while chars.peek().is_some_and(|c| c.is_ascii_digit() || *c == '.') {
                chars.next();
            }
            key.push('#');
        } else {
            key.push(c);
        }
    }
    key
}

impl Server {
    pub fn new(settings: Settings, now: Instant) -> Self {
        let model_error = if settings.model_path.is_empty() { "no model_path set" } else { "not loaded yet" };
        Self {
            settings,
            policy: None,
            model_error: model_error.into(),
            file_key: None,
            loading: None,
            instruction: None,
            telemetry: None,
            surface: None,
            answered: 0,
            safe_actions: BTreeMap::new(),
            reloads: 0,
            reload_failures: 0,
            latency_ms: 0.0,
            last_frame: now,
            watchdog_sent: false,
            last_reason: None,
            logs: Vec::new(),
        }
    }

    /// The file the backend reads (the .onnx or the .safetensors of the export).
    pub fn model_file(&self) -> String {
        self.settings.backend.model_file(&self.settings.model_path)
    }

    /// Start loading the model file on a thread when it changed (one load at a time).
    pub fn check_model_file(&mut self) {
        self.take_loaded(false);
        if self.settings.model_path.is_empty() || self.loading.is_some() {
            return;
        }
        let path = self.model_file();
        let key = file_version(std::path::Path::new(&path));
        if self.file_key == Some(key) {
            return;
        }
        self.file_key = Some(key);
        if key.is_none() {
            if self.policy.is_none() {
                self.model_error = format!("model file {path} does not exist");
                self.logs.push(Log::Warn(format!("{}; publishing stop until it does", self.model_error)));
            }
            return;
        }
        let (sender, receiver) = channel();
        let (s, file) = (self.settings.clone(), path.clone());
        std::thread::spawn(move || sender.send(Policy::load(s.backend, &file, s.threads, s.seed, s.temperature)));
        self.loading = Some((path, receiver));
    }

    /// Swap in the model the loading thread finished, waiting for it when `wait`; return
    /// whether a load ended (loaded or failed).
    pub fn take_loaded(&mut self, wait: bool) -> bool {
        let Some((path, receiver)) = &self.loading else { return false };
        let result = match if wait { receiver.recv().map_err(|_| TryRecvError::Disconnected) } else { receiver.try_recv() } {
            Ok(result) => result,
            Err(TryRecvError::Empty) => return false,
            Err(TryRecvError::Disconnected) => Err("the loading thread ended without an answer".into()),
        };
        let path = path.clone();
        self.loading = None;
        match result {
            Ok(policy) => {
                let replaced = self.policy.is_some();
                self.reloads += replaced as u64;
                self.logs.push(Log::Info(format!("{} {}", if replaced { "reloaded" } else { "loaded" }, policy.description)));
                self.policy = Some(policy);
                self.model_error.clear();
            }
            Err(error) => {
                self.reload_failures += 1;
                self.model_error = format!("model {path} did not load: {error}");
                let kept = if self.policy.is_some() { "; keeping the previous model" } else { "" };
                self.logs.push(Log::Error(format!("{}{kept}", self.model_error)));
            }
        }
        true
    }

    pub fn on_instruction(&mut self, text: String) {
        self.instruction = Some(text);
    }

    pub fn on_telemetry(&mut self, values: Vec<f32>, now: Instant) {
        self.telemetry = Some((now, values));
    }

    pub fn on_surface(&mut self, values: Vec<f32>, now: Instant) {
        self.surface = Some((now, values));
    }

    fn vector<'a>(&self, latest: &'a Option<(Instant, Vec<f32>)>, label: &str, dim: usize, now: Instant) -> Result<&'a [f32], String> {
        if dim == 0 {
            return Ok(&[]);
        }
        let (at, values) = latest.as_ref().ok_or(format!("no {label} received yet"))?;
        if now.duration_since(*at).as_secs_f64() > self.settings.stale_after {
            return Err(format!("{label} is stale (older than {} s)", self.settings.stale_after));
        }
        Ok(values)
    }

    fn safe(&mut self, reason: String, now: Instant) -> Answer {
        let kind = reason.split(':').next().unwrap_or("").to_string();
        *self.safe_actions.entry(kind.clone()).or_default() += 1;
        let key = reason_key(&reason);
        let repeat = matches!(&self.last_reason, Some((k, at)) if *k == key && now.duration_since(*at) <= Duration::from_secs(2));
        if !repeat {
            self.last_reason = Some((key, now));
            self.logs.push(Log::Warn(format!("safe stop: {reason}")));
        }
        let names = self.policy.as_ref().map(|p| p.export.action_names.clone()).unwrap_or_default();
        Answer { index: self.settings.safe_index, values: vec![0.0; names.len()], names, source: format!("{}:safe:{kind}", self.settings.name) }
    }

    fn model_action(&mut self, frame: &Frame, age: f64, now: Instant) -> Result<Answer, String> {
        if age > self.settings.stale_after {
            return Err(format!("frame is stale: {age:.3} s old (stale_after {})", self.settings.stale_after));
        }
        let rgb = to_rgb(frame)?;
        let instruction = self.instruction.as_deref().ok_or("no instruction received yet")?;
        let policy = self.policy.as_ref().expect("checked by on_image");
        let c = &policy.export.config;
        let sensors = self.vector(&self.telemetry, "telemetry", c.robotics_sensor_dim, now)?;
        let surface = self.vector(&self.surface, "surface vector", c.robotics_surface_dim, now)?;
        let obs = Observation { rgb: &rgb, height: frame.height as usize, width: frame.width as usize, instruction, sensors, surface };
        let policy = self.policy.as_mut().expect("checked by on_image");
        let action = policy.select_action(&obs)?;
        Ok(Answer { index: action.index, names: policy.export.action_names.clone(), values: action.values, source: self.settings.name.clone() })
    }

    /// Answer one frame `age` seconds old (receive time minus its stamp).
    pub fn on_image(&mut self, frame: &Frame, age: f64, now: Instant) -> Answer {
        let start = Instant::now();
        self.last_frame = now;
        self.watchdog_sent = false;
        if self.policy.is_none() {
            return self.safe(format!("no model: {}", self.model_error), now);
        }
        match self.model_action(frame, age, now) {
            Ok(answer) => {
                self.answered += 1;
                self.latency_ms = start.elapsed().as_secs_f64() * 1e3;
                answer
            }
            Err(error) => self.safe(format!("bad input: {error}"), now),
        }
    }

    /// The safe action once when no frame came for `control_period`.
    pub fn watchdog(&mut self, now: Instant) -> Option<Answer> {
        if self.watchdog_sent || now.duration_since(self.last_frame).as_secs_f64() < self.settings.control_period {
            return None;
        }
        self.watchdog_sent = true;
        Some(self.safe(format!("stale input: no frame for {} s", self.settings.control_period), now))
    }

    /// (level, message, key/values) for /diagnostics, as the Python kernel reports them.
    pub fn status(&self) -> (u8, String, Vec<(String, String)>) {
        let safe = serde_json::to_string(&self.safe_actions).unwrap_or_default();
        let values = vec![
            ("model".into(), self.settings.model_path.clone()),
            ("backend".into(), self.settings.backend.name().into()),
            ("answered".into(), self.answered.to_string()),
            ("safe_actions".into(), safe),
            ("reloads".into(), self.reloads.to_string()),
            ("reload_failures".into(), self.reload_failures.to_string()),
            ("text_encoder_loads".into(), crate::policy::text::LOADS.load(Ordering::Relaxed).to_string()),
            ("last_compute_ms".into(), format!("{:.3}", self.latency_ms)),
            ("instruction".into(), self.instruction.clone().unwrap_or_default()),
        ];
        if self.policy.is_none() {
            (ERROR, format!("no model: {}", self.model_error), values)
        } else if !self.model_error.is_empty() {
            (WARN, self.model_error.clone(), values)
        } else {
            (OK, "serving".into(), values)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(model_path: &str) -> Settings {
        Settings {
            name: "kernel".into(),
            model_path: model_path.into(),
            backend: BackendKind::Candle,
            threads: Threads { intra_op: 1, inter_op: 1, spinning: false },
            stale_after: 0.5,
            control_period: 0.2,
            reload_period: 0.5,
            safe_index: 0,
            seed: 0,
            temperature: 0.0,
        }
    }

    fn black() -> Vec<u8> {
        vec![0; 40 * 40 * 3]
    }

    #[test]
    fn numbers_do_not_make_a_new_reason() {
        assert_eq!(reason_key("frame is stale: 5.012 s old (stale_after 1)"), "frame is stale: # s old (stale_after #)");
    }

    #[test]
    fn without_a_model_every_frame_and_silence_get_the_safe_action() {
        let t0 = Instant::now();
        let mut server = Server::new(settings("/nonexistent/policy.onnx"), t0);
        server.check_model_file();
        let data = black();
        let frame = Frame { encoding: "rgb8", width: 40, height: 40, step: 120, data: &data };
        let answer = server.on_image(&frame, 0.0, t0);
        assert_eq!(answer.source, "kernel:safe:no model");
        assert_eq!((answer.index, answer.values.len()), (0, 0));
        assert!(server.watchdog(t0 + Duration::from_millis(100)).is_none());
        let stop = server.watchdog(t0 + Duration::from_millis(200)).unwrap();
        assert_eq!(stop.source, "kernel:safe:stale input");
        assert!(server.watchdog(t0 + Duration::from_millis(300)).is_none(), "sent once");
        let (level, message, _) = server.status();
        assert_eq!((level, message.as_str()), (ERROR, "no model: model file /nonexistent/policy.safetensors does not exist"));
        // One warning for the missing file, one per distinct safe-stop reason.
        assert_eq!(server.logs.len(), 3, "{:?}", server.logs);
    }

    #[test]
    fn a_file_that_is_no_export_is_a_load_failure_not_a_crash() {
        let dir = std::env::temp_dir().join(format!("nanobot_kernel_test_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("policy.safetensors");
        std::fs::write(&path, b"garbage").unwrap();
        let mut server = Server::new(settings(path.to_str().unwrap()), Instant::now());
        server.check_model_file();
        assert!(server.take_loaded(true), "the load ended");
        assert_eq!(server.reload_failures, 1);
        assert!(matches!(&server.logs[0], Log::Error(m) if m.contains("did not load")), "{:?}", server.logs);
        server.check_model_file();
        assert!(!server.take_loaded(true), "an unchanged file is not loaded again");
        assert_eq!(server.reload_failures, 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
