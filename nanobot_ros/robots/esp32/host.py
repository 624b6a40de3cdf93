"""What the ESP32 bridge decides, without rclpy: which values to trust, which command to send.

`TelemetryLayout` maps telemetry channel names to the fields of sensor_msgs/JointState and
sensor_msgs/Imu:

    <joint>.position / <joint>.velocity / <joint>.effort   -> JointState (one entry per joint
                                                             of `joint_names` that has a position)
    accel_x accel_y accel_z  (m/s^2)                        -> Imu.linear_acceleration
    gyro_x gyro_y gyro_z     (rad/s)                        -> Imu.angular_velocity
    quat_w quat_x quat_y quat_z                             -> Imu.orientation (else unknown:
                                                             orientation_covariance[0] = -1)

`check_samples` rejects a sample vector holding a non-finite value or one beyond `limit` (a
measurement cannot be clamped to a safe value, so the whole frame is dropped and counted).
`MotorCommander` turns actions into motor commands: non-finite actions are rejected (motors
stop), finite values beyond the limit are clamped (counted), and a command holds for the
action's duration, at most `action_timeout`, then reads zero.
"""
from dataclasses import dataclass, field
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

IMU_ACCEL = ('accel_x', 'accel_y', 'accel_z')
IMU_GYRO = ('gyro_x', 'gyro_y', 'gyro_z')
IMU_QUAT = ('quat_w', 'quat_x', 'quat_y', 'quat_z')
JOINT_FIELDS = ('position', 'velocity', 'effort')


@dataclass
class TelemetryLayout:
    """Where the standard messages' fields sit in a telemetry vector."""

    names: List[str]
    joint_names: List[str] = field(default_factory=list)

    def __post_init__(self):
        index = {name: i for i, name in enumerate(self.names)}
        if len(index) != len(self.names):
            raise ValueError(f'telemetry_names has duplicates: {self.names}')
        self.joints: Dict[str, Dict[str, int]] = {}
        for joint in self.joint_names:
            fields = {f: index[f'{joint}.{f}'] for f in JOINT_FIELDS if f'{joint}.{f}' in index}
            if 'position' not in fields:
                raise ValueError(f'joint {joint!r} has no telemetry channel {joint}.position')
            self.joints[joint] = fields
        self.accel = _indices(index, IMU_ACCEL)
        self.gyro = _indices(index, IMU_GYRO)
        self.quat = _indices(index, IMU_QUAT)
        # Per frame only these index lists are walked (the bridge does this at 1 kHz).
        self._joint_columns = [
            [fields[f] for fields in self.joints.values()]
            if all(f in fields for fields in self.joints.values()) else []
            for f in JOINT_FIELDS]
        self._imu_fields = (('accel', self.accel), ('gyro', self.gyro), ('quat', self.quat))

    @property
    def has_imu(self) -> bool:
        return self.accel is not None or self.gyro is not None

    def joint_state(self, values: Sequence[float]) -> Tuple[List[str], List[float],
                                                            List[float], List[float]]:
        """Return (names, positions, velocities, efforts); [] for a field some joint lacks."""
        return (list(self.joints), *[[float(values[i]) for i in column]
                                     for column in self._joint_columns])

    def imu(self, values: Sequence[float]) -> dict:
        """Return {'accel', 'gyro', 'quat'}: (x, y, z) / (w, x, y, z) tuples or None."""
        return {key: None if indices is None else tuple(float(values[i]) for i in indices)
                for key, indices in self._imu_fields}

    def names_for(self, count: int) -> List[str]:
        """Return channel names for a frame of `count` values (extras named value_<i>)."""
        if count == len(self.names):
            return self.names
        return (self.names + [f'value_{i}' for i in range(len(self.names), count)])[:count]


def _indices(index: dict, names: Sequence[str]) -> Optional[Tuple[int, ...]]:
    if all(n in index for n in names):
        return tuple(index[n] for n in names)
    return None


def check_samples(values, limit: float) -> Optional[str]:
    """Return why `values` are unusable (non-finite or |v| > limit), or None if they are fine."""
    values = np.asarray(values, dtype=np.float64)
    # One reduction on the fast path: NaN and Inf fail `<= limit` as well.
    if values.size == 0 or np.abs(values).max() <= limit:
        return None
    finite = np.isfinite(values)
    if not finite.all():
        i = int(np.argmin(finite))
        return f'value {i} is {values[i]}'
    i = int(np.argmax(np.abs(values) > limit))
    return f'value {i} = {values[i]:g} is beyond +-{limit:g}'


@dataclass
class MotorCommander:
    """The command the bridge sends each period, from the newest action and the clock."""

    motor_names: List[str]
    limit: float = 1.0
    action_timeout: float = 0.5
    accepted: int = 0
    rejected: int = 0
    clamped: int = 0
    shortened: int = 0   # actions whose duration was cut to action_timeout
    _command: Tuple[float, ...] = ()
    _expires: float = -math.inf

    def __post_init__(self):
        if not self.motor_names or len(set(self.motor_names)) != len(self.motor_names):
            raise ValueError(f'motor_names must be distinct and non-empty: {self.motor_names}')
        if not (self.limit > 0 and math.isfinite(self.limit)):
            raise ValueError(f'motor_limit must be a positive number, got {self.limit}')
        if not self.action_timeout > 0:
            raise ValueError(f'action_timeout must be > 0, got {self.action_timeout}')
        self._command = self.zero

    @property
    def zero(self) -> Tuple[float, ...]:
        return (0.0,) * len(self.motor_names)

    def on_action(self, names: Sequence[str], values: Sequence[float], duration: float,
                  now: float) -> Optional[str]:
        """Take an action; return None if applied (maybe clamped) or why it was rejected.

        A rejected action stops the motors: whoever sent it meant to command them, and the
        only safe reading of a command that makes no sense is stop.
        """
        names, values = list(names), [float(v) for v in values]
        reason = None
        if len(names) != len(values):
            reason = f'{len(names)} names but {len(values)} values'
        elif not set(self.motor_names) & set(names):
            reason = f'names {names} contain none of the motors {self.motor_names}'
        elif not (math.isfinite(duration) and duration >= 0):
            reason = f'duration {duration} is not a finite number >= 0'
        else:
            commanded = dict(zip(names, values))
            bad = [n for n in self.motor_names if n in commanded
                   and not math.isfinite(commanded[n])]
            if bad:
                reason = f'non-finite command for {bad}'
        if reason is not None:
            self.rejected += 1
            self._command, self._expires = self.zero, -math.inf
            return reason
        command = []
        for name in self.motor_names:
            value = commanded.get(name, 0.0)
            if abs(value) > self.limit:
                self.clamped += 1
                value = math.copysign(self.limit, value)
            command.append(value)
        self.accepted += 1
        if duration > self.action_timeout:
            # The bridge's watchdog: a controller that dies mid-action cannot leave the motors
            # running longer than this; one that wants longer motion keeps sending.
            self.shortened += 1
        hold = min(duration, self.action_timeout) if duration > 0 else self.action_timeout
        self._command, self._expires = tuple(command), now + hold
        return None

    def is_stale(self, now: float) -> bool:
        """Return whether the newest action has run out (or none came)."""
        return now > self._expires

    def command(self, now: float) -> Tuple[float, ...]:
        """Return the motor command for `now`: zero once the action has run out."""
        return self.zero if self.is_stale(now) else self._command
