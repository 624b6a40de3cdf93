"""The room robot's episodes: every `reset_every` steps it is put down at a new pose, at rest."""
from nanobot_ros.contract import RESET_SOURCE
from nanobot_ros.robots.room.robot import Executed, RoomRobot, RoomRobotConfig
from nanobot_ros.robots.room.world import RoomConfig, RoomMotorLimits


def robot_with_resets(seed: int) -> RoomRobot:
    return RoomRobot(RoomConfig(objects=2, shadow_size=0), RoomMotorLimits(),
                     RoomRobotConfig(seed=seed, reset_every=3), lambda text: None)


def drive(robot: RoomRobot) -> list:
    """Three forward commands (the third step is a reset); return [(report, pose)]."""
    steps = []
    for _ in range(3):
        robot.action(1, ['action'], [1.0], 0.0, 'pytest')
        steps.append((robot.step(), robot.world.pose))
    return steps


def test_every_third_step_puts_the_robot_down_elsewhere_at_rest_and_says_so():
    robot = robot_with_resets(seed=4)
    try:
        start = robot.world.pose
        (first, after_first), (_, after_second), (third, after_reset) = drive(robot)
        assert first == Executed(1, 0.4, 0.4, 0.2, 'pytest')
        assert third == Executed(-1, 0.0, 0.0, 0.0, RESET_SOURCE)
        assert robot.resets == 1
        # the forward commands drove it ~4 cm each; the reset moved it far from there
        assert abs(after_first[0] - start[0]) + abs(after_first[1] - start[1]) > 0.02
        jump = abs(after_reset[0] - after_second[0]) + abs(after_reset[1] - after_second[1])
        assert jump > 0.1
        assert robot.motors == (0.0, 0.0)
        # the next command drives from the new pose as usual
        robot.action(1, ['action'], [1.0], 0.0, 'pytest')
        assert robot.step() == Executed(1, 0.4, 0.4, 0.2, 'pytest')
    finally:
        robot.close()


def test_the_reset_poses_follow_the_seed():
    poses = []
    for _ in range(2):
        robot = robot_with_resets(seed=4)
        try:
            poses.append([pose for _, pose in drive(robot)])
        finally:
            robot.close()
    assert poses[0] == poses[1]
