"""An ESP32 that is not there: speaks protocol v1 on a real pty pair, simulates two motors.

The device end is the pty master; the host end is the slave, reached through a symlink
(`link`, e.g. /tmp/nanobot_esp32) exactly as a udev name such as /dev/serial/by-id/... is.
Unplugging closes both ends and removes the symlink (the host's reads fail with EIO, as with a
USB adapter pulled out); plugging in makes a new pty and points the symlink at it.

What it does, at the configured rates: TELEMETRY frames (the channels of `channel_names`:
motor outputs, wheel positions and velocities, IMU accelerations and rates, then `check_<k>`
channels that are a fixed function of the frame's sequence number so a test can prove each
delivered frame is uncorrupted), SURFACE frames (a slowly rotating unit vector), HEARTBEAT
frames every `heartbeat_period`, a DESCRIBE frame (its channel names) when plugged in and when
the host asks. It applies MOTOR frames (finite values clamped to -1 .. 1,
anything else stops the motors) and honours the firmware contract: no valid frame for
`watchdog_ms` -> motors stop.

Fault injection on what it sends (each counted in `faults`): bit flips at `bit_error_rate` per
bit, bytes dropped at `drop_byte_rate`, frames cut short at `truncate_rate`, bursts of random
bytes at `burst_rate` per frame, non-finite / out-of-range telemetry at `bad_value_rate` per
frame, and unplugs every `disconnect_period` seconds for `disconnect_duration` seconds.
"""
from collections import Counter
from dataclasses import dataclass
import errno
import math
import os
from pathlib import Path
import select
import threading
import time
import tty
from typing import List, Optional

import numpy as np

from nanobot_ros.robots.esp32 import protocol as proto

NAMED_CHANNELS = ('motor_left', 'motor_right',
                  'wheel_left.position', 'wheel_right.position',
                  'wheel_left.velocity', 'wheel_right.velocity',
                  'accel_x', 'accel_y', 'accel_z', 'gyro_x', 'gyro_y', 'gyro_z')
GRAVITY = 9.80665
# Bytes buffered between the device and the host's read(): on a real link the UART TX ring,
# the USB-serial adapter and the kernel's tty buffer (~64 KB); here ~0.45 s at 1 kHz of 32
# floats. Beyond it bytes are lost, as they are when a host does not read.
TX_BUFFER_BYTES = 64 * 1024


def channel_names(size: int) -> List[str]:
    """Return the emulator's telemetry channel names for `size` channels."""
    if size < len(NAMED_CHANNELS):
        raise ValueError(f'telemetry_size must be >= {len(NAMED_CHANNELS)}, got {size}')
    return list(NAMED_CHANNELS) + [f'check_{k}' for k in range(size - len(NAMED_CHANNELS))]


def check_value(sequence: int, k: int) -> float:
    """Return the value of channel check_<k> in the frame numbered `sequence` (exact float32)."""
    return float((sequence * (k + 1) + k) % 65521)


@dataclass
class EmulatorConfig:
    """What the emulated device does; rates in Hz, times in seconds unless named _ms."""

    link: str = '/tmp/nanobot_esp32'
    telemetry_rate: float = 100.0
    telemetry_size: int = 16
    surface_rate: float = 10.0
    surface_size: int = 64
    heartbeat_period: float = 0.1
    watchdog_ms: int = 200
    wheel_speed: float = 10.0  # rad/s at motor command 1
    bit_error_rate: float = 0.0
    drop_byte_rate: float = 0.0
    truncate_rate: float = 0.0
    burst_rate: float = 0.0
    bad_value_rate: float = 0.0
    disconnect_period: float = 0.0
    disconnect_duration: float = 0.3
    seed: int = 0

    def __post_init__(self):
        channel_names(self.telemetry_size)
        if not 1 <= self.surface_size <= proto.MAX_FLOATS:
            raise ValueError(f'surface_size must be 1 .. {proto.MAX_FLOATS}')
        if self.telemetry_size > proto.MAX_FLOATS:
            raise ValueError(f'telemetry_size must be <= {proto.MAX_FLOATS}')
        for name in ('bit_error_rate', 'drop_byte_rate', 'truncate_rate', 'burst_rate',
                     'bad_value_rate'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f'{name} must be within 0 .. 1')
        if self.telemetry_rate < 0 or self.surface_rate < 0 or self.heartbeat_period <= 0:
            raise ValueError('rates must be >= 0 and heartbeat_period > 0')
        if self.watchdog_ms <= 0:
            raise ValueError('watchdog_ms must be > 0')


class Esp32Emulator:
    """The emulated device; `start()` runs it in a thread, `stop()` ends it."""

    def __init__(self, config: EmulatorConfig):
        self.config = config
        self.names = channel_names(config.telemetry_size)
        self.rng = np.random.default_rng(config.seed)
        self.encoder = proto.FrameEncoder()
        self.decoder = proto.FrameDecoder()
        self.motors = [0.0, 0.0]
        self.wheel_position = [0.0, 0.0]
        self.watchdog_stopped = False
        self.watchdog_trips = 0
        self.motor_frames = 0
        self.motor_rejected = 0
        self.heartbeats_received = 0
        self.last_host_heartbeat: Optional[tuple] = None
        self.frames_sent = Counter()
        self.frames_damaged = 0
        self.faults = Counter()
        self.plugs = 0
        self.tx_overflow_bytes = 0
        self._master: Optional[int] = None
        self._slave: Optional[int] = None
        self._tx = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._start = time.monotonic()
        self._last_valid = -math.inf
        self._describe_due = False
        self.describe_requests = 0

    # Plugging -----------------------------------------------------------------------------

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def plug(self) -> str:
        """Create a new pty, point the link at it; return the slave's device path."""
        with self._lock:
            if self._master is not None:
                return os.ttyname(self._slave)
            master, slave = os.openpty()
            # Raw from the start: no echo or line editing may touch binary frames before the
            # host opens the port (pyserial makes it raw again when it does).
            tty.setraw(slave)
            tty.setraw(master)
            os.set_blocking(master, False)
            path = os.ttyname(slave)
            link = Path(self.config.link)
            temporary = link.with_name(link.name + '.new')
            temporary.unlink(missing_ok=True)
            temporary.symlink_to(path)
            os.replace(temporary, link)
            self._master, self._slave = master, slave
            self._tx.clear()
            self.decoder.reset()
            self.plugs += 1
            self._describe_due = True  # as firmware does at boot
            return path

    def unplug(self) -> None:
        """Close both pty ends and remove the link, as pulling the USB cable does."""
        with self._lock:
            if self._master is None:
                return
            Path(self.config.link).unlink(missing_ok=True)
            os.close(self._master)
            os.close(self._slave)
            self._master = self._slave = None
            self._tx.clear()

    # Running ------------------------------------------------------------------------------

    def start(self) -> 'Esp32Emulator':
        """Plug in and run the device loop in a thread."""
        self.plug()
        self._thread = threading.Thread(target=self._run, name='esp32-emulator', daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the loop and unplug."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self.unplug()

    def now_ms(self) -> int:
        return int((time.monotonic() - self._start) * 1000) & 0xFFFFFFFF

    def _run(self) -> None:
        config = self.config
        telemetry_period = 1.0 / config.telemetry_rate if config.telemetry_rate > 0 else math.inf
        surface_period = 1.0 / config.surface_rate if config.surface_rate > 0 else math.inf
        now = time.monotonic()
        next_telemetry, next_surface, next_heartbeat = now, now, now
        next_unplug = now + config.disconnect_period if config.disconnect_period > 0 else math.inf
        replug_at = math.inf
        last_physics = now
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_unplug:
                self.unplug()
                self.faults['disconnects'] += 1
                replug_at, next_unplug = now + config.disconnect_duration, math.inf
            if now >= replug_at:
                self.plug()
                replug_at = math.inf
                next_unplug = now + config.disconnect_period
            self._receive()
            self._watchdog(now)
            self._physics(now - last_physics)
            last_physics = now
            # Catch up on what is due, but never burst more than 0.1 s of frames at once.
            if now - next_telemetry > 0.1:
                next_telemetry = now
            while next_telemetry <= now:
                self._send(proto.FrameType.TELEMETRY, self._telemetry_payload())
                next_telemetry += telemetry_period
            if now >= next_surface:
                self._send(proto.FrameType.SURFACE, self._surface_payload(now))
                next_surface = max(next_surface + surface_period, now)
            if self._describe_due:
                self._describe_due = False
                self._send(proto.FrameType.DESCRIBE, proto.pack_describe(self.names))
            if now >= next_heartbeat:
                self._send(proto.FrameType.HEARTBEAT, self._heartbeat_payload())
                next_heartbeat = now + config.heartbeat_period
            self._flush()
            wake = min(next_telemetry, next_surface, next_heartbeat, replug_at, next_unplug,
                       now + 0.005)
            self._wait(max(0.0, wake - time.monotonic()))

    def _wait(self, timeout: float) -> None:
        master = self._master
        if master is None:
            time.sleep(timeout)
            return
        writers = [master] if self._tx else []
        try:
            select.select([master], writers, [], timeout)
        except (OSError, ValueError):  # unplugged by another thread meanwhile
            time.sleep(timeout)

    # Host -> device -----------------------------------------------------------------------

    def _receive(self) -> None:
        master = self._master
        if master is None:
            return
        try:
            data = os.read(master, 65536)
        except BlockingIOError:
            return
        except OSError as error:
            if error.errno in (errno.EIO, errno.EBADF):  # no host has the port open
                return
            raise
        for frame in self.decoder.feed(data):
            self._handle(frame)

    def _handle(self, frame: proto.Frame) -> None:
        self._last_valid = time.monotonic()
        if frame.type == proto.FrameType.MOTOR:
            self.motor_frames += 1
            try:
                values = proto.unpack_motor(frame.payload)
            except ValueError:
                values = ()
            if len(values) != 2 or not proto.finite(values):
                # The firmware contract: never apply what is not a finite command; stop.
                self.motor_rejected += 1
                self.motors = [0.0, 0.0]
                return
            self.motors = [min(1.0, max(-1.0, v)) for v in values]
            self.watchdog_stopped = False
        elif frame.type == proto.FrameType.DESCRIBE:
            self.describe_requests += 1
            self._describe_due = True
        elif frame.type == proto.FrameType.HEARTBEAT:
            self.heartbeats_received += 1
            try:
                self.last_host_heartbeat = proto.unpack_heartbeat(frame.payload)
            except ValueError:
                pass

    def _watchdog(self, now: float) -> None:
        if now - self._last_valid > self.config.watchdog_ms / 1000.0 and any(self.motors):
            self.motors = [0.0, 0.0]
            self.watchdog_stopped = True
            self.watchdog_trips += 1

    def _physics(self, dt: float) -> None:
        for i in range(2):
            self.wheel_position[i] += self.motors[i] * self.config.wheel_speed * dt

    # Device -> host -----------------------------------------------------------------------

    def _telemetry_payload(self) -> bytes:
        sequence = self.encoder.sequence
        t = time.monotonic() - self._start
        speed = self.config.wheel_speed
        values = [self.motors[0], self.motors[1],
                  self.wheel_position[0], self.wheel_position[1],
                  self.motors[0] * speed, self.motors[1] * speed,
                  0.1 * math.sin(t), 0.1 * math.cos(t), GRAVITY,
                  0.0, 0.0, (self.motors[1] - self.motors[0]) * 0.5]
        values += [check_value(sequence, k) for k in range(len(self.names) - len(values))]
        if self.config.bad_value_rate and self.rng.random() < self.config.bad_value_rate:
            bad = [math.nan, math.inf, -math.inf, 1e30][self.rng.integers(4)]
            values[int(self.rng.integers(len(values)))] = bad
            self.faults['bad_values'] += 1
        return proto.pack_samples(self.now_ms(), values)

    def _surface_payload(self, now: float) -> bytes:
        size = self.config.surface_size
        phase = (now - self._start) * 0.5
        vector = np.cos(phase + np.arange(size) * (2 * math.pi / size))
        vector /= max(np.linalg.norm(vector), 1e-9)
        return proto.pack_samples(self.now_ms(), vector.astype(np.float32).tolist())

    def _heartbeat_payload(self) -> bytes:
        flags = ((proto.HEARTBEAT_WATCHDOG_STOPPED if self.watchdog_stopped else 0)
                 | (proto.HEARTBEAT_MOTORS_ON if any(self.motors) else 0))
        return proto.pack_heartbeat(self.now_ms(), self.decoder.stats.frames_ok,
                                    self.decoder.stats.frames_bad, flags)

    def _send(self, frame_type: int, payload: bytes) -> None:
        wire = self.encoder.encode(frame_type, payload)
        self.frames_sent[proto.FrameType(frame_type).name.lower()] += 1
        if self._master is None:
            return  # nobody on the other end: the bytes go nowhere
        damaged = self._inject_faults(wire)
        if damaged != wire:
            self.frames_damaged += 1
        room = TX_BUFFER_BYTES - len(self._tx)
        if len(damaged) > room:
            self.tx_overflow_bytes += len(damaged) - room
            damaged = damaged[:room]
        self._tx += damaged

    def _inject_faults(self, wire: bytes) -> bytes:
        config, rng = self.config, self.rng
        if not (config.bit_error_rate or config.drop_byte_rate or config.truncate_rate
                or config.burst_rate):
            return wire
        data = np.frombuffer(wire, dtype=np.uint8).copy()
        if config.truncate_rate and rng.random() < config.truncate_rate:
            data = data[:int(rng.integers(1, len(data)))]
            self.faults['truncated_frames'] += 1
        if config.burst_rate and rng.random() < config.burst_rate:
            length = int(rng.integers(2, 33))
            start = int(rng.integers(0, len(data)))
            burst = rng.integers(0, 256, size=min(length, len(data) - start), dtype=np.uint8)
            data[start:start + len(burst)] = burst
            self.faults['bursts'] += 1
        if config.bit_error_rate:
            flips = rng.binomial(len(data) * 8, config.bit_error_rate)
            if flips:
                bits = rng.integers(0, len(data) * 8, size=flips)
                np.bitwise_xor.at(data, bits // 8, (1 << (bits % 8)).astype(np.uint8))
                self.faults['bit_flips'] += int(flips)
        if config.drop_byte_rate:
            keep = rng.random(len(data)) >= config.drop_byte_rate
            self.faults['dropped_bytes'] += int((~keep).sum())
            data = data[keep]
        return data.tobytes()

    def _flush(self) -> None:
        with self._lock:
            if self._master is None or not self._tx:
                return
            try:
                written = os.write(self._master, self._tx)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno == errno.EIO:
                    return
                raise
            del self._tx[:written]

    def summary(self) -> dict:
        """Return the device's counters (what its status report shows)."""
        return {
            'plugged': self.plugged, 'plugs': self.plugs,
            'frames_sent': dict(self.frames_sent), 'frames_damaged': self.frames_damaged,
            'faults': dict(self.faults), 'motors': list(self.motors),
            'watchdog_stopped': self.watchdog_stopped, 'watchdog_trips': self.watchdog_trips,
            'motor_frames': self.motor_frames, 'motor_rejected': self.motor_rejected,
            'heartbeats_received': self.heartbeats_received,
            'describe_requests': self.describe_requests,
            'rx_frames_ok': self.decoder.stats.frames_ok,
            'rx_frames_bad': self.decoder.stats.frames_bad,
            'tx_overflow_bytes': self.tx_overflow_bytes,
        }
