"""Camera capture with OpenCV, without ROS: open, read, fit to size, reconnect with backoff.

Sources (the `source` string):

  '0', '1', ...           a V4L2 / USB camera by index
  '/dev/video0'           a camera by device path
  '... ! appsink'         a GStreamer pipeline (any string with '!'); needs an OpenCV built with
                          GStreamer, as JetPack's is. The JetBot's CSI camera (IMX219):
                          `csi_pipeline()` returns the nvarguscamerasrc pipeline below.
  'rpyc://host:port'      a JetBot's camera over the reference's RPyC protocol
                          (`root.get_camera_frame()`, base64 JPEG; robots/jetbot/server.py),
                          polled at `frame_rate` (30 fps when 0)
  anything else           a video file (mp4, avi, mkv, ...), played at its own frame rate,
                          optionally looped

Frames come out as (height, width, 3) uint8 RGB: centre-cropped to the target aspect ratio and
resized (`fit='crop'`, no distortion) or resized only (`fit='stretch'`).

Faults. A source that cannot be opened, or a live camera that stops delivering frames, is
logged and retried after a delay that doubles up to `retry_max` (Backoff): never a crash and
never a tight loop. A video file that ends is rewound when `loop` is set, otherwise the stream
finishes and says so. A frame OpenCV cannot convert is counted and skipped.
"""
from collections import deque
from dataclasses import dataclass, field
import math
from pathlib import Path
import threading
import time
from typing import Callable, List, Optional, Tuple

import cv2
import numpy as np

from nanobot_ros.robots.backoff import Backoff
from nanobot_ros.robots.camera_error import CameraError
from nanobot_ros.robots.jetbot.remote_camera import RpycCapture

DEVICE, PIPELINE, FILE, RPYC = 'device', 'pipeline', 'file', 'rpyc'
# Sources that deliver frames at their own pace; the others are read when the stream wants one.
LIVE = (DEVICE, PIPELINE)
FITS = ('crop', 'stretch')
# A file that does not state its frame rate, and an RPyC camera, are read at this rate.
FALLBACK_FPS = 30.0


def csi_output_size(width: int, height: int, fit: str = 'crop', sensor_width: int = 1280,
                    sensor_height: int = 720) -> Tuple[int, int]:
    """Return the size nvvidconv should scale the CSI sensor's frames to.

    crop: the sensor's aspect ratio, just large enough to cover width x height, so fit_frame
    cuts the centre without distortion (224x224 from 1280x720: 400x224, then a 224x224 crop);
    stretch: width x height itself. A 0 dimension keeps the sensor's; sizes are even, as the
    converter wants.
    """
    if fit not in FITS:
        raise ValueError(f'fit must be one of {FITS}, got {fit!r}')
    if width <= 0 or height <= 0:
        return sensor_width, sensor_height
    if fit == 'stretch':
        return width, height
    half_scale = max(width / sensor_width, height / sensor_height) / 2
    return 2 * math.ceil(sensor_width * half_scale), 2 * math.ceil(sensor_height * half_scale)


def csi_pipeline(width: int = 224, height: int = 224, frame_rate: int = 30, fit: str = 'crop',
                 sensor_width: int = 1280, sensor_height: int = 720,
                 flip_method: int = 0, sensor_id: int = 0) -> str:
    """Return the GStreamer pipeline of the JetBot's CSI camera (nvarguscamerasrc, JetPack).

    The sensor mode (sensor_width x sensor_height at frame_rate) is captured in NVMM memory,
    scaled by the hardware converter nvvidconv to csi_output_size() (the aspect ratio kept for
    fit='crop'), and handed to OpenCV as BGR through an appsink that keeps only the newest
    buffer, so a slow reader gets fresh frames instead of a growing backlog.
    """
    out_width, out_height = csi_output_size(width, height, fit, sensor_width, sensor_height)
    return (f'nvarguscamerasrc sensor-id={sensor_id} ! '
            f'video/x-raw(memory:NVMM), width={sensor_width}, height={sensor_height}, '
            f'format=NV12, framerate={frame_rate}/1 ! '
            f'nvvidconv flip-method={flip_method} ! '
            f'video/x-raw, width={out_width}, height={out_height}, format=BGRx ! '
            f'videoconvert ! video/x-raw, format=BGR ! '
            f'appsink drop=true max-buffers=1')


def source_kind(source: str) -> str:
    """Return DEVICE, PIPELINE or FILE for a `source` string."""
    text = source.strip()
    if not text:
        raise ValueError('camera source is empty')
    if text.isdigit() or text.startswith('/dev/video'):
        return DEVICE
    if text.startswith('rpyc://'):
        return RPYC
    if '!' in text:
        return PIPELINE
    return FILE


def has_gstreamer() -> bool:
    """Return whether this OpenCV can open GStreamer pipelines."""
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith('GStreamer:'):
            return 'YES' in line
    return False


def open_capture(source: str, capture_width: int = 0, capture_height: int = 0,
                 frame_rate: float = 0.0):
    """Open `source` (cv2.VideoCapture or jetbot's RpycCapture); raise CameraError on failure."""
    text = source.strip()
    kind = source_kind(text)
    if kind == RPYC:
        return RpycCapture(text)
    if kind == PIPELINE:
        if not has_gstreamer():
            raise CameraError('this OpenCV was built without GStreamer, so the pipeline '
                              f'{text!r} cannot be opened (JetPack\'s OpenCV has it)')
        capture = cv2.VideoCapture(text, cv2.CAP_GSTREAMER)
    elif kind == FILE:
        if not Path(text).is_file():
            raise CameraError(f'video file {text} does not exist')
        capture = cv2.VideoCapture(text)
    else:
        if text.startswith('/dev/') and not Path(text).exists():
            raise CameraError(f'camera device {text} does not exist')
        capture = cv2.VideoCapture(int(text) if text.isdigit() else text)
    if not capture.isOpened():
        capture.release()
        raise CameraError(f'OpenCV cannot open {kind} {text!r}')
    if kind == DEVICE:
        # Requests, not guarantees: the driver picks the nearest mode it has.
        if capture_width > 0 and capture_height > 0:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, capture_width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, capture_height)
        if frame_rate > 0:
            capture.set(cv2.CAP_PROP_FPS, frame_rate)
        # Keep the driver's queue short so frames are fresh when read.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return capture


def fit_frame(frame: np.ndarray, width: int, height: int, fit: str = 'crop') -> np.ndarray:
    """Return an OpenCV frame (BGR, BGRA or grey) as (height, width, 3) uint8 RGB.

    `fit='crop'` cuts the centre of the frame to the target aspect ratio before resizing, so
    nothing is distorted; `fit='stretch'` resizes the whole frame. Width or height 0 keeps the
    frame's own size.
    """
    if frame is None or frame.size == 0:
        raise ValueError('empty frame')
    if frame.dtype != np.uint8:
        raise ValueError(f'frame has dtype {frame.dtype}, expected uint8')
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        rgb = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    elif frame.ndim == 3 and frame.shape[2] == 4:
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    elif frame.ndim == 3 and frame.shape[2] == 3:
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    else:
        raise ValueError(f'frame has shape {frame.shape}, expected grey, BGR or BGRA')
    if width <= 0 or height <= 0:
        return rgb
    if fit == 'crop':
        rows, cols = rgb.shape[:2]
        if cols * height > rows * width:  # too wide: cut the sides
            keep = max(1, round(rows * width / height))
            left = (cols - keep) // 2
            rgb = rgb[:, left:left + keep]
        elif cols * height < rows * width:  # too tall: cut top and bottom
            keep = max(1, round(cols * height / width))
            top = (rows - keep) // 2
            rgb = rgb[top:top + keep]
    elif fit != 'stretch':
        raise ValueError(f'fit must be one of {FITS}, got {fit!r}')
    if rgb.shape[:2] == (height, width):
        return np.ascontiguousarray(rgb)
    shrinking = rgb.shape[0] > height and rgb.shape[1] > width
    return cv2.resize(rgb, (width, height),
                      interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


class RateMeter:
    """Frames per second over the last `window` seconds."""

    def __init__(self, window: float = 2.0):
        self.window = window
        self._times = deque()

    def tick(self, now: float) -> None:
        """Count one frame at monotonic time `now`."""
        self._times.append(now)
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()

    def rate(self, now: Optional[float] = None) -> float:
        """Return the measured rate; 0 when fewer than two frames fell in the window."""
        if now is not None:
            while self._times and now - self._times[0] > self.window:
                self._times.popleft()
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


@dataclass
class CameraConfig:
    """What to capture and how to deliver it."""

    source: str = '0'
    width: int = 224
    height: int = 224
    fit: str = 'crop'
    loop: bool = False
    frame_rate: float = 0.0  # files: playback rate (0 = the file's own); live: at most this
    capture_width: int = 0   # resolution requested from a device (0 = its default)
    capture_height: int = 0
    retry_initial: float = 0.2
    retry_max: float = 5.0

    def __post_init__(self):
        self.kind = source_kind(self.source)
        if self.width < 0 or self.height < 0:
            raise ValueError(f'width and height must be >= 0, got {self.width}x{self.height}')
        if self.fit not in FITS:
            raise ValueError(f'fit must be one of {FITS}, got {self.fit!r}')
        if self.frame_rate < 0:
            raise ValueError(f'frame_rate must be >= 0, got {self.frame_rate}')
        Backoff(self.retry_initial, self.retry_max)  # validates the retry delays


@dataclass
class CameraCalibration:
    """What the published CameraInfo says: the frame and the plumb_bob calibration."""

    frame_id: str = 'camera'
    camera_matrix: List[float] = field(default_factory=lambda: [0.0] * 9)  # zeros: uncalibrated
    distortion: List[float] = field(default_factory=lambda: [0.0] * 5)     # k1 k2 t1 t2 k3


class CameraStream:
    """Reads a source in a loop, hands fitted RGB frames to `on_frame(rgb, stamp)`.

    `clock()` is called right after each frame is read: its result is the frame's stamp (the
    node passes its ROS clock). `log(level, text)` (robots/log.py) receives 'info', 'warning'
    and 'error' events.
    `run(stop)` returns when `stop` is set or a non-looping file has ended.
    """

    def __init__(self, config: CameraConfig, on_frame: Callable, log: Callable,
                 clock: Callable = time.time):
        self.config = config
        self.on_frame = on_frame
        self.log = log
        self.clock = clock
        self.backoff = Backoff(config.retry_initial, config.retry_max)
        self.meter = RateMeter()
        self.state = 'starting'
        self.frames = 0
        self.open_failures = 0
        self.frames_lost = 0   # a live source stopped delivering: reopened
        self.bad_frames = 0    # a frame OpenCV could not convert: skipped
        self.loops = 0
        self.last_error = ''
        self.retry_in = 0.0
        self.source_fps = 0.0
        self._lock = threading.Lock()
        self._capture = None

    def run(self, stop: threading.Event) -> None:
        """Capture until `stop` is set (or a non-looping file ends)."""
        try:
            while not stop.is_set():
                try:
                    self._run(stop)
                    return
                except Exception as error:  # noqa: BLE001 - the capture thread never dies
                    self._release()
                    self._retry_later(f'capture failed: {type(error).__name__}: {error}', stop,
                                      counter='frames_lost')
        finally:
            self._release()
            if self.state != 'finished':
                self.state = 'stopped'

    def _run(self, stop: threading.Event) -> None:
        period, next_due = 0.0, time.monotonic()
        frames_since_open = 0
        while not stop.is_set():
            if self._capture is None:
                try:
                    self._open()
                except CameraError as error:
                    self._retry_later(str(error), stop, counter='open_failures')
                    continue
                period = self._period()
                next_due, frames_since_open = time.monotonic(), 0
            ok, frame = self._capture.read()
            stamp = self.clock()
            if ok and frame is None:  # an RPyC camera without a frame yet: ask again later
                stop.wait(period)
                continue
            if not ok or frame is None:
                if self.config.kind == FILE and frames_since_open > 0:
                    if not self.config.loop:
                        self.state = 'finished'
                        self.log('info', f'end of video file {self.config.source} after '
                                 f'{self.frames} frames (loop is off)')
                        return
                    self.loops += 1
                    self._release()  # reopen: rewinding by seeking is unreliable with codecs
                    continue
                what = ('returned no frame' if frames_since_open == 0
                        else f'stopped delivering frames after {frames_since_open}')
                self._release()
                self._retry_later(f'{self.config.kind} {self.config.source!r} {what}', stop,
                                  counter='frames_lost')
                continue
            frames_since_open += 1
            self.backoff.reset()
            now = time.monotonic()
            live = self.config.kind in LIVE
            if live and period > 0 and now < next_due:
                continue  # a live source faster than frame_rate: drop, never queue
            try:
                rgb = fit_frame(frame, self.config.width, self.config.height, self.config.fit)
            except (cv2.error, ValueError) as error:
                self.bad_frames += 1
                self.log('warning', f'skipped a frame that cannot be converted: {error}')
                continue
            self.meter.tick(now)
            self.frames += 1
            self.state = 'streaming'
            self.on_frame(rgb, stamp)
            if period > 0:
                next_due = max(next_due + period, now) if live else next_due + period
                if not live:
                    wait = next_due - time.monotonic()
                    if wait < -period:  # fell behind (slow machine): do not burst to catch up
                        next_due = time.monotonic()
                    elif wait > 0:
                        stop.wait(wait)

    def _open(self) -> None:
        if self.state != 'streaming':  # a looping file's reopen is still streaming
            self.state = 'opening'
        capture = open_capture(self.config.source, self.config.capture_width,
                               self.config.capture_height, self.config.frame_rate)
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.source_fps = float(fps) if np.isfinite(fps) and fps > 0 else 0.0
        with self._lock:
            self._capture = capture
        if self.loops == 0:
            self.log('info', f'opened {self.config.kind} {self.config.source!r} '
                     f'({int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))}x'
                     f'{int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))}, source '
                     f'{self.source_fps:g} fps)')
        self.last_error, self.retry_in = '', 0.0

    def _period(self) -> float:
        if self.config.frame_rate > 0:
            return 1.0 / self.config.frame_rate
        if self.config.kind in LIVE:
            return 0.0
        return 1.0 / (self.source_fps or FALLBACK_FPS)

    def _retry_later(self, reason: str, stop: threading.Event, counter: str) -> None:
        setattr(self, counter, getattr(self, counter) + 1)
        delay = self.backoff.next_delay()
        self.state, self.last_error, self.retry_in = 'retrying', reason, delay
        self.log('error', f'{reason}; retrying in {delay:.2f} s '
                 f'(attempt {self.backoff.failures})')
        stop.wait(delay)

    def _release(self) -> None:
        with self._lock:
            capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()

    def fps(self) -> float:
        """Return the measured frame rate of delivered frames."""
        return self.meter.rate(time.monotonic())

    def status(self) -> dict:
        """Return the counters a status report shows."""
        return {'state': self.state, 'source': self.config.source, 'kind': self.config.kind,
                'frames': self.frames, 'fps': round(self.fps(), 2),
                'source_fps': round(self.source_fps, 2), 'open_failures': self.open_failures,
                'frames_lost': self.frames_lost, 'bad_frames': self.bad_frames,
                'loops': self.loops, 'last_error': self.last_error,
                'retry_in_s': round(self.retry_in, 3)}
