//! The ROS 2 side (r2r): parameters, topics and QoS of the Python kernel, then a loop that
//! hands every message to `Server` and publishes what it answers.
//!
//! Topics (relative: in the node's namespace; as `nodes/action_server.py`, the names and
//! profiles of `nanobot_ros/contract.py`, test/structure/test_graph_contract.py checks them):
//!   camera/image_raw  sensor_msgs/Image          sensor-data QoS   in
//!   instruction       std_msgs/String            reliable, transient local, depth 1   in
//!   robot/telemetry   nanobot_msgs/Telemetry     sensor-data QoS   in
//!   robot/surface     nanobot_msgs/SurfaceVector sensor-data QoS   in
//!   robot/action      nanobot_msgs/Action        reliable, volatile, depth 10   out, stamped
//!                                                with the answered frame's stamp
//!   diagnostics       diagnostic_msgs/DiagnosticArray  reliable, depth 50, once a second
//! The loop waits in rcl (spin_once) until a message or the next timer is due, so a frame is
//! answered as soon as it is taken; the watchdog is checked on every wake.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, Stream, StreamExt};
use r2r::diagnostic_msgs::msg::{DiagnosticArray, DiagnosticStatus, KeyValue};
use r2r::nanobot_msgs::msg::{Action, SurfaceVector, Telemetry};
use r2r::sensor_msgs::msg::Image;
use r2r::std_msgs::msg::Header;
use r2r::{Clock, ClockType, Node, ParameterValue, QosProfile};

use crate::image::Frame;
use crate::policy::{BackendKind, Threads};
use crate::server::{Answer, Log, Server, Settings};

pub const SENSOR_QOS: QosProfile = QosProfile::sensor_data();
pub const COMMAND_QOS: QosProfile = QosProfile::default().keep_last(10).reliable().volatile();
const STATUS_QOS: QosProfile = QosProfile::default().keep_last(50).reliable().volatile();
const INSTRUCTION_QOS: QosProfile = QosProfile::default().keep_last(1).reliable().transient_local();
const STATUS_PERIOD: Duration = Duration::from_secs(1);

/// A parameter from the command line / params file, or its default.
struct Params<'a>(&'a Node);

impl Params<'_> {
    fn value(&self, name: &str) -> ParameterValue {
        let params = self.0.params.lock().unwrap();
        params.get(name).map(|p| p.value.clone()).unwrap_or(ParameterValue::NotSet)
    }
    /// The value of `name` as `pick` reads it, `default` when unset, Err naming the type.
    fn typed<T>(&self, name: &str, default: T, kind: &str, pick: impl Fn(&ParameterValue) -> Option<T>) -> Result<T, String> {
        match self.value(name) {
            ParameterValue::NotSet => Ok(default),
            value => pick(&value).ok_or(format!("{name} must be {kind}, got {value:?}")),
        }
    }
    fn string(&self, name: &str, default: &str) -> Result<String, String> {
        self.typed(name, default.into(), "a string", |v| match v {
            ParameterValue::String(s) => Some(s.clone()),
            _ => None,
        })
    }
    fn float(&self, name: &str, default: f64) -> Result<f64, String> {
        self.typed(name, default, "a number", |v| match v {
            ParameterValue::Double(x) => Some(*x),
            ParameterValue::Integer(i) => Some(*i as f64),
            _ => None,
        })
    }
    fn int(&self, name: &str, default: i64) -> Result<i64, String> {
        self.typed(name, default, "an integer", |v| if let ParameterValue::Integer(i) = v { Some(*i) } else { None })
    }
    fn bool(&self, name: &str, default: bool) -> Result<bool, String> {
        self.typed(name, default, "true or false", |v| if let ParameterValue::Bool(b) = v { Some(*b) } else { None })
    }
}

/// The kernel's parameters; the defaults are the Python kernel's (`ServingConfig` and
/// `OnnxServingConfig`, policy/serving_config.py; test/structure/test_kernel_contract.py
/// compares them).
fn settings(node: &Node) -> Result<Settings, String> {
    let p = Params(node);
    let count = |name: &str| -> Result<usize, String> {
        let v = p.int(name, 1)?;
        usize::try_from(v).map_err(|_| format!("{name} must be >= 1, got {v}"))
    };
    let settings = Settings {
        name: node.name().map_err(|e| e.to_string())?,
        model_path: p.string("model_path", "exports/policy.onnx")?,
        backend: BackendKind::parse(&p.string("backend", "ort")?)?,
        threads: Threads { intra_op: count("intra_op_num_threads")?, inter_op: count("inter_op_num_threads")?, spinning: p.bool("allow_spinning", false)? },
        stale_after: p.float("stale_after", 0.5)?,
        control_period: p.float("control_period", 0.2)?,
        reload_period: p.float("reload_period", 0.5)?,
        safe_index: p.int("safe_index", 0)? as i32,
        seed: p.int("seed", 0)? as u64,
        temperature: p.float("temperature", 0.0)?,
    };
    settings.validate()?;
    Ok(settings)
}

fn drain<T>(stream: &mut (impl Stream<Item = T> + Unpin)) -> impl Iterator<Item = T> + '_ {
    std::iter::from_fn(move || stream.next().now_or_never().flatten())
}

fn to_msg(answer: Answer, stamp: r2r::builtin_interfaces::msg::Time) -> Action {
    Action {
        header: Header { stamp, frame_id: String::new() },
        index: answer.index,
        names: answer.names,
        values: answer.values,
        duration: 0.0,
        source: answer.source,
    }
}

fn flush_logs(server: &mut Server, logger: &str) {
    for log in server.logs.drain(..) {
        match log {
            Log::Info(m) => r2r::log_info!(logger, "{m}"),
            Log::Warn(m) => r2r::log_warn!(logger, "{m}"),
            Log::Error(m) => r2r::log_error!(logger, "{m}"),
        }
    }
}

fn seconds(stamp: &r2r::builtin_interfaces::msg::Time) -> f64 {
    stamp.sec as f64 + stamp.nanosec as f64 * 1e-9
}

/// Run the kernel node until `stop` is set; Err for bad parameters (before publishing).
pub fn run(stop: Arc<AtomicBool>) -> Result<(), String> {
    let ctx = r2r::Context::create().map_err(|e| e.to_string())?;
    let mut node = Node::create(ctx, "kernel", "").map_err(|e| e.to_string())?;
    let settings = settings(&node).map_err(|e| format!("bad parameters: {e}"))?;
    if settings.backend == BackendKind::Candle {
        // Candle's matrix products take their thread count from here (one = no thread pool).
        std::env::set_var("RAYON_NUM_THREADS", settings.threads.intra_op.to_string());
    }
    let e = |e: r2r::Error| e.to_string();
    let publisher = node.create_publisher::<Action>("robot/action", COMMAND_QOS).map_err(e)?;
    let diagnostics = node.create_publisher::<DiagnosticArray>("diagnostics", STATUS_QOS).map_err(e)?;
    let mut images = node.subscribe::<Image>("camera/image_raw", SENSOR_QOS).map_err(e)?;
    let mut instructions = node.subscribe::<r2r::std_msgs::msg::String>("instruction", INSTRUCTION_QOS).map_err(e)?;
    let mut telemetry = node.subscribe::<Telemetry>("robot/telemetry", SENSOR_QOS).map_err(e)?;
    let mut surface = node.subscribe::<SurfaceVector>("robot/surface", SENSOR_QOS).map_err(e)?;
    let mut clock = Clock::create(ClockType::RosTime).map_err(e)?;
    let logger = node.logger().to_string();
    let fqn = node.fully_qualified_name().map_err(e)?;
    let reload_period = Duration::from_secs_f64(settings.reload_period);
    let mut server = Server::new(settings, Instant::now());
    server.check_model_file();
    let (mut next_reload, mut next_status) = (Instant::now() + reload_period, Instant::now());
    let mut now_stamp = move || Clock::to_builtin_time(&clock.get_now().unwrap_or_default());
    let publish_status = |server: &Server, stamp| {
        let (level, message, values) = server.status();
        let status = DiagnosticStatus {
            level, name: fqn.clone(), message, hardware_id: server.settings.name.clone(),
            values: values.into_iter().map(|(key, value)| KeyValue { key, value }).collect(),
        };
        let _ = diagnostics.publish(&DiagnosticArray { header: Header { stamp, frame_id: String::new() }, status: vec![status] });
    };
    while !stop.load(Ordering::Relaxed) {
        let wake = next_reload.min(next_status).min(Instant::now() + Duration::from_millis(20));
        node.spin_once(wake.saturating_duration_since(Instant::now()));
        server.take_loaded(false); // a model loaded on its thread is swapped in between frames
        let now = Instant::now();
        for msg in drain(&mut instructions) {
            server.on_instruction(msg.data);
        }
        for msg in drain(&mut telemetry) {
            server.on_telemetry(msg.values, now);
        }
        for msg in drain(&mut surface) {
            server.on_surface(msg.data, now);
        }
        for msg in drain(&mut images) {
            let frame = Frame { encoding: &msg.encoding, width: msg.width, height: msg.height, step: msg.step, data: &msg.data };
            let received = now_stamp();
            let answer = server.on_image(&frame, seconds(&received) - seconds(&msg.header.stamp), Instant::now());
            flush_logs(&mut server, &logger); // the reason is logged before the stop goes out
            let _ = publisher.publish(&to_msg(answer, msg.header.stamp.clone()));
        }
        let now = Instant::now();
        if let Some(answer) = server.watchdog(now) {
            flush_logs(&mut server, &logger);
            let _ = publisher.publish(&to_msg(answer, now_stamp()));
        }
        if now >= next_reload {
            server.check_model_file();
            next_reload = now + reload_period;
        }
        if now >= next_status {
            publish_status(&server, now_stamp());
            next_status = now + STATUS_PERIOD;
        }
        flush_logs(&mut server, &logger);
    }
    // The final report, given time to reach subscribers (reliable QoS) before the node goes.
    publish_status(&server, now_stamp());
    let end = Instant::now() + Duration::from_millis(300);
    while Instant::now() < end {
        node.spin_once(Duration::from_millis(20));
    }
    Ok(())
}

/// The transport floor: answer every frame at once with an Action stamped like the frame's
/// and the node's name as source, no model (bench/kernel_latency.py's r2r echo).
pub fn run_echo(stop: Arc<AtomicBool>) -> Result<(), String> {
    let e = |e: r2r::Error| e.to_string();
    let ctx = r2r::Context::create().map_err(e)?;
    let mut node = Node::create(ctx, "echo", "").map_err(e)?;
    let name = node.name().map_err(e)?;
    let publisher = node.create_publisher::<Action>("robot/action", COMMAND_QOS).map_err(e)?;
    let mut images = node.subscribe::<Image>("camera/image_raw", SENSOR_QOS).map_err(e)?;
    while !stop.load(Ordering::Relaxed) {
        node.spin_once(Duration::from_millis(50));
        for msg in drain(&mut images) {
            let answer = Answer { index: -1, names: vec![], values: vec![], source: name.clone() };
            let _ = publisher.publish(&to_msg(answer, msg.header.stamp));
        }
    }
    Ok(())
}
