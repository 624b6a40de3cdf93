"""jetbot: executes /robot/action and /cmd_vel on a JetBot's two motors.

Topics (relative: in the node's namespace; docs/graph.md)
  robot/action    (nanobot_msgs/Action, reliable)         in: motor_left / motor_right values
                  (or an index into the action space) held for `duration`, see
                  robots/jetbot/motors.py
  cmd_vel         (geometry_msgs/Twist, reliable)         in: linear.x m/s, angular.z rad/s,
                  differential drive, held until `action_timeout` after the newest
  jetbot/motors   (sensor_msgs/JointState, sensor QoS)    out: the values actually commanded,
                  every control tick while the link is up: velocity = normalised motor value
                  in [-1, 1] (left_wheel_joint, right_wheel_joint)
  jetbot/status   (std_msgs/String JSON, transient local) out: link state and counters, at
                  once when the link changes and every second; late joiners get the last one

Backends: `remote` (default) talks RPyC to `host`:`port` (the reference's protocol; run
robots/jetbot/server.py on the robot), `local` uses the jetbot library on the robot itself.

Control runs in its own thread at `control_rate`, so a slow or dead link never blocks the
executor. Faults: an unreachable robot is retried with a delay doubling from `retry_initial` to
`retry_max`, the status says `disconnected` with the reason, and on every (re)connection the
motors are commanded to 0 before anything else; an action that arrived before or during the
outage is dropped, never resumed. Bad actions (NaN/Inf, unknown index, negative duration) are
rejected, counted and stop the motors; out-of-range values are clamped and counted. On shutdown
the motors ramp down and are commanded to 0.
"""
import json
import threading
import time

from nanobot_ros.contract import ACTION, CMD_VEL, JETBOT_MOTORS, JETBOT_STATUS
from nanobot_ros.nodes.common import ERROR, NanobotNode, OK, qos_profile, run, WARN
from nanobot_ros.robots.backoff import Backoff
from nanobot_ros.robots.jetbot.motors import (
    CommandIntake, DOWN, JetBotController, LIMIT_DESCRIPTIONS, LocalMotors, MotorDriver,
    MotorLimits, MotorLink, MotorProfile, RemoteMotors, WHEEL_JOINTS)
from geometry_msgs.msg import Twist
from nanobot_msgs.msg import Action
from sensor_msgs.msg import JointState
from std_msgs.msg import String

DESCRIPTIONS = {
    'backend': 'remote (RPyC to host:port) or local (the jetbot library on this machine)',
    'host': 'remote: the JetBot\'s address',
    'port': 'remote: the JetBot server\'s RPyC port',
    'link_timeout': 'remote: seconds a connect or call may take before the link counts as down',
    'control_rate': 'motor updates per second (Hz)',
    'keepalive': 'resend unchanged values after this many seconds (feeds the robot-side '
                 'watchdog)',
    'retry_initial': 'first reconnect delay (s)',
    'retry_max': 'longest reconnect delay (s)',
    **LIMIT_DESCRIPTIONS,
}


class JetBotNode(NanobotNode):
    """Wires a JetBotController to /robot/action, /cmd_vel and the status topics."""

    def __init__(self):
        super().__init__('jetbot')
        link = MotorLink(**self.declare_config(MotorLink, DESCRIPTIONS))
        self.control_rate = link.control_rate
        self.limits = MotorLimits(**self.declare_config(MotorLimits, DESCRIPTIONS))
        backoff = Backoff(link.retry_initial, link.retry_max)
        if link.backend == 'remote':
            motors = RemoteMotors(link.host, link.port, link.link_timeout)
        else:
            motors = LocalMotors()
        self.driver = MotorDriver(motors, backoff, self._on_link_event, link.keepalive)
        self.controller = JetBotController(self.limits, MotorProfile(self.limits.ramp_time),
                                           self.driver)

        self.intake = CommandIntake(self.limits, self.controller, time.monotonic, self._warn)
        self.motors = (0.0, 0.0)
        self._last_command_time = None
        self._closed = False
        self.control_errors = 0
        self._status_dirty = threading.Event()

        self.motors_pub = self.create_publisher(JointState, JETBOT_MOTORS.name,
                                                qos_profile(JETBOT_MOTORS))
        self.status_pub = self.create_publisher(String, JETBOT_STATUS.name,
                                                qos_profile(JETBOT_STATUS))
        self.create_subscription(Action, ACTION.name, self._on_action, qos_profile(ACTION))
        self.create_subscription(Twist, CMD_VEL.name, self._on_cmd_vel, qos_profile(CMD_VEL))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._control_loop, name='jetbot-control',
                                        daemon=True)
        self._thread.start()
        self.get_logger().info(
            f'{motors.describe()}, {self.control_rate:g} Hz, ramp {self.limits.ramp_time} s, '
            f'action timeout {self.limits.action_timeout} s, motor limit '
            f'{self.limits.motor_limit}')

    def _warn(self, text: str) -> None:
        self.get_logger().warning(text, throttle_duration_sec=2.0)

    def _on_action(self, msg: Action) -> None:
        if self.intake.action(msg.index, list(msg.names), list(msg.values), msg.duration,
                              msg.source) is not None:
            self._last_command_time = time.monotonic()

    def _on_cmd_vel(self, msg: Twist) -> None:
        if self.intake.twist(msg.linear.x, msg.angular.z) is not None:
            self._last_command_time = time.monotonic()

    def _on_link_event(self, level: str, text: str) -> None:
        self.robot_log(level, text)
        self._status_dirty.set()

    def _control_loop(self) -> None:
        period = 1.0 / self.control_rate
        next_tick = time.monotonic()
        while not self._stop.is_set():
            try:
                left, right, result = self.controller.tick(time.monotonic())
                self.motors = (left, right)
                self._publish_motors(left, right, result)
            except Exception as error:  # noqa: BLE001 - the loop that stops motors never dies
                self.control_errors += 1
                self.get_logger().error(f'control tick failed: {type(error).__name__}: '
                                        f'{error}', throttle_duration_sec=5.0)
            if self._status_dirty.is_set():
                self._status_dirty.clear()
                self._publish_status_topic()
            next_tick += period
            wait = next_tick - time.monotonic()
            if wait < -period:  # a slow link call: skip the missed ticks, do not burst
                next_tick = time.monotonic()
            self._stop.wait(max(0.0, wait))

    def _publish_motors(self, left: float, right: float, result: str) -> None:
        if result == DOWN:
            return  # nothing was commanded: /jetbot/status says why
        msg = JointState(name=list(WHEEL_JOINTS), velocity=[left, right])
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = 'base_link'
        self.motors_pub.publish(msg)

    def _values(self) -> dict:
        driver = self.driver
        since = (None if self._last_command_time is None
                 else round(time.monotonic() - self._last_command_time, 3))
        return {
            'link': 'connected' if driver.connected else 'disconnected',
            'robot': driver.backend.describe(), 'connects': driver.connects,
            'link_failures': driver.link_failures, 'last_error': driver.last_error,
            'retry_in_s': round(driver.retry_in, 3),
            'motor_left': round(self.motors[0], 4), 'motor_right': round(self.motors[1], 4),
            **self.intake.counters(), 'halted_by_outage': self.controller.halts,
            'control_errors': self.control_errors,
            'seconds_since_command': since}

    def _publish_status_topic(self) -> None:
        self.status_pub.publish(String(data=json.dumps(self._values())))

    def status(self):
        """Report the link and the counters (also on /jetbot/status)."""
        values = self._values()
        self._publish_status_topic()
        if self._closed:
            values['link'] = 'closed'
            if self.driver.last_sent == (0.0, 0.0):
                return OK, 'stopped: motors commanded to 0', values
            return WARN, 'stopped while the robot was unreachable', values
        if not self.driver.connected:
            return ERROR, f'robot unreachable: {values["last_error"] or "connecting"}', values
        if values['actions_rejected']:
            return WARN, f'{values["actions_rejected"]} actions rejected', values
        return OK, 'connected', values

    def on_shutdown(self) -> None:
        """Ramp the motors down, command 0, close the link, then publish the final status."""
        self.controller.stop(time.monotonic())
        ramp_end = time.monotonic() + self.controller.profile.ramp_time + 1.0 / self.control_rate
        while time.monotonic() < ramp_end and self._thread.is_alive():
            time.sleep(1.0 / self.control_rate)
        self._stop.set()
        self._thread.join(2.0)
        self.driver.close()
        self.motors = (0.0, 0.0)
        self._closed = True
        super().on_shutdown()


def main(args=None):
    """Run the jetbot node."""
    raise SystemExit(run(JetBotNode, args))


if __name__ == '__main__':
    main()
