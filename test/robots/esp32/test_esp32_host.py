"""The bridge's decisions without ROS: trusted values, motor commands, message field mapping."""
import math

import pytest

from nanobot_ros.robots.esp32.emulator import channel_names
from nanobot_ros.robots.esp32.host import check_samples, MotorCommander, TelemetryLayout

MOTORS = ['motor_left', 'motor_right']


def test_check_samples_rejects_non_finite_and_out_of_range():
    assert check_samples([0.0, -5.0, 1e5], limit=1e6) is None
    assert 'nan' in check_samples([0.0, math.nan], limit=1e6)
    assert 'inf' in check_samples([math.inf], limit=1e6)
    assert 'beyond' in check_samples([2e6], limit=1e6)


def test_actions_hold_for_their_duration_at_most_the_timeout():
    commander = MotorCommander(MOTORS, action_timeout=0.5)
    assert commander.command(0.0) == (0.0, 0.0) and commander.is_stale(0.0)
    assert commander.on_action(MOTORS, [0.3, -0.4], 0.0, now=10.0) is None
    assert commander.command(10.4) == pytest.approx((0.3, -0.4))
    assert commander.command(10.51) == (0.0, 0.0)
    commander.on_action(MOTORS, [0.3, 0.3], 0.2, now=20.0)
    assert commander.command(20.19) != (0.0, 0.0) and commander.command(20.21) == (0.0, 0.0)
    assert commander.shortened == 0
    commander.on_action(MOTORS, [0.3, 0.3], 5.0, now=30.0)  # capped at the timeout, counted
    assert commander.command(30.51) == (0.0, 0.0)
    assert commander.shortened == 1


def test_out_of_range_commands_are_clamped_and_counted():
    commander = MotorCommander(MOTORS, limit=0.8)
    assert commander.on_action(MOTORS, [3.0, -9.0], 0.0, now=0.0) is None
    assert commander.command(0.1) == (0.8, -0.8)
    assert commander.clamped == 2
    commander.on_action(['motor_right'], [0.5], 0.0, now=1.0)  # a missing motor gets 0
    assert commander.command(1.1) == (0.0, 0.5)


@pytest.mark.parametrize('names, values, duration', [
    (MOTORS, [math.nan, 0.1], 0.0),
    (MOTORS, [0.1, math.inf], 0.0),
    (MOTORS, [0.1], 0.0),
    (['action'], [1.0], 0.0),
    (MOTORS, [0.1, 0.1], math.nan),
    (MOTORS, [0.1, 0.1], -1.0),
])
def test_bad_actions_are_rejected_and_stop_the_motors(names, values, duration):
    commander = MotorCommander(MOTORS)
    commander.on_action(MOTORS, [0.5, 0.5], 0.0, now=0.0)
    assert commander.on_action(names, values, duration, now=0.1) is not None
    assert commander.rejected == 1
    assert commander.command(0.2) == (0.0, 0.0)


def test_layout_maps_the_emulator_channels_to_joint_state_and_imu():
    names = channel_names(16)
    layout = TelemetryLayout(names, ['wheel_left', 'wheel_right'])
    values = [float(i) for i in range(16)]
    joint_names, position, velocity, effort = layout.joint_state(values)
    assert joint_names == ['wheel_left', 'wheel_right']
    assert position == [2.0, 3.0] and velocity == [4.0, 5.0] and effort == []
    imu = layout.imu(values)
    assert imu == {'accel': (6.0, 7.0, 8.0), 'gyro': (9.0, 10.0, 11.0), 'quat': None}
    assert layout.names_for(18)[-2:] == ['value_16', 'value_17']


def test_layout_rejects_bad_names():
    with pytest.raises(ValueError, match='duplicates'):
        TelemetryLayout(['a', 'a'])
    with pytest.raises(ValueError, match='no telemetry channel knee.position'):
        TelemetryLayout(['a'], ['knee'])
    with pytest.raises(ValueError):
        MotorCommander([])
