"""The 2-D target task: grid moves, torus wrap, markers, instructions, the scripted expert."""
import numpy as np
import pytest

from nanobot_ros.robots.sim.target_task import (expert_action, expert_rollouts, MARKER_COLORS,
                                                parse_instruction, TargetTask, TargetTaskConfig)
from nanobot_ros.robots.sim.toroidal_dot import (MOVE_DOWN, MOVE_LEFT, MOVE_UP, ToroidalDotConfig,
                                                 ToroidalDotWorld)


def test_2d_moves_wrap_both_axes_and_default_stays_right_only():
    assert ToroidalDotWorld().action_space == (0, 1)
    world = ToroidalDotWorld(ToroidalDotConfig(img_size=64, dot_radius=3, move_pixels=8,
                                               moves='2d', initial_x=4, initial_y=4))
    world.step(MOVE_LEFT)
    world.step(MOVE_UP)
    assert (world.x, world.y) == (60, 60)
    world.step(MOVE_DOWN)
    assert world.y == 4


def test_markers_are_drawn_and_dot_on_top():
    task = TargetTask(TargetTaskConfig(seed=5, view='world'))
    image = task.render()
    for color, (x, y) in task.markers.items():
        assert image[y - 3, x - 3].tolist() == list(MARKER_COLORS[color])
    assert image[task.world.y, task.world.x].tolist() == [255, 255, 255]


def test_egocentric_view_keeps_the_dot_in_the_centre():
    task = TargetTask(TargetTaskConfig(seed=5))
    for action in (1, 3, 3, 2):
        task.step(action)
        assert task.render()[20, 20].tolist() == [255, 255, 255]


def test_instruction_parsing():
    colors = ('red', 'green', 'blue')
    assert parse_instruction('Go to the RED marker', colors) == 'red'
    assert parse_instruction('go to the yellow marker', colors) is None
    assert parse_instruction('', colors) is None


def test_expert_solves_every_episode_within_budget():
    config = TargetTaskConfig()
    task = TargetTask(config)
    for seed in range(100):
        target = task.reset(seed)
        while not task.reached and task.steps < config.step_budget:
            task.step(expert_action(task.render(), target, config.move_pixels))
        assert task.reached, seed


def test_rollouts_end_with_stay_on_the_target():
    samples = list(expert_rollouts(TargetTaskConfig(), [3]))
    assert samples[-1][2] == 0 and all(a != 0 for _, _, a in samples[:-1])
    assert all(isinstance(i, np.ndarray) and t.startswith('go to the') for i, t, _ in samples)


@pytest.mark.parametrize('overrides,message', [
    ({'img_size': 60}, 'multiple of move_pixels'),
    ({'img_size': 48}, 'odd number of cells'),
    ({'colors': ('violet',)}, 'colors'),
    ({'dot_radius': 4}, 'does not fit'),
    ({'step_budget': 0}, 'step_budget'),
])
def test_bad_task_config_is_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        TargetTask(TargetTaskConfig(**overrides))
