"""Message <-> numpy conversion, in one place, testable without a ROS graph.

Images follow cv_bridge's rules for the encodings used here (rgb8, bgr8, mono8): `step` must be
at least width * channels and the data must hold height * step bytes, otherwise a ValueError
says what is inconsistent. Rows padded beyond width * channels are accepted and cropped, as
cv_bridge does. Functions take and return message objects, so the same code serves live topics
and messages deserialised from bags. When cv_bridge is importable (a ROS 2 install),
`image_to_numpy` and `frame_to_image` convert with it (one CvBridge for the process, made on
first use) after the same checks; otherwise the project's own code gives the same arrays and
messages.
"""
import array
import math
from typing import Iterable, Sequence

import numpy as np

try:  # cv_bridge exists on a ROS 2 install, not on PyPI
    from cv_bridge import CvBridge
except ImportError:
    CvBridge = None

_bridge = None

ENCODING_CHANNELS = {'rgb8': 3, 'bgr8': 3, 'mono8': 1}


def _require_encoding(encoding: str) -> int:
    try:
        return ENCODING_CHANNELS[encoding]
    except KeyError:
        raise ValueError(f'unsupported image encoding {encoding!r}; supported: '
                         f'{", ".join(ENCODING_CHANNELS)}') from None


def cv_bridge():
    """Return the process's CvBridge (made on first use), or None without cv_bridge."""
    global _bridge
    if _bridge is None and CvBridge is not None:
        _bridge = CvBridge()  # a race makes two, one of which is dropped: harmless
    return _bridge


def image_to_numpy(msg) -> np.ndarray:
    """Return a sensor_msgs/Image as an (H, W, C) uint8 array (C = 1 for mono8), a copy."""
    channels = _require_encoding(msg.encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ValueError(f'image has no pixels: {width}x{height}')
    row_bytes = width * channels
    if step < row_bytes:
        raise ValueError(f'image step {step} is smaller than width * channels = {row_bytes} '
                         f'for {msg.encoding}')
    raw = msg.data
    if not isinstance(raw, (bytes, bytearray, memoryview, np.ndarray)):
        raw = bytes(raw)  # array.array / list from some deserialisers
    data = np.frombuffer(raw, dtype=np.uint8)
    if data.size != height * step:
        raise ValueError(f'image data holds {data.size} bytes, expected height * step = '
                         f'{height} * {step} = {height * step}')
    bridge = cv_bridge()
    # cv_bridge reads rows of step // channels pixels, so it misplaces rows padded by a
    # number of bytes that is not a multiple of the channels: those stay with the code below.
    if bridge is not None and step % channels == 0:
        # passthrough: no colour conversion; mono8 comes back (H, W), this returns (H, W, 1).
        return np.array(bridge.imgmsg_to_cv2(msg, desired_encoding='passthrough'),
                        dtype=np.uint8).reshape(height, width, channels)
    return data.reshape(height, step)[:, :row_bytes].reshape(height, width, channels).copy()


def numpy_to_image(array: np.ndarray, encoding: str = 'rgb8', msg=None):
    """Fill (or create) a sensor_msgs/Image from an (H, W, C) or (H, W) uint8 array."""
    channels = _require_encoding(encoding)
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f'{encoding} needs a uint8 array, got {array.dtype}')
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] != channels:
        raise ValueError(f'{encoding} needs shape (H, W, {channels}), got {array.shape}')
    if msg is None:
        from sensor_msgs.msg import Image
        msg = Image()
    msg.height, msg.width = int(array.shape[0]), int(array.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(array.shape[1] * channels)
    msg.data = np.ascontiguousarray(array).tobytes()
    return msg


def frame_to_image(array: np.ndarray, encoding: str = 'rgb8'):
    """Return a sensor_msgs/Image from a uint8 array: cv_bridge's cv2_to_imgmsg when importable."""
    bridge = cv_bridge()
    if bridge is None:
        return numpy_to_image(array, encoding)
    _require_encoding(encoding)
    return bridge.cv2_to_imgmsg(np.ascontiguousarray(array), encoding=encoding)


def to_rgb(array: np.ndarray, encoding: str) -> np.ndarray:
    """Return an (H, W, 3) rgb array from one in `encoding` (as image_to_numpy gives it)."""
    _require_encoding(encoding)
    if encoding == 'rgb8':
        return array
    if encoding == 'bgr8':
        return array[:, :, ::-1].copy()
    return np.repeat(array, 3, axis=2)


def stamp_to_seconds(stamp) -> float:
    """Return a builtin_interfaces/Time as float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def seconds_to_stamp(seconds: float, stamp=None):
    """Fill (or create) a builtin_interfaces/Time from float seconds."""
    if stamp is None:
        from builtin_interfaces.msg import Time
        stamp = Time()
    sec = math.floor(seconds)
    stamp.sec = int(sec)
    stamp.nanosec = min(int(round((seconds - sec) * 1e9)), 999_999_999)
    return stamp


def make_action(index: int = -1, names: Sequence[str] = (), values: Iterable[float] = (),
                duration: float = 0.0, source: str = '', stamp=None):
    """Return a nanobot_msgs/Action; `stamp` is the answered observation's time."""
    from nanobot_msgs.msg import Action
    msg = Action()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.index = int(index)
    msg.names = list(names)
    msg.values = [float(v) for v in values]
    msg.duration = float(duration)
    msg.source = source
    return msg


def action_values(msg) -> dict:
    """Return an Action's continuous values as {name: value}; ValueError if malformed."""
    names, values = list(msg.names), [float(v) for v in msg.values]
    if len(names) != len(values):
        raise ValueError(f'action has {len(names)} names but {len(values)} values')
    bad = [n for n, v in zip(names, values) if not math.isfinite(v)]
    if bad or not math.isfinite(msg.duration):
        raise ValueError(f'action has non-finite values: {bad or ["duration"]}')
    return dict(zip(names, values))


def float32_array(values) -> array.array:
    """Return `values` as the array.array('f') that float32[] message fields hold (fast path)."""
    return array.array('f', np.ascontiguousarray(values, dtype=np.float32).ravel().tobytes())


def make_telemetry(names: Sequence[str], values, sequence: int = 0, msg=None):
    """Fill (or create) a nanobot_msgs/Telemetry from channel names and float values.

    `names` is assigned only when it differs from the message's, so a reused message costs
    one comparison per frame instead of re-validating every name.
    """
    values = float32_array(values)
    if len(names) != len(values):
        raise ValueError(f'telemetry has {len(names)} names but {len(values)} values')
    if msg is None:
        from nanobot_msgs.msg import Telemetry
        msg = Telemetry()
    msg.sequence = int(sequence) & 0xFFFFFFFF
    if msg.names != names:
        msg.names = list(names)
    msg.values = values
    return msg


def telemetry_values(msg) -> dict:
    """Return a Telemetry's values as {name: float}; ValueError if names and values differ."""
    names, values = list(msg.names), np.asarray(msg.values, dtype=np.float32)
    if len(names) != values.size:
        raise ValueError(f'telemetry has {len(names)} names but {values.size} values')
    return dict(zip(names, values.tolist()))


def make_surface(data, sequence: int = 0, source: str = '', msg=None):
    """Fill (or create) a nanobot_msgs/SurfaceVector from a 1-D float array."""
    if msg is None:
        from nanobot_msgs.msg import SurfaceVector
        msg = SurfaceVector()
    msg.sequence = int(sequence) & 0xFFFFFFFF
    msg.source = source
    msg.data = float32_array(data)
    return msg


def surface_to_numpy(msg) -> np.ndarray:
    """Return a SurfaceVector's data as a float32 array (a copy)."""
    return np.array(msg.data, dtype=np.float32)
