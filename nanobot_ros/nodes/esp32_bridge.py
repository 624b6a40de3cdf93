"""esp32_bridge: the ESP32 board on the ROS graph, over the serial protocol v1.

Topics (relative: in the node's namespace; docs/graph.md)
  robot/telemetry   (nanobot_msgs/Telemetry, sensor-data QoS)     out: every valid TELEMETRY frame
  robot/surface     (nanobot_msgs/SurfaceVector, sensor-data QoS) out: every valid SURFACE frame
  joint_states      (sensor_msgs/JointState, `qos_reliability`)   out: `<joint>.position` etc.
  imu/data_raw      (sensor_msgs/Imu, `qos_reliability`)          out: accel_* / gyro_* / quat_*
  robot/action      (nanobot_msgs/Action, reliable)               in:  `motor_names` values
  diagnostics       status(): link, frame and value counters

Every `heartbeat_period` the bridge sends a HEARTBEAT and the current MOTOR command (so the
device's watchdog is fed while the host lives); an action is also sent at once. A command holds
for the action's duration, at most `action_timeout`, then the bridge sends zeros. Corrupt frames
are counted and dropped by the decoder; values that are not finite or beyond
`telemetry_limit` drop their frame (counted); bad actions stop the motors (counted), finite
commands beyond `motor_limit` are clamped (counted). The serial link reconnects by itself.
Stamps are the sample time: the frame's device_ms mapped to host time (robots/esp32/clock_sync), or
with `stamp: receive` the time the frame arrived.
"""
import time

import numpy as np

from nanobot_ros.data.convert import make_surface, make_telemetry
from nanobot_ros.contract import ACTION, COMMAND, IMU, JOINT_STATES, SENSOR, SURFACE, TELEMETRY
from nanobot_ros.nodes.common import ERROR, NanobotNode, OK, qos_profile, run, WARN
from nanobot_ros.robots.esp32 import protocol as proto
from nanobot_ros.robots.esp32.clock_sync import DeviceClock
from nanobot_ros.robots.esp32.host import check_samples, MotorCommander, TelemetryLayout
from nanobot_ros.robots.esp32.link import SerialLink
from nanobot_ros.robots.esp32.bridge_config import BridgeConfig
from nanobot_msgs.msg import Action, SurfaceVector, Telemetry
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.parameter import Parameter
from rclpy.time import Time
from sensor_msgs.msg import Imu, JointState


# qos_reliability -> the profile of joint_states and imu/data_raw. Reliable publishers serve
# best-effort subscribers too.
RELIABILITIES = {'best_effort': SENSOR, 'reliable': COMMAND}
DESCRIPTIONS = {
    'port': 'serial device (or a /dev/serial/by-id link)',
    'baudrate': 'UART baud rate (ignored by ptys)',
    'telemetry_names': 'names of the TELEMETRY channels in the device\'s order; unset = the '
                       'names the device sends in its DESCRIBE frame',
    'joint_names': 'joints published on /joint_states from <joint>.position [.velocity '
                   '.effort]; [] = none',
    'motor_names': 'Action value names sent as MOTOR frame, in order',
    'motor_limit': 'commands are clamped to +-this',
    'action_timeout': 'seconds an action holds at most before motors stop',
    'heartbeat_period': 'seconds between HEARTBEAT + MOTOR frames to the device',
    'device_timeout': 'seconds without a valid frame before the device is silent',
    'telemetry_limit': 'telemetry / surface values beyond +-this are rejected',
    'frame_id': 'frame_id of telemetry and joints',
    'imu_frame_id': 'frame_id of /imu/data_raw',
    'publish_joint_states': 'publish /joint_states',
    'publish_imu': 'publish /imu/data_raw',
    'reconnect_backoff_max': 'longest wait between attempts to reopen the port (s)',
    'stamp': 'device: the sample time (the frame\'s device_ms mapped to host time); receive: '
             'when the frame arrived',
    'qos_reliability': 'best_effort | reliable: QoS reliability of joint_states and imu/data_raw',
}


class Esp32BridgeNode(NanobotNode):
    """Serial frames <-> topics; the algorithm lives in robots/esp32/."""

    def __init__(self):
        super().__init__('esp32_bridge')
        values = self.declare_config(BridgeConfig, DESCRIPTIONS, skip=('telemetry_names',))
        names = self.declare_parameter(
            'telemetry_names', Parameter.Type.STRING_ARRAY, ParameterDescriptor(
                description=DESCRIPTIONS['telemetry_names'])).value
        config = BridgeConfig(telemetry_names=names, **values)
        names = names or []
        joints, motor_names = config.joint_names, config.motor_names
        port, baudrate, stamp = config.port, config.baudrate, config.stamp
        self.commander = MotorCommander(motor_names, limit=config.motor_limit,
                                        action_timeout=config.action_timeout)
        self.heartbeat_period, self.device_timeout = config.heartbeat_period, config.device_timeout
        self.telemetry_limit = config.telemetry_limit
        self.frame_id, self.imu_frame_id = config.frame_id, config.imu_frame_id
        publish_joints, publish_imu = config.publish_joint_states, config.publish_imu
        backoff_max, reliability = config.reconnect_backoff_max, config.qos_reliability
        if reliability not in RELIABILITIES:
            raise ValueError(f'qos_reliability must be best_effort or reliable, got '
                             f'{reliability!r}')
        # Sample time = device_ms + min(receive - device_ms) over the last 10 s.
        self.device_clock = DeviceClock() if stamp == 'device' else None
        self.joint_names = joints
        # Until the device describes its channels (or telemetry_names does) values are named
        # value_<i> and no JointState / Imu can be made.
        self.layout = TelemetryLayout(names, joints) if names else TelemetryLayout([])
        self.names_from = 'parameter' if names else 'none'
        self._described_on = None
        self._make_messages()
        self._surface_msg = SurfaceVector()
        self._surface_msg.header.frame_id = self.frame_id

        self.telemetry_published = 0
        self.surface_published = 0
        self.rejected_frames = 0
        self.rejected_values = 0
        self.device_heartbeats = 0
        self.device_flags = 0
        self.device_counters = (0, 0)
        self.unexpected_frames = 0
        self.actions_received = 0
        self._last_device_frame = None
        self._stale = True
        self._warned_count = set()

        self.telemetry_pub = self.create_publisher(Telemetry, TELEMETRY.name,
                                                   qos_profile(TELEMETRY))
        self.surface_pub = self.create_publisher(SurfaceVector, SURFACE.name, qos_profile(SURFACE))
        standard_qos = qos_profile(RELIABILITIES[reliability])
        self.joint_pub = (self.create_publisher(JointState, JOINT_STATES.name, standard_qos)
                          if publish_joints and joints else None)
        self.imu_pub = (self.create_publisher(Imu, IMU.name, standard_qos)
                        if publish_imu else None)
        self.create_subscription(Action, ACTION.name, self._on_action, qos_profile(ACTION))
        self.create_timer(self.heartbeat_period, self._on_heartbeat)
        self.link = SerialLink(port, int(baudrate), self._on_frame, self.robot_log,
                               backoff_max=backoff_max).start()
        self.get_logger().info(
            f'bridging {port} (telemetry channels: {names or "as the device describes"}, '
            f'joints {joints}, motors {motor_names}); heartbeat {self.heartbeat_period} s, '
            f'actions hold at most {self.commander.action_timeout} s; stamps: {stamp} time, '
            f'/joint_states and /imu/data_raw {reliability}')

    # Device -> ROS (runs in the link's reader thread) -----------------------------------------

    def _on_frame(self, frame: proto.Frame) -> None:
        self._last_device_frame = time.monotonic()
        received_ns = self.get_clock().now().nanoseconds
        if frame.type == proto.FrameType.TELEMETRY:
            self._on_samples(frame, self._publish_telemetry, received_ns)
        elif frame.type == proto.FrameType.SURFACE:
            self._on_samples(frame, self._publish_surface, received_ns)
        elif frame.type == proto.FrameType.DESCRIBE:
            self._on_describe(frame)
        elif frame.type == proto.FrameType.HEARTBEAT:
            try:
                _ms, ok, bad, self.device_flags = proto.unpack_heartbeat(frame.payload)
            except ValueError as error:
                self._reject(frame, str(error), values=0)
                return
            self.device_heartbeats += 1
            self.device_counters = (ok, bad)
        else:
            self.unexpected_frames += 1

    def _on_describe(self, frame: proto.Frame) -> None:
        try:
            names = proto.unpack_describe(frame.payload)
        except ValueError as error:
            self._reject(frame, str(error), values=0)
            return
        if not names:
            self.unexpected_frames += 1  # a request: only the device answers those
            return
        first = self._described_on is None
        self._described_on = self.link.connects
        if self.names_from == 'parameter':
            if names != self.layout.names and first:
                self.get_logger().warning(
                    f'the device describes {len(names)} channels {names} but telemetry_names '
                    f'is {self.layout.names}: using telemetry_names')
            return
        if names == self.layout.names:
            return
        try:
            layout = TelemetryLayout(names, self.joint_names)
        except ValueError as error:
            self.get_logger().error(f'device channels {names}: {error}; no /joint_states')
            layout = TelemetryLayout(names)
        self.layout, self.names_from = layout, 'device'
        self._make_messages()  # this thread is the only one that publishes them
        self.get_logger().info(f'the device describes {len(names)} telemetry channels: '
                               f'{", ".join(names)}')

    def _on_samples(self, frame: proto.Frame, publish, received_ns: int) -> None:
        try:
            device_ms, values = proto.unpack_samples(frame.payload)
        except ValueError as error:
            self._reject(frame, str(error), values=0)
            return
        problem = check_samples(values, self.telemetry_limit)
        if problem is not None:
            self._reject(frame, problem, values=1)
            return
        publish(frame.sequence, values, self._sample_stamp(device_ms, received_ns))

    def _sample_stamp(self, device_ms: int, received_ns: int):
        if self.device_clock is None:
            return Time(nanoseconds=received_ns).to_msg()
        resets = self.device_clock.resets
        stamp_ns = self.device_clock.stamp(device_ms, received_ns)
        if self.device_clock.resets > resets:
            self.get_logger().info(
                f'device clock stepped back (to {device_ms} ms: the device restarted): time '
                f'sync starts over ({self.device_clock.resets} so far)')
        return Time(nanoseconds=stamp_ns).to_msg()

    def _reject(self, frame: proto.Frame, reason: str, values: int) -> None:
        self.rejected_frames += 1
        self.rejected_values += values
        self.get_logger().warning(
            f'dropped {proto.FrameType(frame.type).name} frame {frame.sequence}: {reason}',
            throttle_duration_sec=2.0)

    def _publish_telemetry(self, sequence: int, values: np.ndarray, stamp) -> None:
        # The messages are reused: publish() serialises them before returning.
        layout = self.layout
        if (layout.names and len(values) != len(layout.names)
                and len(values) not in self._warned_count):
            self._warned_count.add(len(values))
            self.get_logger().warning(
                f'telemetry frame has {len(values)} values but {len(layout.names)} channel '
                f'names ({self.names_from}): extra values are named value_<i>, JointState and '
                f'Imu are skipped for such frames')
        msg = make_telemetry(layout.names_for(len(values)), values, sequence,
                             msg=self._telemetry_msg)
        msg.header.stamp = stamp
        self.telemetry_pub.publish(msg)
        self.telemetry_published += 1
        if len(values) != len(layout.names):
            return
        values = values.tolist()
        if self.joint_pub is not None and layout.joints:
            joints = self._joint_msg
            joints.header.stamp = stamp
            _names, joints.position, joints.velocity, joints.effort = (
                layout.joint_state(values))
            self.joint_pub.publish(joints)
        if self.imu_pub is not None and layout.has_imu:
            imu = self._imu_msg
            imu.header.stamp = stamp
            fields = layout.imu(values)
            if fields['quat'] is not None:
                o = imu.orientation
                o.w, o.x, o.y, o.z = fields['quat']
            if fields['accel'] is not None:
                a = imu.linear_acceleration
                a.x, a.y, a.z = fields['accel']
            if fields['gyro'] is not None:
                w = imu.angular_velocity
                w.x, w.y, w.z = fields['gyro']
            self.imu_pub.publish(imu)

    def _make_messages(self) -> None:
        self._telemetry_msg = Telemetry()
        self._telemetry_msg.header.frame_id = self.frame_id
        self._joint_msg = JointState()
        self._joint_msg.header.frame_id = self.frame_id
        self._joint_msg.name = list(self.layout.joints)
        imu = self._imu_msg = Imu()
        imu.header.frame_id = self.imu_frame_id
        # REP 145: covariance unknown = zeros; a quantity not measured = -1 in element 0.
        if self.layout.quat is None:
            imu.orientation_covariance[0] = -1.0
        if self.layout.accel is None:
            imu.linear_acceleration_covariance[0] = -1.0
        if self.layout.gyro is None:
            imu.angular_velocity_covariance[0] = -1.0

    def _publish_surface(self, sequence: int, values: np.ndarray, stamp) -> None:
        msg = make_surface(values, sequence, source='esp32', msg=self._surface_msg)
        msg.header.stamp = stamp
        self.surface_pub.publish(msg)
        self.surface_published += 1

    # ROS -> device ---------------------------------------------------------------------------

    def _on_action(self, msg: Action) -> None:
        self.actions_received += 1
        shortened = self.commander.shortened
        problem = self.commander.on_action(msg.names, msg.values, msg.duration,
                                           time.monotonic())
        if problem is not None:
            self.get_logger().warning(f'rejected action from {msg.source!r}: {problem}; '
                                      f'motors stop', throttle_duration_sec=2.0)
        elif self.commander.shortened > shortened:
            self.get_logger().warning(
                f'action from {msg.source!r}: duration {msg.duration:g} s cut to action_timeout '
                f'{self.commander.action_timeout:g} s ({self.commander.shortened} so far); send '
                f'again to move longer', throttle_duration_sec=5.0)
        self._send_motor()

    def _send_motor(self) -> None:
        now = time.monotonic()
        stale = self.commander.is_stale(now)
        if stale and not self._stale:
            self.get_logger().info('no fresh action: motors commanded to zero')
        self._stale = stale
        self.link.send(proto.FrameType.MOTOR, proto.pack_motor(self.commander.command(now)))

    def _on_heartbeat(self) -> None:
        if self.names_from != 'parameter' and self._described_on != self.link.connects:
            # Ask (again, each period) until this connection's device has described itself.
            self.link.send(proto.FrameType.DESCRIBE, proto.pack_describe([]))
        stats = self.link.decoder.stats
        now_ms = int(time.monotonic() * 1000)
        self.link.send(proto.FrameType.HEARTBEAT,
                       proto.pack_heartbeat(now_ms, stats.frames_ok, stats.frames_bad))
        self._send_motor()

    # Status -----------------------------------------------------------------------------------

    def status(self):
        """Link, frame and value counters; ERROR when the port is down, WARN when silent."""
        stats, link = self.link.decoder.stats, self.link
        silent_for = (None if self._last_device_frame is None
                      else round(time.monotonic() - self._last_device_frame, 3))
        values = {
            'connected': link.connected, 'port': link.port_name,
            'frames_ok': stats.frames_ok, 'frames_bad': stats.frames_bad,
            'crc_errors': stats.errors['crc_errors'], 'resyncs': stats.resyncs,
            'frame_errors': dict(stats.errors), 'frames_lost': stats.frames_lost,
            'bytes_in': stats.bytes_in, 'bytes_discarded': stats.bytes_discarded,
            'reconnects': link.reconnects, 'disconnects': link.disconnects,
            'open_failures': link.open_failures, 'write_errors': link.write_errors,
            'frames_sent': link.frames_sent, 'frames_unsent': link.frames_unsent,
            'telemetry_published': self.telemetry_published,
            'surface_published': self.surface_published,
            'rejected_frames': self.rejected_frames, 'rejected_values': self.rejected_values,
            'unexpected_frames': self.unexpected_frames,
            'telemetry_names_from': self.names_from,
            'handler_errors': link.handler_errors,
            'actions_received': self.actions_received,
            'actions_rejected': self.commander.rejected,
            'actions_clamped': self.commander.clamped,
            'actions_shortened': self.commander.shortened,
            'motor_command': list(self.commander.command(time.monotonic())),
            'device_heartbeats': self.device_heartbeats,
            'device_watchdog_stopped': bool(self.device_flags
                                            & proto.HEARTBEAT_WATCHDOG_STOPPED),
            'device_frames_ok': self.device_counters[0],
            'device_frames_bad': self.device_counters[1],
            'device_silent_s': silent_for,
            'device_clock_resets': self.device_clock.resets if self.device_clock else 0,
            'device_clock_offset_ms': (
                None if self.device_clock is None or self.device_clock.offset_ns is None
                else round(self.device_clock.offset_ns / 1e6, 3)),
        }
        if not link.connected:
            return ERROR, f'port down: {link.last_error}', values
        if silent_for is None or silent_for > self.device_timeout:
            return WARN, 'device silent', values
        return OK, 'running', values

    def on_shutdown(self) -> None:
        """Command zero, report, close the port."""
        self.link.send(proto.FrameType.MOTOR, proto.pack_motor(self.commander.zero))
        super().on_shutdown()
        self.link.stop()


def main(args=None):
    """Run the esp32_bridge node."""
    raise SystemExit(run(Esp32BridgeNode, args))


if __name__ == '__main__':
    main()
