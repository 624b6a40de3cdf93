"""A share of the room's start poses at a wall: facing it close up, clear of the objects."""
import math

import pytest

from nanobot_ros.robots.room.mjcf import CAMERA_FRONT
from nanobot_ros.robots.room.world import RoomConfig, RoomWorld, WALL_FACING, WALL_GAP

SEEDS = range(60)


def wall_figures(world: RoomWorld):
    """Return (front's distance to the nearest wall, heading's angle off that wall's normal)."""
    x, y, yaw = world.pose
    half_x, half_y = (size / 2 for size in world.config.room_size)
    # (distance from the axle, the wall's outward normal) for +x, +y, -x, -y
    walls = [(half_x - x, 0.0), (half_y - y, math.pi / 2), (half_x + x, math.pi),
             (half_y + y, -math.pi / 2)]
    distance, normal = min(walls)
    off = abs(math.remainder(yaw - normal, 2 * math.pi))
    return distance - CAMERA_FRONT, off


def start_poses(share: float):
    world = RoomWorld(RoomConfig(img_size=16, objects=3, shadow_size=0, start_at_wall=share))
    try:
        poses = []
        for seed in SEEDS:
            world.reset(seed)
            poses.append((wall_figures(world), world.pose, world.objects))
        return poses
    finally:
        world.close()


def test_every_start_pose_faces_a_wall_close_up_clear_of_the_objects():
    for (gap, off), (x, y, _), objects in start_poses(1.0):
        assert WALL_GAP[0] - 1e-9 <= gap <= WALL_GAP[1] + 1e-9
        assert off <= WALL_FACING + 1e-9
        assert all(math.hypot(x - o.x, y - o.y) > RoomConfig.start_clearance + o.size
                   for o in objects)


def test_by_default_no_start_pose_is_at_a_wall():
    assert all(gap >= RoomConfig.start_clearance - CAMERA_FRONT
               for (gap, _), _, _ in start_poses(0.0))


def test_half_the_start_poses_at_a_wall_with_a_share_of_one_half():
    at_wall = sum(gap <= WALL_GAP[1] + 1e-9 for (gap, _), _, _ in start_poses(0.5))
    assert 20 <= at_wall <= 40  # of 60: binomial(60, 0.5) lies here 98 % of the time


def test_a_share_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match=r'^start_at_wall must be a share in \[0, 1\], got 1.5$'):
        RoomConfig(start_at_wall=1.5)
