"""The room robot's drive without ROS: forward distance, turn direction, a wall stops it."""
import math

import pytest

from nanobot_ros.robots.room.world import ACTION_NAMES, RoomConfig, RoomWorld

FORWARD, BACKWARD, LEFT, RIGHT = (ACTION_NAMES.index(n) for n in
                                  ('forward', 'backward', 'left', 'right'))


@pytest.fixture(scope='module')
def world():
    world = RoomWorld(RoomConfig(objects=0, shadow_size=0))
    yield world
    world.close()


def expected_travel(world, action):
    """Return the distance each wheel covers: motor value x max_wheel_speed x duration.

    The ramp up loses as much as the ramp down adds, so the hold's duration is what counts.
    """
    limits = world.limits
    left = limits.action_space_left[action] * limits.max_wheel_speed * limits.default_duration
    right = limits.action_space_right[action] * limits.max_wheel_speed * limits.default_duration
    return left, right


def test_forward_for_a_duration_moves_forward_by_the_expected_distance(world):
    heading = 0.6
    world.set_pose(0.0, 0.0, heading)
    for _ in range(5):
        world.step(FORWARD)
    x, y, yaw = world.pose
    expected = 5 * expected_travel(world, FORWARD)[0]     # 5 x 4 cm
    assert math.hypot(x, y) == pytest.approx(expected, rel=0.05)
    assert math.atan2(y, x) == pytest.approx(heading, abs=0.01)   # straight ahead
    assert yaw == pytest.approx(heading, abs=0.01)
    assert world.velocity[0] == pytest.approx(0.0, abs=0.01)      # at rest after the action


def test_backward_moves_back(world):
    world.set_pose(0.0, 0.0, 0.0)
    world.step(BACKWARD)
    assert world.pose[0] == pytest.approx(-expected_travel(world, FORWARD)[0], rel=0.05)


@pytest.mark.parametrize('heading', [0.0, 2.0, -2.5])
def test_turns_turn_the_right_way_at_any_heading(world, heading):
    left_wheel, right_wheel = expected_travel(world, LEFT)
    expected = (right_wheel - left_wheel) / world.limits.wheel_separation   # ~19 degrees
    world.set_pose(0.0, 0.0, heading)
    world.step(LEFT)
    turned = math.remainder(world.pose[2] - heading, math.tau)
    assert turned == pytest.approx(expected, rel=0.05)            # counter-clockwise
    world.step(RIGHT)
    world.step(RIGHT)
    turned = math.remainder(world.pose[2] - heading, math.tau)
    assert turned == pytest.approx(-expected, rel=0.05)           # back past the start
    x, y, _ = world.pose
    assert math.hypot(x, y) < 0.005                               # on the spot


def test_a_wall_stops_the_robot(world):
    wall = world.config.room_size[0] / 2
    world.set_pose(wall - 0.3, 0.0, 0.0)
    for _ in range(20):     # 80 cm of forward commands toward a wall 30 cm ahead
        world.step(FORWARD)
    stopped = world.pose
    assert wall - 0.1 < stopped[0] < wall                         # at the wall, not through it
    world.step(FORWARD)
    assert world.pose[0] == pytest.approx(stopped[0], abs=0.002)  # pushing does not move it
    assert abs(stopped[1]) < 0.01 and abs(stopped[2]) < 0.05      # and did not spin it
