"""What the kernel (ONNX Runtime) and policy (PyTorch) nodes share: observation in, action out.

Topics (relative: in the node's namespace; docs/graph.md)
  camera/image_raw   (sensor_msgs/Image, sensor-data QoS)   in: newest frame (rgb8/bgr8/mono8)
  instruction        (std_msgs/String, reliable, latched)    in: what to do
  robot/telemetry    (nanobot_msgs/Telemetry, sensor QoS)    in: when the model has sensor tokens
  robot/surface      (nanobot_msgs/SurfaceVector, sensor QoS) in: when it has surface tokens
  robot/action       (nanobot_msgs/Action, reliable)         out: one per frame, header.stamp =
                                                                  the frame's stamp

Each frame is answered at once with the model's action. Whenever an answer cannot be trusted
the node publishes the safe action instead (index `safe_index`, all values 0: "stay"/"stop")
with `source` = '<node>:safe:<reason>' and logs the reason (throttled): no model loaded, a model
file that does not load, an image that does not decode (unknown encoding such as 32FC3 with NaN
or Inf, wrong size for its step, no pixels), a frame older than `stale_after` s, no instruction
yet, telemetry / surface missing, stale, non-finite or of the wrong length, or a model output
that is not finite. A watchdog timer publishes the safe action when no frame arrived within
`control_period` s, so the robot stops within one control period of its inputs going silent.

Hot reload: every `reload_period` s the node looks at the model file (size, mtime, inode); when
it changed it loads the new file into a new session on a thread of its own (`ModelLoad`) and
swaps it in between frames only when that worked, so a broken export never replaces a working
model, and frames keep being answered by the old model while the new one loads (a room export
with its MiniLM text encoder takes a quarter of a second or more: frames went stale in the learn
stack, where the trainer exports every few seconds). Exporters write a temp file and rename it.
"""
from collections import Counter
import re
import threading
import time
from typing import Optional

import numpy as np

from nanobot_ros.data.convert import image_to_numpy, make_action, stamp_to_seconds, to_rgb
from nanobot_ros.contract import ACTION, IMAGE, INSTRUCTION, SURFACE, TELEMETRY
from nanobot_ros.durable import file_version
from nanobot_ros.nodes.common import ERROR, NanobotNode, OK, qos_profile, WARN
from nanobot_ros.policy.serving_config import ServingConfig
from nanobot_msgs.msg import Action, SurfaceVector, Telemetry
from sensor_msgs.msg import Image
from std_msgs.msg import String

DESCRIPTIONS = {
    'model_path': 'model file to serve; watched and hot-reloaded',
    'stale_after': 'seconds after which a frame or telemetry is too old to act on',
    'control_period': 'seconds without a frame before the watchdog sends stop',
    'reload_period': 'seconds between looks at the model file',
    'safe_index': 'action index of the safe action',
    'seed': 'seed of the sampler noise (diffusion, sampled categorical)',
    'temperature': 'categorical head: 0 takes the most likely action, T > 0 samples '
                   'softmax(logits / T)',
}


class ModelLoad(threading.Thread):
    """Loads one model file on a thread of its own: `model`, or `error`, once it ended.

    A daemon: a load that never ends (a file that never finishes arriving) does not hold up the
    node's exit.
    """

    def __init__(self, load_model, path: str):
        super().__init__(name='model-load', daemon=True)
        self.load_model, self.path = load_model, path
        self.model, self.error = None, None
        self.start()

    def run(self) -> None:
        try:
            self.model = self.load_model(self.path)
        except Exception as error:  # noqa: B902 - any loader error is a failed load, reported
            self.error = error


class ActionServerNode(NanobotNode):
    """Serves actions from a model loaded by `load_model(path)` (implemented by subclasses).

    `model_config` is the subclass's dataclass of its model settings (with `model_path`);
    `model_descriptions` describes its fields beyond model_path.
    """

    def __init__(self, name: str, model_config, model_descriptions: dict):
        super().__init__(name)
        serving = ServingConfig(**self.declare_config(ServingConfig, DESCRIPTIONS))
        self.settings = model_config(**self.declare_config(model_config, model_descriptions))
        self.model_path = self.settings.model_path
        self.stale_after, self.control_period = serving.stale_after, serving.control_period
        self.reload_period, self.safe_index = serving.reload_period, serving.safe_index
        self.seed, self.temperature = serving.seed, serving.temperature
        self.model = None
        self.model_error = 'no model_path set' if not self.model_path else 'not loaded yet'
        self._file_key = None
        self._loading: Optional[ModelLoad] = None
        self.instruction: Optional[str] = None
        self.telemetry = None  # (receive time, values)
        self.surface = None
        self.answered = 0
        self.safe_actions = Counter()
        self.reloads = 0
        self.reload_failures = 0
        self.latency_ms = 0.0
        self._last_frame_time = time.monotonic()
        self._watchdog_sent = False
        self._last_reason = ('', 0.0)
        self.pub = self.create_publisher(Action, ACTION.name, qos_profile(ACTION))
        self.create_subscription(Image, IMAGE.name, self._on_image, qos_profile(IMAGE))
        self.create_subscription(String, INSTRUCTION.name, self._on_instruction,
                                 qos_profile(INSTRUCTION))
        self.create_subscription(Telemetry, TELEMETRY.name, self._on_telemetry,
                                 qos_profile(TELEMETRY))
        self.create_subscription(SurfaceVector, SURFACE.name, self._on_surface,
                                 qos_profile(SURFACE))
        self.create_timer(self.reload_period, self._check_model_file)
        self.create_timer(self.control_period, self._watchdog)
        self._check_model_file()

    # -- model ---------------------------------------------------------------------------
    def load_model(self, path: str):
        """Return a model with `select_action(observation)` and `processor`; raise if not."""
        raise NotImplementedError

    def _check_model_file(self) -> None:
        self._take_loaded()
        if not self.model_path or self._loading is not None:
            return
        key = file_version(self.model_path)
        if key == self._file_key:
            return
        self._file_key = key
        if key is None:
            if self.model is None:
                self.model_error = f'model file {self.model_path} does not exist'
                self.get_logger().warning(f'{self.model_error}; publishing stop until it does')
            return
        self._loading = ModelLoad(self.load_model, self.model_path)

    def _take_loaded(self) -> None:
        """Swap in the model a finished load made, or report why it did not load."""
        load = self._loading
        if load is None or load.is_alive():
            return
        self._loading = None
        if load.model is None:
            self.reload_failures += 1
            self.model_error = f'model {load.path} did not load: {load.error}'
            kept = '; keeping the previous model' if self.model is not None else ''
            self.get_logger().error(self.model_error + kept)
            return
        replaced = self.model is not None
        self.model, self.model_error = load.model, ''
        self.reloads += replaced
        self.get_logger().info(f'{"reloaded" if replaced else "loaded"} '
                               f'{getattr(load.model, "description", load.path)}')

    # -- inputs --------------------------------------------------------------------------
    def _on_instruction(self, msg: String) -> None:
        self.instruction = msg.data

    def _on_telemetry(self, msg: Telemetry) -> None:
        self.telemetry = (time.monotonic(), np.asarray(msg.values, np.float32))

    def _on_surface(self, msg: SurfaceVector) -> None:
        self.surface = (time.monotonic(), np.asarray(msg.data, np.float32))

    def _vector(self, latest, label: str, dim: int) -> np.ndarray:
        if not dim:
            return np.zeros(0, np.float32)
        if latest is None:
            raise ValueError(f'no {label} received yet')
        if time.monotonic() - latest[0] > self.stale_after:
            raise ValueError(f'{label} is stale (older than {self.stale_after} s)')
        return latest[1]

    def _observation(self, msg: Image) -> dict:
        age = self.get_clock().now().nanoseconds * 1e-9 - stamp_to_seconds(msg.header.stamp)
        if age > self.stale_after:
            raise ValueError(f'frame is stale: {age:.3f} s old (stale_after {self.stale_after})')
        image = to_rgb(image_to_numpy(msg), msg.encoding)
        if self.instruction is None:
            raise ValueError('no instruction received yet')
        processor = self.model.processor
        return {'image': image, 'instruction': self.instruction,
                'sensors': self._vector(self.telemetry, 'telemetry', processor.sensor_dim),
                'surface': self._vector(self.surface, 'surface vector', processor.surface_dim)}

    # -- outputs -------------------------------------------------------------------------
    def _publish_safe(self, reason: str, stamp) -> None:
        kind = reason.split(':')[0]
        self.safe_actions[kind] += 1
        now = time.monotonic()
        # Every new reason is logged at once; a repeated one at most every 2 s. Reasons that
        # differ only in their numbers ("frame is stale: 3.1 s old", "... 3.2 s old") repeat.
        key = re.sub(r'\d+(\.\d+)?', '#', reason)
        if key != self._last_reason[0] or now - self._last_reason[1] > 2.0:
            self._last_reason = (key, now)
            self.get_logger().warning(f'safe stop: {reason}')
        names = self.model.processor.action_names if self.model is not None else ()
        self.pub.publish(make_action(self.safe_index, names, [0.0] * len(names),
                                     source=f'{self.get_name()}:safe:{kind}', stamp=stamp))

    def _on_image(self, msg: Image) -> None:
        self._take_loaded()
        start = time.perf_counter()
        self._last_frame_time = time.monotonic()
        self._watchdog_sent = False
        if self.model is None:
            self._publish_safe(f'no model: {self.model_error}', msg.header.stamp)
            return
        try:
            action = self.model.select_action(self._observation(msg))
        except ValueError as error:
            self._publish_safe(f'bad input: {error}', msg.header.stamp)
            return
        self.pub.publish(make_action(action['index'], action['names'], action['values'],
                                     source=self.get_name(), stamp=msg.header.stamp))
        self.answered += 1
        self.latency_ms = (time.perf_counter() - start) * 1e3

    def _watchdog(self) -> None:
        if self._watchdog_sent or time.monotonic() - self._last_frame_time < self.control_period:
            return
        self._watchdog_sent = True
        self._publish_safe(f'stale input: no frame for {self.control_period} s',
                           self.get_clock().now().to_msg())

    def status(self):
        """Report the model, answers, safe stops by reason and reloads."""
        values = {'model': self.model_path, 'answered': self.answered,
                  'safe_actions': dict(self.safe_actions), 'reloads': self.reloads,
                  'reload_failures': self.reload_failures,
                  'last_compute_ms': round(self.latency_ms, 3),
                  'instruction': self.instruction or ''}
        if self.model is None:
            return ERROR, f'no model: {self.model_error}', values
        if self.model_error:
            return WARN, self.model_error, values
        return OK, 'serving', values
