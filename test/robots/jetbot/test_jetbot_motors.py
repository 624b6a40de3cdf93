"""JetBot action semantics without ROS: parsing, clamping, differential drive, ramps."""
import math

import pytest

from nanobot_ros.robots.backoff import Backoff
from nanobot_ros.robots.jetbot.motors import (ActionRejected, action_to_command, MotorLimits,
                                              MotorProfile, twist_to_command)

LIMITS = MotorLimits()


def test_reference_index_actions_map_to_motor_right():
    stay = action_to_command(0, ['action'], [0.0], 0.0, LIMITS)
    move = action_to_command(1, ['action'], [1.0], 0.0, LIMITS)
    assert (stay.left, stay.right, stay.duration) == (0.0, 0.0, 0.2)
    assert (move.left, move.right, move.duration) == (0.0, 0.12, 0.2)


def test_named_values_and_reference_dict_duration():
    command = action_to_command(-1, ['motor_left', 'motor_right', 'duration'],
                                [0.1, -0.2, 0.3], 0.0, LIMITS)
    assert (command.left, command.right, command.duration) == (0.1, -0.2, 0.3)
    assert command.clamped == ()


@pytest.mark.parametrize('names,values,duration', [
    (['motor_left'], [math.nan], 0.2),
    (['motor_right'], [math.inf], 0.2),
    (['motor_right'], [0.1], -1.0),
    (['motor_right'], [0.1], math.nan),
    (['action'], [7.0], 0.2),   # index 7 (below) outside the two-action space
    (['motor_right'], [], 0.2),
])
def test_unsafe_actions_are_rejected(names, values, duration):
    with pytest.raises(ActionRejected):
        action_to_command(7, names, values, duration, LIMITS)


def test_out_of_range_values_and_durations_are_clamped():
    limits = MotorLimits(motor_limit=0.3, action_timeout=0.5, ramp_time=0.1)
    command = action_to_command(-1, ['motor_left', 'motor_right'], [-5.0, 0.9], 3.0, limits)
    # Held 0.4 s, ramped down in 0.1 s: zero when the 0.5 s timeout is over.
    assert (command.left, command.right, command.duration) == (-0.3, 0.3, 0.4)
    assert set(command.clamped) == {'motor_left', 'motor_right', 'duration'}


def test_twist_is_differential_drive():
    limits = MotorLimits(wheel_separation=0.1, max_wheel_speed=0.5)
    forward = twist_to_command(0.25, 0.0, limits)
    assert forward.left == forward.right == pytest.approx(0.5)
    turn_left = twist_to_command(0.0, 2.0, limits)  # counter-clockwise: right wheel forward
    assert turn_left.right == pytest.approx(0.2) and turn_left.left == pytest.approx(-0.2)
    assert forward.duration == limits.action_timeout - limits.ramp_time


def test_twist_beyond_the_limit_keeps_the_curvature():
    limits = MotorLimits(motor_limit=0.5, wheel_separation=0.1, max_wheel_speed=0.5)
    command = twist_to_command(1.0, 5.0, limits)  # wheels 1.5 and 2.5 before scaling
    assert command.right == pytest.approx(0.5)
    assert command.left / command.right == pytest.approx(1.5 / 2.5)
    assert command.clamped == ('cmd_vel',)
    with pytest.raises(ActionRejected):
        twist_to_command(math.nan, 0.0, limits)


def test_profile_ramps_up_holds_and_ramps_down():
    profile = MotorProfile(ramp_time=0.1)
    profile.command(0.0, 0.12, 0.5, now=10.0)
    assert profile.value(10.0) == (0.0, 0.0)
    assert profile.value(10.05)[1] == pytest.approx(0.06)   # half-way up the ramp
    assert profile.value(10.1)[1] == pytest.approx(0.12)
    assert profile.value(10.49)[1] == pytest.approx(0.12)   # held for the duration
    assert profile.value(10.55)[1] == pytest.approx(0.06)   # half-way down
    assert profile.value(10.61) == (0.0, 0.0)  # exactly 0 once the ramp is over
    assert not profile.moving(11.0)


def test_a_new_action_ramps_from_where_the_motors_are():
    profile = MotorProfile(ramp_time=0.1)
    profile.command(0.2, 0.2, 1.0, now=0.0)
    profile.command(-0.2, 0.0, 1.0, now=0.05)  # arrives half-way up the first ramp
    assert profile.value(0.05) == pytest.approx((0.1, 0.1))
    assert profile.value(0.10) == pytest.approx((-0.05, 0.05))
    assert profile.value(0.15) == pytest.approx((-0.2, 0.0))


def test_repeating_the_held_action_extends_it_without_a_new_ramp():
    profile = MotorProfile(ramp_time=0.1)
    profile.command(0.0, 0.2, 0.2, now=0.0)
    profile.command(0.0, 0.2, 0.2, now=0.05)   # mid-ramp: the ramp goes on unchanged
    assert profile.value(0.1) == (0.0, 0.2)
    profile.command(0.0, 0.2, 0.2, now=0.15)   # held: now until 0.35
    assert profile.value(0.34) == (0.0, 0.2)
    assert profile.value(0.45) == (0.0, 0.0)


def test_halt_forgets_the_action():
    profile = MotorProfile(ramp_time=0.1)
    profile.command(0.3, 0.3, 1.0, now=0.0)
    profile.halt()
    assert profile.value(0.5) == (0.0, 0.0)


def test_backoff_doubles_up_to_the_maximum_and_resets():
    backoff = Backoff(initial=0.2, maximum=1.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.reset()
    assert backoff.next_delay() == 0.2
    with pytest.raises(ValueError):
        Backoff(initial=0.0)


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match='motor_limit'):
        MotorLimits(motor_limit=1.5)
    with pytest.raises(ValueError, match='same length'):
        MotorLimits(action_space_left=[0.0], action_space_right=[0.0, 0.1])
    with pytest.raises(ValueError, match='ramp_time'):
        MotorLimits(action_timeout=0.5, ramp_time=0.5)
    with pytest.raises(ValueError, match='within motor_limit'):
        MotorLimits(motor_limit=0.1, action_space_right=[0.0, 0.12])
