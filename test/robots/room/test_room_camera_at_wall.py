"""A camera at a wall sees the wall: never cut away by the near plane, never inside it.

MuJoCo's default near plane (1 % of the model's extent: 4.3 cm in the 2 m room) cut away a
wall closer than that, so the camera saw the outside of the room through it; and the lens, 2 cm
ahead of the chassis, went into a wall the chassis touched. Depth images say what is seen.
"""
import numpy as np

from nanobot_ros.robots.room.mjcf import CAMERA_FRONT
from nanobot_ros.robots.room.world import RoomConfig, RoomWorld


def depth(world: RoomWorld) -> np.ndarray:
    """Metres from the camera to what each pixel shows."""
    renderer = world.renderer
    renderer.enable_depth_rendering()
    try:
        renderer.update_scene(world.data, camera='front')
        return renderer.render().copy()
    finally:
        renderer.disable_depth_rendering()


def test_a_wall_in_front_of_the_lens_fills_the_view():
    world = RoomWorld(RoomConfig(img_size=64, layout_seed=0))
    try:
        east = world.config.room_size[0] / 2
        for gap in (0.005, 0.02, 0.04):  # the robot's front that far from the east wall
            world.set_pose(east - CAMERA_FRONT - gap, 0.3, 0.3)
            seen = depth(world)
            # Every pixel is the wall, a few cm away (0.3 rad off its normal, 45 degrees to the
            # edge of the view): nothing beyond it, the outside of the room.
            assert float(seen.max()) < 0.2, f'{gap} m from the wall: {seen.max():.2f} m seen'
    finally:
        world.close()


def test_driving_into_a_wall_keeps_the_lens_in_the_room():
    world = RoomWorld(RoomConfig(img_size=64, layout_seed=0))
    try:
        south = -world.config.room_size[1] / 2
        world.set_pose(-0.3, south + 0.3, -np.pi / 2)  # facing the south wall, 30 cm away
        for _ in range(15):  # 4 cm each: pinned against the wall after about 6
            world.step(1)
        lens_y = float(world.data.cam_xpos[world.model.camera('front').id][1])
        assert south < lens_y < south + 0.03  # at the wall, on the room's side of it
        assert float(depth(world).max()) < 0.2
    finally:
        world.close()
