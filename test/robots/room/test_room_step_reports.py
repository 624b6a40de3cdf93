"""What the room robot reports each step did (robot/action_executed), without ROS."""
import pytest

from nanobot_ros.robots.room.robot import Executed, RoomRobot, RoomRobotConfig
from nanobot_ros.robots.room.world import RoomConfig, RoomMotorLimits


@pytest.fixture(scope='module')
def robot():
    warnings = []
    robot = RoomRobot(RoomConfig(objects=0, shadow_size=0), RoomMotorLimits(),
                      RoomRobotConfig(), warnings.append)
    robot.warnings = warnings
    yield robot
    robot.close()


def test_table_actions_report_their_index(robot):
    robot.action(1, ['action'], [1.0], 0.0, 'pytest')
    assert robot.step() == Executed(1, 0.4, 0.4, 0.2, 'pytest')
    robot.action(-1, ['motor_left', 'motor_right'], [-0.2, 0.2], 0.0, 'pytest')
    assert robot.step() == Executed(3, -0.2, 0.2, 0.2, 'pytest')   # the table's 'left'


def test_steps_without_a_command_are_idle_or_watchdog_stops(robot):
    assert robot.step() == Executed(0, 0.0, 0.0, 0.0, 'idle')
    assert robot.step(stale=True) == Executed(0, 0.0, 0.0, 0.0, 'watchdog')


def test_other_commands_and_motions_still_running_have_no_index(robot):
    # 0.44 s (the longest hold) outlasts the 0.3 s step: the next step is still moving
    robot.action(-1, ['motor_left', 'motor_right'], [0.3, 0.3], 0.44, 'pytest')
    assert robot.step() == Executed(-1, 0.3, 0.3, pytest.approx(0.44), 'pytest')
    assert robot.step() == Executed(-1, 0.0, 0.0, 0.0, 'idle')
    assert robot.step() == Executed(0, 0.0, 0.0, 0.0, 'idle')


def test_rejected_commands_are_counted_and_not_reported(robot):
    assert robot.action(9, ['action'], [9.0], 0.0, 'pytest') is None
    assert robot.intake.actions_rejected == 1
    assert 'rejected action from' in robot.warnings[-1]
    assert robot.step() == Executed(0, 0.0, 0.0, 0.0, 'idle')
