"""Dynamics of the toroidal dot world: wrap, speed, stay, rendering, bad configs."""
import numpy as np
import pytest

from nanobot_ros.robots.sim.toroidal_dot import (MOVE_RIGHT, STAY, ToroidalDotConfig,
                                                 ToroidalDotWorld)


def world(**overrides):
    return ToroidalDotWorld(ToroidalDotConfig(**{'initial_x': 100, 'initial_y': 50,
                                                 **overrides}))


def test_reference_defaults():
    config = ToroidalDotConfig()
    assert (config.img_size, config.dot_radius, config.move_pixels) == (224, 5, 27)


def test_move_right_moves_by_speed_and_stay_stays():
    w = world()
    assert w.step(MOVE_RIGHT) == 127
    assert w.step(STAY) == 127
    assert world(move_pixels=3).step(MOVE_RIGHT) == 103


def test_horizontal_wrap_around():
    w = world(initial_x=210)
    assert w.step(MOVE_RIGHT) == (210 + 27) % 224
    image = world(initial_x=222).render()
    # A dot at the right edge shows on both edges.
    assert image[50, 222].tolist() == [255, 255, 255]
    assert image[50, 1].tolist() == [255, 255, 255]


def test_render_is_black_with_one_white_disk():
    image = world(dot_radius=5).render()
    assert image.shape == (224, 224, 3) and image.dtype == np.uint8
    white = np.argwhere(image[:, :, 0] == 255)
    assert set(np.unique(image)) == {0, 255}
    assert white[:, 0].min() == 45 and white[:, 0].max() == 55
    assert white[:, 1].min() == 95 and white[:, 1].max() == 105
    assert len(white) == sum(1 for x in range(-5, 6) for y in range(-5, 6) if x * x + y * y <= 25)


def test_seeded_start_is_reproducible():
    a = ToroidalDotWorld(ToroidalDotConfig(seed=3))
    b = ToroidalDotWorld(ToroidalDotConfig(seed=3))
    assert (a.x, a.y) == (b.x, b.y)


@pytest.mark.parametrize('overrides,message', [
    ({'dot_radius': -1}, 'dot_radius'),
    ({'move_pixels': -2}, 'move_pixels'),
    ({'img_size': 4}, 'img_size'),
    ({'initial_x': 500}, 'initial_x'),
])
def test_bad_config_is_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        ToroidalDotWorld(ToroidalDotConfig(**overrides))


def test_unknown_action_is_rejected():
    with pytest.raises(ValueError, match='unknown action 7'):
        world().step(7)
