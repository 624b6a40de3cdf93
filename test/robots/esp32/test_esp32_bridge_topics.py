"""esp32_bridge on an emulated board: telemetry, surface, joints and IMU out; actions in."""
import time

import numpy as np
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.time import Time

from esp32_support import BridgeReports, start_emulator
from nanobot_ros.contract import ACTION, COMMAND, IMU, JOINT_STATES, SENSOR, SURFACE, TELEMETRY
from nanobot_ros.data.convert import make_action, surface_to_numpy, telemetry_values
from nanobot_ros.nodes.common import qos_profile
from nanobot_ros.robots.esp32.emulator import channel_names, check_value, GRAVITY
from nanobot_msgs.msg import Action, SurfaceVector, Telemetry
from sensor_msgs.msg import Imu, JointState

SETTLED_STEPS = 40  # telemetry steps (200 Hz) whose stamps are judged once the clock settled


def test_bridge_publishes_device_frames_and_drives_its_motors(ros, nodes, tmp_path):
    emulator = start_emulator(tmp_path, telemetry_rate=200.0, surface_rate=20.0,
                              surface_size=16)
    got = {Telemetry: [], SurfaceVector: [], JointState: [], Imu: []}
    for msg_type, topic in ((SurfaceVector, SURFACE.fqn()),
                            (JointState, JOINT_STATES.fqn()), (Imu, IMU.fqn())):
        ros.node.create_subscription(msg_type, topic, got[msg_type].append, qos_profile(SENSOR))
    received_ns = []  # when this process got each telemetry message, in step with got[Telemetry]

    def on_telemetry(msg):
        got[Telemetry].append(msg)
        received_ns.append(ros.node.get_clock().now().nanoseconds)
    ros.node.create_subscription(Telemetry, TELEMETRY.fqn(), on_telemetry, qos_profile(SENSOR))
    reports = BridgeReports(ros)
    actions = ros.node.create_publisher(Action, ACTION.fqn(), qos_profile(COMMAND))
    bridge = nodes.start('esp32_bridge', params={'port': str(tmp_path / 'ttyESP32')})
    try:
        assert ros.spin_until(lambda: all(len(v) >= 5 for v in got.values()), timeout=20), \
            {t.__name__: len(v) for t, v in got.items()}

        telemetry = got[Telemetry][-1]
        # The channel names come from the device's DESCRIBE frame (no telemetry_names set).
        assert list(telemetry.names) == channel_names(16)
        values = telemetry_values(telemetry)
        assert [values[f'check_{k}'] for k in range(4)] == [
            check_value(telemetry.sequence, k) for k in range(4)]
        assert values['accel_z'] == np.float32(GRAVITY)
        assert telemetry.header.frame_id == 'esp32' and telemetry.header.stamp.sec > 0
        # Stamps are the device's sample times mapped to host time: rising with the device
        # counter, never later than arrival, and over a pty only a few ms after the sample.
        stamps = [Time.from_msg(m.header.stamp).nanoseconds for m in got[Telemetry]]
        steps = [b - a for a, b in zip(stamps, stamps[1:])]
        assert all(step > 0 for step in steps), [(i, s) for i, s in enumerate(steps) if s <= 0]

        # Device time is whole milliseconds: while the offset estimate holds, so are the steps
        # (receive times would be arbitrary nanoseconds). The estimate settles as the window's
        # minimum delay is found, which takes longer the busier the machine: judge the newest
        # SETTLED_STEPS steps once they are (a lower delay found later moves it again).
        def newest_steps():
            stamps = [Time.from_msg(m.header.stamp).nanoseconds
                      for m in got[Telemetry][-SETTLED_STEPS - 1:]]
            return [b - a for a, b in zip(stamps, stamps[1:])]

        def settled():
            steps = newest_steps()
            return len(steps) == SETTLED_STEPS and \
                sum(step % 1_000_000 == 0 for step in steps) > 0.8 * SETTLED_STEPS
        assert ros.spin_until(settled, timeout=20), newest_steps()
        stamps = [Time.from_msg(m.header.stamp).nanoseconds for m in got[Telemetry]]
        lags_ms = sorted((r - s) / 1e6 for s, r in zip(stamps, received_ns))
        assert lags_ms[0] >= 0, lags_ms[:5]
        assert Time.from_msg(got[JointState][-1].header.stamp).nanoseconds in stamps
        assert Time.from_msg(got[Imu][-1].header.stamp).nanoseconds in stamps
        joints = got[JointState][-1]
        assert list(joints.name) == ['wheel_left', 'wheel_right']
        assert len(joints.position) == 2 and len(joints.velocity) == 2
        imu = got[Imu][-1]
        assert imu.linear_acceleration.z == np.float32(GRAVITY)
        assert imu.orientation_covariance[0] == -1.0  # no orientation measured
        surface = surface_to_numpy(got[SurfaceVector][-1])
        assert surface.shape == (16,) and abs(np.linalg.norm(surface) - 1) < 1e-5
        # The clock's offset (host - device time) is the emulated device's own (its counter
        # counts from its start) plus the smallest delay it saw on the pty. How long messages
        # then queued on their way here (their lags: a median of 9.4 ms in a run at load 5) is
        # the machine's load, not the stamps'.
        heard = len(reports.levels)
        assert ros.spin_until(lambda: len(reports.levels) > heard, timeout=5)
        device_offset_ms = (time.time_ns() - emulator.now_ms() * 1_000_000) / 1e6  # up to 1 ms
        assert -1 <= reports.get('device_clock_offset_ms') - device_offset_ms < 10, \
            (reports.get('device_clock_offset_ms'), device_offset_ms, lags_ms)

        # Actions drive the emulated motors, and the device reports what it applies.
        def drive():
            actions.publish(make_action(names=['motor_left', 'motor_right'],
                                        values=[0.5, -0.25], source='pytest'))
            ros.spin_for(0.1)
            return emulator.motors == [0.5, -0.25]
        assert ros.spin_until(drive, timeout=10)
        count = len(got[Telemetry])
        assert ros.spin_until(lambda: any(
            telemetry_values(m)['motor_left'] == 0.5 for m in got[Telemetry][count:]), 5)
        assert ros.spin_until(lambda: reports.get('device_heartbeats') > 0
                              and reports.get('frames_ok') > 0, timeout=5)
        assert reports.get('frames_bad') == 0 and reports.get('connected') is True
        assert reports.get('telemetry_names_from') == 'device'
        assert emulator.describe_requests >= 1
        assert nodes.stop(bridge) == 0
    finally:
        emulator.stop()


def test_standard_topics_can_be_reliable(ros, nodes, tmp_path):
    emulator = start_emulator(tmp_path, telemetry_rate=100.0)
    imu, joints = [], []
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)  # rclpy's default
    ros.node.create_subscription(Imu, IMU.fqn(), imu.append, reliable)
    ros.node.create_subscription(JointState, JOINT_STATES.fqn(), joints.append, reliable)
    bridge = nodes.start('esp32_bridge', params={'port': str(tmp_path / 'ttyESP32'),
                                                 'qos_reliability': 'reliable',
                                                 'stamp': 'receive'})
    try:
        assert ros.spin_until(lambda: len(imu) >= 5 and len(joints) >= 5, timeout=20), \
            (len(imu), len(joints))
        assert imu[-1].linear_acceleration.z == np.float32(GRAVITY)
        assert nodes.stop(bridge) == 0
    finally:
        emulator.stop()
