"""JetBot motors without ROS: action semantics, ramps, backends, reconnection.

Action semantics (the reference's JetBotInterface): an action {'motor_left', 'motor_right',
'duration'} ramps both motors linearly from where they are to the target within `ramp_time`
(the reference: 4 steps of 15 ms), holds them until `duration` has passed since the action
arrived, then ramps them down to 0 within `ramp_time`. A new action takes over from wherever the
motors are, so back-to-back actions move smoothly. Motor values are the JetBot library's
normalised duty values in [-1, 1].

Safety. The motors read 0 at most `action_timeout` after the newest command: a duration longer
than `action_timeout - ramp_time` (`max_duration`) is cut to it and counted, so a controller
that dies mid-action cannot leave the motors running; controllers that want longer motion keep
sending. /cmd_vel (no duration) holds for `max_duration`. Actions with NaN/Inf or unknown
indices are rejected and stop the motors; values beyond `motor_limit` are clamped to it.

Backends: `LocalMotors` (the `jetbot` library's Robot, on the robot itself) and `RemoteMotors`
(the reference's RPyC client: `conn.root.set_motors(left, right)` on port 18861, served by
robots/jetbot/server.py on the robot). `MotorDriver` wraps either: it resends the current values
every `keepalive` seconds (the robot-side server stops the motors when they stop coming),
reconnects with exponential backoff after any failure, and commands 0 first on every
(re)connection.
"""
from dataclasses import dataclass
import math
import threading
import time
from typing import Callable, Optional, Sequence, Tuple

from nanobot_ros.robots.backoff import Backoff

DEFAULT_PORT = 18861
MOTOR_NAMES = ('motor_left', 'motor_right')
# The reference's action space: motor_left 0, motor_right {0, 0.12}, 0.2 s per action.
REFERENCE_LEFT = (0.0, 0.0)
REFERENCE_RIGHT = (0.0, 0.12)
REFERENCE_DURATION = 0.2
# The wheels' joint names (sensor_msgs/JointState), left then right.
WHEEL_JOINTS = ('left_wheel_joint', 'right_wheel_joint')
# What each MotorLimits field means (the nodes' parameter descriptions).
LIMIT_DESCRIPTIONS = {
    'motor_limit': 'largest |motor value|; larger values are clamped and counted',
    'action_timeout': 'watchdog: the motors read 0 this long after the newest command (s)',
    'ramp_time': 'seconds to ramp between values (the reference: 4 steps of 15 ms)',
    'default_duration': 'duration of actions that give 0 (s)',
    'action_space_left': 'motor_left of action index i',
    'action_space_right': 'motor_right of action index i',
    'wheel_separation': '/cmd_vel: distance between the wheels (m)',
    'max_wheel_speed': '/cmd_vel: wheel speed at motor value 1.0 (m/s)',
}


class ActionRejected(ValueError):
    """An action that cannot be executed safely (non-finite, unknown index, negative time)."""


@dataclass
class MotorLimits:
    """How actions and /cmd_vel map to motor values."""

    motor_limit: float = 1.0
    action_timeout: float = 0.5
    ramp_time: float = 0.06
    default_duration: float = REFERENCE_DURATION
    action_space_left: Sequence[float] = REFERENCE_LEFT
    action_space_right: Sequence[float] = REFERENCE_RIGHT
    wheel_separation: float = 0.12    # m between the wheels' contact points
    max_wheel_speed: float = 0.5      # m/s of a wheel at motor value 1.0

    def __post_init__(self):
        if not 0 < self.motor_limit <= 1:
            raise ValueError(f'motor_limit must be in (0, 1], got {self.motor_limit}')
        if self.action_timeout <= 0:
            raise ValueError(f'action_timeout must be > 0, got {self.action_timeout}')
        if not 0 <= self.ramp_time < self.action_timeout:
            raise ValueError(f'ramp_time must be in [0, action_timeout), got {self.ramp_time}')
        if self.default_duration <= 0:
            raise ValueError(f'default_duration must be > 0, got {self.default_duration}')
        if len(self.action_space_left) != len(self.action_space_right):
            raise ValueError('action_space_left and action_space_right need the same length, '
                             f'got {len(self.action_space_left)} and '
                             f'{len(self.action_space_right)}')
        table = list(self.action_space_left) + list(self.action_space_right)
        if not all(math.isfinite(v) and abs(v) <= self.motor_limit for v in table):
            raise ValueError(f'action space values must be finite and within motor_limit '
                             f'{self.motor_limit}')
        if self.wheel_separation <= 0 or self.max_wheel_speed <= 0:
            raise ValueError('wheel_separation and max_wheel_speed must be > 0')

    @property
    def max_duration(self) -> float:
        """Return the longest hold: after it and one ramp down, action_timeout has passed."""
        return self.action_timeout - self.ramp_time


@dataclass
class MotorLink:
    """How the node reaches the motors and how often it drives them."""

    backend: str = 'remote'        # remote (RPyC to host:port) or local (the jetbot library)
    host: str = '127.0.0.1'
    port: int = DEFAULT_PORT
    link_timeout: float = 1.0      # s a connect or call may take before the link counts as down
    control_rate: float = 50.0     # motor updates per second
    keepalive: float = 0.1         # resend unchanged values after this many s (robot watchdog)
    retry_initial: float = 0.2     # first reconnect delay (s)
    retry_max: float = 5.0         # longest reconnect delay (s)

    def __post_init__(self):
        if self.control_rate <= 0 or self.keepalive <= 0 or self.link_timeout <= 0:
            raise ValueError('control_rate, keepalive and link_timeout must be > 0')
        if self.backend not in ('remote', 'local'):
            raise ValueError(f'backend must be remote or local, got {self.backend!r}')


@dataclass
class MotorCommand:
    """Motor values to hold for `duration` seconds; `clamped` says what was limited."""

    left: float
    right: float
    duration: float
    clamped: Tuple[str, ...] = ()


def _limited(name: str, value: float, limit: float, clamped: list) -> float:
    if not math.isfinite(value):
        raise ActionRejected(f'{name} is {value}')
    if abs(value) > limit:
        clamped.append(name)
        return math.copysign(limit, value)
    return value


def _duration(duration: float, limits: MotorLimits, clamped: list) -> float:
    if not math.isfinite(duration) or duration < 0:
        raise ActionRejected(f'duration is {duration}')
    if duration == 0:
        return limits.default_duration
    if duration > limits.max_duration:
        clamped.append('duration')
        return limits.max_duration
    return duration


def action_to_command(index: int, names: Sequence[str], values: Sequence[float],
                      duration: float, limits: MotorLimits) -> MotorCommand:
    """Turn a nanobot_msgs/Action's fields into a MotorCommand, or raise ActionRejected.

    Named values motor_left / motor_right (either may be missing: 0) take precedence; otherwise
    `index` selects a row of the action space (the reference's 0 = stay, 1 = motor_right 0.12).
    Duration 0 means `default_duration`; a 'duration' value stands in for an unset field.
    """
    if len(names) != len(values):
        raise ActionRejected(f'{len(names)} names but {len(values)} values')
    named = dict(zip(names, (float(v) for v in values)))
    clamped = []
    if duration == 0 and 'duration' in named:
        duration = named['duration']
    duration = _duration(float(duration), limits, clamped)
    if any(name in named for name in MOTOR_NAMES):
        left, right = named.get('motor_left', 0.0), named.get('motor_right', 0.0)
    elif 0 <= index < len(limits.action_space_left):
        left, right = limits.action_space_left[index], limits.action_space_right[index]
    else:
        raise ActionRejected(f'index {index} is outside the action space '
                             f'0..{len(limits.action_space_left) - 1} and no motor_left / '
                             f'motor_right values were given')
    left = _limited('motor_left', left, limits.motor_limit, clamped)
    right = _limited('motor_right', right, limits.motor_limit, clamped)
    return MotorCommand(left, right, duration, tuple(clamped))


def twist_to_command(linear_x: float, angular_z: float, limits: MotorLimits) -> MotorCommand:
    """Differential drive: forward speed (m/s) and turn rate (rad/s) to motor values.

    Each wheel's speed is v -/+ w * separation / 2, divided by `max_wheel_speed`. When a wheel
    would exceed `motor_limit` both are scaled down together, which keeps the curvature of the
    path (only the speed drops). Held for `max_duration`, as /cmd_vel streams.
    """
    if not (math.isfinite(linear_x) and math.isfinite(angular_z)):
        raise ActionRejected(f'twist has linear.x {linear_x}, angular.z {angular_z}')
    half_turn = angular_z * limits.wheel_separation / 2
    left = (linear_x - half_turn) / limits.max_wheel_speed
    right = (linear_x + half_turn) / limits.max_wheel_speed
    peak = max(abs(left), abs(right))
    clamped = ()
    if peak > limits.motor_limit:
        scale = limits.motor_limit / peak
        left, right, clamped = left * scale, right * scale, ('cmd_vel',)
    return MotorCommand(left, right, limits.max_duration, clamped)


class MotorProfile:
    """Motor values as a function of time: ramp to a target, hold, ramp down to 0."""

    def __init__(self, ramp_time: float):
        if ramp_time < 0:
            raise ValueError(f'ramp_time must be >= 0, got {ramp_time}')
        self.ramp_time = ramp_time
        self._start = (0.0, 0.0)
        self._target = (0.0, 0.0)
        self._since = 0.0
        self._hold_until = -math.inf

    def _ramp(self, start, target, since: float, now: float):
        done = 1.0 if self.ramp_time == 0 else max(0.0, (now - since) / self.ramp_time)
        if done >= 1.0:
            return tuple(target)  # exactly the target: a stopped motor reads 0.0, not 4e-16
        return tuple(a + (b - a) * done for a, b in zip(start, target))

    def value(self, now: float) -> Tuple[float, float]:
        """Return (left, right) at monotonic time `now`."""
        if now < self._hold_until:
            return self._ramp(self._start, self._target, self._since, now)
        peak = self._ramp(self._start, self._target, self._since, self._hold_until)
        return self._ramp(peak, (0.0, 0.0), self._hold_until, now)

    def command(self, left: float, right: float, duration: float, now: float) -> None:
        """Ramp from the present values to (left, right), hold until now + duration.

        The same target again while it is held only moves the end of the hold: a stream of
        identical actions (a policy at 20 Hz) is one smooth motion, not restarted ramps.
        """
        if (left, right) == self._target and now < self._hold_until:
            self._hold_until = now + duration
            return
        self._start = self.value(now)
        self._target = (left, right)
        self._since = now
        self._hold_until = now + duration

    def stop(self, now: float) -> None:
        """Ramp down to 0 from the present values."""
        self.command(0.0, 0.0, 0.0, now)

    def halt(self) -> None:
        """Zero at once: nothing of an earlier action survives (after a lost connection)."""
        self._start = self._target = (0.0, 0.0)
        self._hold_until = -math.inf

    def moving(self, now: float) -> bool:
        """Return whether any motor value is non-zero at `now`."""
        return any(v != 0.0 for v in self.value(now))


class BackendUnavailable(RuntimeError):
    """A motor backend cannot be used on this machine (e.g. no jetbot library)."""


class LocalMotors:
    """The JetBot's own motor driver: `jetbot.Robot` (on the robot, JetPack)."""

    def __init__(self):
        self._robot = None

    def describe(self) -> str:
        """Return where the motors are."""
        return 'local jetbot.Robot'

    def connect(self) -> None:
        """Create the jetbot.Robot (I2C motor HAT)."""
        try:
            from jetbot import Robot
        except ImportError as error:
            raise BackendUnavailable(f'the jetbot library is not importable ({error}); use '
                                     f'backend: remote from another machine') from None
        self._robot = Robot()

    def set_motors(self, left: float, right: float) -> None:
        """Set both motors."""
        self._robot.set_motors(left, right)

    def close(self) -> None:
        """Stop the motors and let go of the driver."""
        robot, self._robot = self._robot, None
        if robot is not None:
            robot.stop()


class RemoteMotors:
    """The reference's RPyC client: `root.set_motors(left, right)` on a JetBot's server."""

    def __init__(self, host: str, port: int = DEFAULT_PORT, timeout: float = 2.0):
        import rpyc  # here, not at the top: the local backend runs without rpyc
        self._rpyc = rpyc
        self.host, self.port, self.timeout = host, port, timeout
        self._conn = None

    def describe(self) -> str:
        """Return where the motors are."""
        return f'rpyc://{self.host}:{self.port}'

    def connect(self) -> None:
        """Open the RPyC connection; every call on it times out after `timeout` seconds."""
        stream = self._rpyc.SocketStream.connect(self.host, self.port, timeout=self.timeout)
        self._conn = self._rpyc.connect_stream(stream,
                                               config={'sync_request_timeout': self.timeout})

    def set_motors(self, left: float, right: float) -> None:
        """Set both motors on the robot."""
        if self._conn is None:
            raise ConnectionError('not connected')
        self._conn.root.set_motors(float(left), float(right))

    def close(self) -> None:
        """Close the connection (never raises)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a broken socket may fail to close; it is gone
                pass


# A broken link raises whatever its layer raises: socket errors, EOFError, RPyC's re-raised
# remote exceptions (any type), the jetbot library's I2C errors. Each of them means "the motors
# cannot be commanded" and is handled the same way, so the control loop never dies of one.
LINK_ERRORS = (Exception,)

SENT, DOWN, CONNECTED = 'sent', 'down', 'connected'


class MotorDriver:
    """Sends motor values through a backend; reconnects with backoff; 0 first on (re)connect."""

    def __init__(self, backend, backoff: Backoff, log: Callable, keepalive: float = 0.1):
        self.backend = backend
        self.backoff = backoff
        self.log = log
        self.keepalive = keepalive
        self.connected = False
        self.connects = 0
        self.link_failures = 0
        self.last_error = ''
        self.retry_in = 0.0
        self.last_sent: Optional[Tuple[float, float]] = None
        self._last_send_time = -math.inf
        self._retry_at = -math.inf

    def apply(self, left: float, right: float, now: float) -> str:
        """Command (left, right) if connected; return SENT, DOWN or CONNECTED.

        CONNECTED means the link just came (back) up and 0 was sent instead of the values: the
        caller must forget the action it was executing.
        """
        if not self.connected:
            if now < self._retry_at:
                return DOWN
            attempt = time.monotonic()
            try:
                self.backend.connect()
                self.backend.set_motors(0.0, 0.0)
            except LINK_ERRORS as error:
                # The delay counts from the end of the attempt, which may have timed out.
                self._fail(error, now + time.monotonic() - attempt, 'cannot reach')
                return DOWN
            self.connected = True
            self.connects += 1
            self.backoff.reset()
            self.last_sent, self._last_send_time = (0.0, 0.0), now
            self.last_error, self.retry_in = '', 0.0
            self.log('info', f'connected to {self.backend.describe()}; motors commanded to 0')
            return CONNECTED
        if (left, right) != self.last_sent or now - self._last_send_time >= self.keepalive:
            try:
                self.backend.set_motors(left, right)
            except LINK_ERRORS as error:
                self._fail(error, now, 'lost')
                return DOWN
            self.last_sent, self._last_send_time = (left, right), now
        return SENT

    def _fail(self, error: Exception, now: float, what: str) -> None:
        was_connected, self.connected = self.connected, False
        self.link_failures += 1
        self.last_sent = None
        try:
            self.backend.close()
        except LINK_ERRORS:
            pass  # the link is already broken; closing it is best effort
        delay = self.backoff.next_delay()
        self._retry_at, self.retry_in = now + delay, delay
        self.last_error = f'{type(error).__name__}: {error}'
        self.log('error', f'{what} {self.backend.describe()}'
                 f'{" (link was up)" if was_connected else ""}: {self.last_error}; motors '
                 f'cannot be commanded, retrying in {delay:.2f} s')

    def close(self) -> None:
        """Command 0 (if the link is up) and close the backend; never raises."""
        if self.connected:
            try:
                self.backend.set_motors(0.0, 0.0)
                self.last_sent = (0.0, 0.0)
            except LINK_ERRORS as error:
                self.log('error', f'could not command the final stop: {error}')
        self.connected = False
        try:
            self.backend.close()
        except LINK_ERRORS as error:
            self.log('error', f'closing {self.backend.describe()} failed: {error}')


class JetBotController:
    """A MotorProfile executed through a MotorDriver; safe to call from several threads."""

    def __init__(self, limits: MotorLimits, profile: MotorProfile, driver: MotorDriver):
        self.limits = limits
        self.profile = profile
        self.driver = driver
        self._lock = threading.Lock()
        self.commands = 0
        self.halts = 0

    def execute(self, command: MotorCommand, now: float) -> None:
        """Start a command (ramp, hold, ramp down)."""
        with self._lock:
            self.profile.command(command.left, command.right, command.duration, now)
            self.commands += 1

    def stop(self, now: float) -> None:
        """Ramp the motors down to 0 now."""
        with self._lock:
            self.profile.stop(now)

    def tick(self, now: float) -> Tuple[float, float, str]:
        """Send the profile's values for `now`; return (left, right, driver result).

        When the link is down, or just came back, the profile is halted: an action must never
        resume after an outage.
        """
        with self._lock:
            left, right = self.profile.value(now)
        result = self.driver.apply(left, right, now)
        if result != SENT:
            with self._lock:
                if self.profile.moving(now):
                    self.halts += 1
                self.profile.halt()
            left, right = 0.0, 0.0
        return left, right, result


class CommandIntake:
    """/robot/action and /cmd_vel into a JetBotController: checks, counters, clamps, rejects.

    What the JetBot node and the room node share: a bad command (a non-finite value of any
    name, an unknown index, a negative duration) is counted and ramps the motors down; a clamped
    one is counted and warned about; a good one starts at `clock()`. `warn(text)` reports both
    (the node throttles it).
    """

    def __init__(self, limits: MotorLimits, controller: JetBotController,
                 clock: Callable[[], float], warn: Callable[[str], None]):
        self.limits = limits
        self.controller = controller
        self.clock = clock
        self.warn = warn
        self.actions_received = 0
        self.cmd_vel_received = 0
        self.actions_rejected = 0
        self.clamped = 0
        self.last_rejection = ''

    def action(self, index: int, names: Sequence[str], values: Sequence[float],
               duration: float, source: str) -> Optional[MotorCommand]:
        """Execute a nanobot_msgs/Action's fields; return the command, None if rejected."""
        self.actions_received += 1
        what = f'action from {source!r}'
        try:
            bad = [n for n, v in zip(names, values) if not math.isfinite(float(v))]
            if bad:
                raise ActionRejected(f'non-finite values: {bad}')
            command = action_to_command(index, names, values, duration, self.limits)
        except ActionRejected as error:
            return self._reject(what, error)
        return self._execute(command, what)

    def twist(self, linear_x: float, angular_z: float) -> Optional[MotorCommand]:
        """Execute a /cmd_vel Twist's fields; return the command, None if rejected."""
        self.cmd_vel_received += 1
        try:
            command = twist_to_command(linear_x, angular_z, self.limits)
        except ActionRejected as error:
            return self._reject('cmd_vel', error)
        return self._execute(command, 'cmd_vel')

    def _execute(self, command: MotorCommand, what: str) -> MotorCommand:
        if command.clamped:
            self.clamped += 1
            self.warn(f'{what}: clamped {", ".join(command.clamped)} to {command.left:.3f}, '
                      f'{command.right:.3f} for {command.duration:.3f} s')
        self.controller.execute(command, self.clock())
        return command

    def _reject(self, what: str, error: Exception) -> None:
        self.actions_rejected += 1
        self.last_rejection = f'{what}: {error}'
        self.controller.stop(self.clock())
        self.warn(f'rejected {what} ({error}): motors ramp down')

    def counters(self) -> dict:
        """Return the counters for a node's status."""
        return {'actions_received': self.actions_received,
                'cmd_vel_received': self.cmd_vel_received,
                'actions_rejected': self.actions_rejected, 'clamped': self.clamped,
                'last_rejection': self.last_rejection}
