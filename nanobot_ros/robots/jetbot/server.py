"""JetBot-side RPyC server: the reference's protocol on port 18861, with a motor watchdog.

The reference's RemoteJetBot client calls `conn.root.set_motors(left, right)`; the jetbot node's
remote backend does the same, so this server and the reference's own server are
interchangeable. What this one adds is what keeps a robot from driving on when its host dies:

- watchdog: no set_motors for `--watchdog` seconds (default 0.5) while a motor runs -> both
  motors 0. The jetbot node resends its values every keepalive period (0.1 s), so only a dead,
  frozen or cut-off host trips it;
- a host's connection closing (cleanly or not) -> both motors 0;
- non-finite values are refused (the call raises ValueError), values beyond [-1, 1] clamped.

It also serves the reference's `root.get_camera_frame()` (the newest frame as a base64 JPEG
string, None before the first) from `--camera`: `jetbot` (the jetbot library's Camera, the
default on the robot), an OpenCV source (device index, GStreamer pipeline, video file, looped)
or `none`. The camera node reads it with `source: rpyc://<robot>:18861`.

On the JetBot (JetPack's Python 3.6 is enough: only rpyc and the jetbot library are imported,
so this file can be copied there on its own):

    python3 jetbot_server.py --port 18861

Without a JetBot (tests, demos): `--emulate` simulates the motors and `--record FILE` writes
every value commanded as one JSON line {"t": unix time, "left", "right", "source"} where source
is host, watchdog, disconnect or shutdown:

    ./run.sh python -m nanobot_ros.robots.jetbot.server --emulate --record motors.jsonl
"""
import argparse
import base64
import json
import logging
import math
import signal
import sys
import threading
import time

import rpyc
from rpyc.utils.server import ThreadedServer

DEFAULT_PORT = 18861
log = logging.getLogger('jetbot_server')


class EmulatedMotors(object):
    """Two simulated motors that remember (and optionally record) every value commanded."""

    def __init__(self, record_path=None):
        self._record = open(record_path, 'a', buffering=1) if record_path else None

    def set_motors(self, left, right, source):
        """Set both motors; record the values with the time and who commanded them."""
        if self._record is not None:
            self._record.write(json.dumps({'t': time.time(), 'left': left, 'right': right,
                                           'source': source}) + '\n')

    def close(self):
        """Close the record file."""
        if self._record is not None:
            self._record.close()


class RobotMotors(object):
    """The JetBot's motors through the jetbot library."""

    def __init__(self):
        from jetbot import Robot
        self._robot = Robot()

    def set_motors(self, left, right, source):
        """Set both motors."""
        self._robot.set_motors(left, right)

    def close(self):
        """Stop the motors."""
        self._robot.stop()


class MotorGuard(object):
    """Applies motor values, and zeroes them when commands stop coming (the watchdog)."""

    def __init__(self, motors, watchdog):
        self.motors = motors
        self.watchdog = watchdog
        self.values = (0.0, 0.0)
        self.commands = 0
        self.watchdog_stops = 0
        self._last_command = time.monotonic()
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def set_motors(self, left, right, source='host'):
        """Apply values (clamped to [-1, 1]); ValueError for non-finite ones."""
        left, right = float(left), float(right)
        if not (math.isfinite(left) and math.isfinite(right)):
            raise ValueError('motor values must be finite, got %r, %r' % (left, right))
        left, right = max(-1.0, min(1.0, left)), max(-1.0, min(1.0, right))
        with self._lock:
            self.motors.set_motors(left, right, source)
            self.values = (left, right)
            if source == 'host':
                self.commands += 1
                self._last_command = time.monotonic()

    def stop(self, source):
        """Zero both motors if either runs."""
        if self.values != (0.0, 0.0):
            log.warning('motors stopped (%s)', source)
            self.set_motors(0.0, 0.0, source)

    def watch(self):
        """Zero the motors whenever no command came for `watchdog` seconds (thread body)."""
        while not self._stopped.wait(self.watchdog / 5.0):
            with self._lock:
                stale = time.monotonic() - self._last_command > self.watchdog
            if stale and self.values != (0.0, 0.0):
                self.watchdog_stops += 1
                self.stop('watchdog')

    def close(self):
        """Stop the watchdog and the motors."""
        self._stopped.set()
        self.stop('shutdown')
        self.motors.close()


class FrameServer(object):
    """Keeps the newest camera frame (a grabbing thread) and hands it out as base64 JPEG."""

    def __init__(self, source, width=224, height=224):
        import cv2
        self._cv2 = cv2
        self.source = source
        self.width, self.height = width, height
        self.frames = 0
        self._frame = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        threading.Thread(target=self._grab, name='camera', daemon=True).start()

    def _open(self):
        if self.source == 'jetbot':
            from jetbot import Camera
            camera = Camera.instance(width=self.width, height=self.height)
            return lambda: (True, camera.value), lambda: None, 30.0
        cv2 = self._cv2
        capture = cv2.VideoCapture(int(self.source) if self.source.isdigit() else self.source)
        if not capture.isOpened():
            raise IOError('cannot open camera source %r' % self.source)
        fps = capture.get(cv2.CAP_PROP_FPS)
        return capture.read, capture.release, fps if 0 < fps < 1000 else 30.0

    def _grab(self):
        while not self._stopped.is_set():
            try:
                read, release, fps = self._open()
            except Exception as error:  # noqa: BLE001 - a missing camera is retried, not fatal
                log.error('camera: %s; retrying in 1 s', error)
                self._stopped.wait(1.0)
                continue
            while not self._stopped.is_set():
                ok, frame = read()
                if not ok or frame is None:
                    break  # end of a video file (reopened: looped) or a lost camera
                with self._lock:
                    self._frame = frame
                    self.frames += 1
                self._stopped.wait(1.0 / fps)
            release()

    def jpeg_base64(self):
        """Return the newest frame as base64 JPEG text, None before the first frame."""
        with self._lock:
            frame = self._frame
        if frame is None:
            return None
        ok, jpeg = self._cv2.imencode('.jpg', frame, [self._cv2.IMWRITE_JPEG_QUALITY, 90])
        return base64.b64encode(jpeg.tobytes()).decode('ascii') if ok else None

    def close(self):
        """Stop grabbing."""
        self._stopped.set()


def make_service(guard, frames=None):
    """Return the RPyC service class exposing `guard` as the reference's JetBot service."""

    class JetBotService(rpyc.Service):
        def on_connect(self, conn):
            log.info('host connected')

        def on_disconnect(self, conn):
            log.info('host disconnected')
            guard.stop('disconnect')

        def exposed_set_motors(self, left, right):
            guard.set_motors(left, right)
            return True

        def exposed_stop(self):
            guard.stop('host')

        def exposed_get_motors(self):
            return guard.values

        def exposed_get_camera_frame(self):
            return frames.jpeg_base64() if frames is not None else None

    return JetBotService


def main(argv=None):
    """Serve until SIGINT/SIGTERM; the motors are stopped on the way out."""
    parser = argparse.ArgumentParser(prog='jetbot_server', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--host', default='0.0.0.0', help='address to listen on')
    parser.add_argument('--port', type=int, default=DEFAULT_PORT)
    parser.add_argument('--watchdog', type=float, default=0.5,
                        help='seconds without set_motors before the motors stop (0 = off)')
    parser.add_argument('--emulate', action='store_true', help='simulate the motors')
    parser.add_argument('--record', help='with --emulate: JSON lines of every value commanded')
    parser.add_argument('--camera', help='jetbot (default on the robot), none (default with '
                        '--emulate), or an OpenCV source: index, pipeline, video file')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format='[jetbot_server] %(levelname)s %(message)s')
    motors = EmulatedMotors(args.record) if args.emulate else RobotMotors()
    guard = MotorGuard(motors, args.watchdog)
    camera = args.camera or ('none' if args.emulate else 'jetbot')
    frames = FrameServer(camera) if camera != 'none' else None
    server = ThreadedServer(make_service(guard, frames)(), hostname=args.host, port=args.port,
                            protocol_config={'allow_public_attrs': False})
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    if args.watchdog > 0:
        threading.Thread(target=guard.watch, name='watchdog', daemon=True).start()
    threading.Thread(target=server.start, name='rpyc', daemon=True).start()
    log.info('listening on %s:%d (%s motors, watchdog %s, camera %s)', args.host, args.port,
             'emulated' if args.emulate else 'jetbot', args.watchdog or 'off', camera)
    done.wait()
    server.close()
    guard.close()
    if frames is not None:
        frames.close()
    log.info('stopped after %d commands, %d watchdog stops', guard.commands,
             guard.watchdog_stops)
    return 0


if __name__ == '__main__':
    sys.exit(main())
