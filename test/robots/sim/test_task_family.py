"""The harder task family: layouts, phrasing splits, two-step order, the expert, presets."""
import numpy as np
import pytest

from nanobot_ros.robots.sim.robot import SimConfig
from nanobot_ros.robots.sim.target_task import MARKER_COLORS
from nanobot_ros.robots.sim.task_family import (family_expert_action, parse_waypoints, TaskBatch,
                                                TaskFamily, TaskFamilyConfig, task_preset,
                                                TEMPLATES)
from nanobot_ros.robots.sim.toroidal_dot import MOVE_LEFT, MOVE_RIGHT, ToroidalDotConfig


def test_held_out_phrasings_are_never_training_phrasings():
    for steps in (1, 2):
        assert not set(TEMPLATES[('train', steps)]) & set(TEMPLATES[('heldout', steps)])
    train = {TaskFamily(TaskFamilyConfig()).reset(s) for s in range(50)}
    heldout = {TaskFamily(TaskFamilyConfig(phrasings='heldout')).reset(s) for s in range(50)}
    assert not train & heldout


def test_a_seed_gives_the_same_layout_in_both_splits_with_2_to_4_markers():
    counts = set()
    for seed in range(60):
        a, b = TaskFamily(TaskFamilyConfig()), TaskFamily(TaskFamilyConfig(phrasings='heldout'))
        a.reset(seed)
        b.reset(seed)
        assert a.markers == b.markers and a.waypoints == b.waypoints
        counts.add(len(a.markers))
        assert (a.world.x, a.world.y) not in a.markers.values()
    assert counts == {2, 3, 4}


def test_expert_solves_every_episode_optimally_within_the_budget():
    for phrasings in ('train', 'heldout'):
        config = TaskFamilyConfig(phrasings=phrasings)
        task = TaskFamily(config)
        two_step = 0
        for seed in range(200):
            instruction = task.reset(seed)
            waypoints = parse_waypoints(instruction, config.colors)
            assert waypoints == task.waypoints
            two_step += len(waypoints) == 2
            optimal = task.optimal_steps
            assert optimal <= 16 < config.step_budget
            while not task.reached and task.steps < config.step_budget:
                task.step(family_expert_action(task.render(), waypoints, config.move_pixels))
            assert task.reached and task.steps == optimal, (seed, instruction)
        assert 70 < two_step < 130


def test_two_step_order_counts_and_a_collected_marker_disappears():
    config = TaskFamilyConfig(min_markers=2, max_markers=2, two_step=1.0, view='world')
    task = TaskFamily(config)
    task.reset(3)
    first, second = task.waypoints
    task.markers[first], task.markers[second] = (12, 4), (4, 4)
    task.world.x, task.world.y = 20, 4
    task.step(MOVE_LEFT)
    assert task.progress == 1 and first not in task.markers and task.target == second
    assert not np.all(task.render() == MARKER_COLORS[first], axis=2).any()
    task.step(MOVE_RIGHT)  # away and back over nothing: no change
    task.step(MOVE_LEFT)
    task.step(MOVE_LEFT)
    assert task.reached and not task.out_of_steps
    # the other order: passing over the second waypoint first collects nothing
    task.reset(3)
    task.markers[first], task.markers[second] = (4, 4), (12, 4)
    task.world.x, task.world.y = 20, 4
    task.step(MOVE_LEFT)
    assert task.progress == 0 and second in task.markers


def test_task_batch_plays_many_instances_with_batched_choices():
    config = TaskFamilyConfig()
    calls = []

    def expert(indices, observations):
        calls.append(len(indices))
        return [family_expert_action(o['image'], parse_waypoints(o['instruction'], config.colors),
                                     config.move_pixels) for o in observations]
    success, steps = TaskBatch(config, 20).play(range(20), expert)
    assert success.all() and calls[0] == 20 and len(calls) == steps.max()
    success, steps = TaskBatch(config, 5).play(range(5), lambda i, o: [0] * len(i))
    assert not success.any() and (steps == config.step_budget).all()


def test_presets_and_bad_configs():
    targets = task_preset('targets')
    task = TaskFamily(targets)
    assert task.cells == 5 and task.reset(1) == f'go to the {task.target} marker'
    assert sorted(task.markers) == ['blue', 'green', 'red']
    assert TaskFamily(task_preset('family')).cells == 9
    with pytest.raises(ValueError, match='unknown task preset'):
        task_preset('nope')
    for overrides, message in (({'min_markers': 0}, 'min_markers'),
                               ({'max_markers': 7}, 'max_markers'),
                               ({'two_step': 0.5, 'min_markers': 1}, 'two_step'),
                               ({'phrasings': 'test'}, 'phrasings')):
        with pytest.raises(ValueError, match=message):
            TaskFamily(TaskFamilyConfig(**overrides))


def test_the_sim_config_names_a_preset_and_a_new_instruction_is_followed_or_refused():
    world = ToroidalDotConfig(seed=4)
    config = SimConfig(task='family', phrasings='heldout').task_config(world)
    assert config == task_preset('family', phrasings='heldout', seed=4)
    with pytest.raises(ValueError, match='unknown task preset'):
        SimConfig(task='nope').task_config(world)
    with pytest.raises(ValueError, match="set task .'family'. or targets .'red'., not both"):
        SimConfig(task='family', targets='red')
    task = TaskFamily(config)
    first = task.instruction
    shown = sorted(task.markers)
    task.set_instruction(first)  # its own instruction again: nothing changes
    assert task.instruction == first
    absent = next(c for c in config.colors if c not in task.markers)
    with pytest.raises(ValueError, match=f'names no marker of this episode .{absent}.'):
        task.set_instruction(f'go to {absent}')
    task.set_instruction(f'first {shown[-1]}, then {shown[0]}')
    assert task.waypoints == [shown[-1], shown[0]] and task.target == shown[-1]
