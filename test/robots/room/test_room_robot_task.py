"""The room robot with the room task: table commands are the task's actions, others spend none."""
import numpy as np

from nanobot_ros.robots.jetbot.motors import MOTOR_NAMES
from nanobot_ros.robots.room.robot import RoomRobot, RoomRobotConfig
from nanobot_ros.robots.room.task import RoomTask, RoomTaskConfig, STOP


def robot_with_task(warnings: list):
    """Return (a room robot running the room task's episode of seed 3, the task)."""
    task = RoomTask(RoomTaskConfig())
    task.reset(3)
    return RoomRobot(task.config.world, task.world.limits, RoomRobotConfig(task='room'),
                     warnings.append, task), task


def test_the_experts_commands_through_the_driver_intake_succeed():
    warnings = []
    robot, task = robot_with_task(warnings)
    assert robot.world is task.world and (robot.frame == task.render()).all()
    limits = robot.limits
    while not task.done:
        index = task.expert()
        # as the kernel sends it: the table row's motor values by name, float32
        robot.action(-1, MOTOR_NAMES, np.float32((limits.action_space_left[index],
                                                  limits.action_space_right[index])).tolist(),
                     0.0, 'kernel')
        executed = robot.step()
        assert (executed.index, executed.source) == (index, 'kernel')
        assert (robot.frame == task.render()).all()
    assert task.reached and task.steps == robot.steps
    assert robot.intake.counters()['actions_rejected'] == 0 and warnings == []


def test_other_motor_values_and_idle_steps_spend_no_budget():
    robot, task = robot_with_task([])
    x, y, _ = task.world.pose
    robot.action(-1, MOTOR_NAMES, (0.3, 0.3), 0.0, 'teleop')  # no row of the table
    executed = robot.step()
    assert (executed.index, executed.source, task.steps) == (-1, 'teleop', 0)
    assert task.world.pose[:2] != (x, y)  # it moved all the same
    assert robot.step().source == 'idle' and task.steps == 0
    robot.action(STOP, (), (), 0.0, 'kernel')
    assert robot.step().index == STOP and task.steps == 1
