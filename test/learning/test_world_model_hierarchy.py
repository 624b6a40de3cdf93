"""Hierarchical predictors: macro-actions, level creation, macro exploration, composition.

Also levels in checkpoints, the grid and the explorer's level predictions.
"""
import numpy as np
import pytest
import torch

from bag_fixtures import write_session_bag
from nanobot_ros.explorer.server import Explorer
from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.hierarchy import compose, composed_rollout, decode_macro, \
    direct_vs_composed, encode_macro, Hierarchy, HierarchyConfig, levels_that_fit, RunningR2
from nanobot_ros.learning.persistence import WorldModelCheckpoints
from nanobot_ros.learning.visualize import with_level_rows
from nanobot_ros.learning.world_model import WorldModel, WorldModelConfig
from nanobot_ros.models.vit import patchify
from tiny_world_model import dot_frame, tiny_config


def test_macro_actions_are_base_a_numbers_first_action_lowest():
    assert encode_macro([1, 0], 2) == 1
    assert encode_macro([0, 1], 2) == 2
    assert encode_macro([1, 1, 0, 1], 2) == 11
    assert encode_macro([3, 4], 5) == 23
    assert decode_macro(23, 2, 5) == [3, 4]
    assert [encode_macro(decode_macro(m, 4, 2), 2) for m in range(16)] == list(range(16))
    with pytest.raises(ValueError, match='action label 2 is not in'):
        encode_macro([0, 2], 2)
    with pytest.raises(ValueError, match=r'macro-action 4 is not in \[0, 4\)'):
        decode_macro(4, 2, 2)
    # Levels whose macro-action count A^(2^k) exceeds 64 are not offered.
    assert levels_that_fit(2, 2) == 2
    assert levels_that_fit(2, 5) == 2
    assert levels_that_fit(5, 2) == 1
    assert levels_that_fit(9, 1) == 0


def test_config_is_checked():
    with pytest.raises(ValueError, match='hierarchy_levels must be >= 0'):
        HierarchyConfig(hierarchy_levels=-1).validate()
    with pytest.raises(ValueError, match='level_creation_r2 must be <= 1'):
        HierarchyConfig(level_creation_r2=1.5).validate()
    with pytest.raises(ValueError, match='level_creation_window must be >= 1'):
        HierarchyConfig(level_creation_window=0).validate()
    with pytest.raises(ValueError, match='level_train_steps must be >= 1'):
        HierarchyConfig(level_train_steps=0).validate()


def _steps(count):
    """(frame, next frame) pairs of a dot moving 4 px per step."""
    return [(dot_frame(4 * i), dot_frame(4 * i + 4)) for i in range(count)]


def _observed(model, frame):
    return patchify(model.to_tensor([frame]), model.config.vit.patch_size)[0]


def test_a_level_is_created_when_the_level_below_is_reliable_and_not_before():
    model = WorldModel(tiny_config(), seed=0)
    hierarchy = Hierarchy(HierarchyConfig(hierarchy_levels=1, level_creation_r2=0.9,
                                          level_creation_window=4), model, 2)
    steps = _steps(5)
    # Perfect level-0 predictions: R² 1, but judged only once the window of 4 is full.
    for frame, following in steps[:3]:
        assert hierarchy.observe(model, frame, 1, following, _observed(model, following)) == []
    assert hierarchy.levels == [] and hierarchy.level0.r2() == 1.0
    created = hierarchy.observe(model, steps[3][0], 1, steps[3][1],
                                _observed(model, steps[3][1]))
    assert [level.index for level in created] == [1] and len(hierarchy.levels) == 1
    assert hierarchy.levels[0].length == 2 and hierarchy.levels[0].num_macros == 4
    assert hierarchy.levels[0].predictor.config.num_actions == 4
    # hierarchy_levels 1: level 2 never comes, however good level 1 gets.
    assert hierarchy.maybe_create(model) is None
    # The step after creation already gives level 1 a macro transition (the last two steps).
    hierarchy.observe(model, steps[4][0], 1, steps[4][1], _observed(model, steps[4][1]))
    assert len(hierarchy.levels[0].buffer) == 1
    transition = hierarchy.levels[0].buffer.transitions[-1]
    assert transition.actions == (encode_macro([1, 1], 2),)
    assert np.array_equal(transition.frames[0], steps[3][0])
    assert np.array_equal(transition.next_frame, steps[4][1])


def test_the_threshold_is_inclusive_and_bad_predictions_create_nothing():
    model = WorldModel(tiny_config(), seed=0)
    steps = _steps(4)
    predictions = [_observed(model, following) * 0.5 for _, following in steps]
    reference = RunningR2(4)
    for (_, following), predicted in zip(steps, predictions):
        reference.add(predicted, _observed(model, following))
    r2 = reference.r2()
    assert 0 < r2 < 0.9
    for threshold, levels in ((r2 + 1e-9, 0), (r2, 1), (0.9, 0)):
        hierarchy = Hierarchy(HierarchyConfig(hierarchy_levels=2, level_creation_r2=threshold,
                                              level_creation_window=4), model, 2)
        for (frame, following), predicted in zip(steps, predictions):
            hierarchy.observe(model, frame, 0, following, predicted)
        assert len(hierarchy.levels) == levels, threshold


def test_exploration_takes_a_macro_action_and_its_outcome_trains_that_level():
    torch.manual_seed(0)
    model = WorldModel(tiny_config(), seed=0)
    hierarchy = Hierarchy(HierarchyConfig(hierarchy_levels=1, level_train_steps=2), model, 2)
    loop = AdaptiveWorldModelLoop(model, LoopConfig(reconstruction_threshold=1.0),
                                  hierarchy=hierarchy)
    level = hierarchy.create_level(model)
    # Then level 0's heads are made to agree exactly about everything (uncertainty 0); level
    # 1's (copied from level 0's initial ones) still disagree, so a macro-action is the most
    # uncertain choice per step.
    with torch.no_grad():
        model.predictor.output_proj.weight.zero_()
    before = [p.detach().clone() for p in level.predictor.parameters()]
    x, frames, taken, metadata = 6, [dot_frame(6)], [], None
    for step in range(2):
        perception = loop.perceive(frames[-1])
        if step == 0:  # the second step is the plan's (level 0 has trained since)
            assert perception.uncertainty == [0.0, 0.0]
        action = loop.select(perception)
        metadata = metadata or perception.selection_metadata[0]
        taken.append(action)
        x += 4 * action
        frames.append(dot_frame(x))
        loop.record_outcome(perception, action, frames[-1])
        assert len(level.buffer) == step  # the macro transition completes with its last step
        loop.train()
    assert metadata['level'] == 1 and hierarchy.macro_selections == {1: 1}
    assert taken == decode_macro(metadata['macro'], 2, 2)
    per_step = metadata['uncertainty_per_step'][1]
    assert metadata['macro'] == int(np.argmax(per_step)) and max(per_step) > 0
    transition = level.buffer.transitions[-1]
    assert transition.actions == (metadata['macro'],)
    assert np.array_equal(transition.frames[0], frames[0])
    assert np.array_equal(transition.next_frame, frames[2])
    assert level.training_step == 2  # level_train_steps per learner step, from the first one
    assert any(not torch.equal(a, b) for a, b in zip(before, level.predictor.parameters()))
    assert loop.last_metrics['level_1/predictor_training_step'] == 2
    # A gated frame drops the rest of a plan; a broken history forgets the window.
    hierarchy.plan.extend([1])
    perception = loop.perceive(frames[-1])
    perception.gated = True
    assert loop.select(perception) is None and not hierarchy.plan
    loop.break_history()
    loop.record_outcome(loop.perceive(dot_frame(20)), 0, dot_frame(20))
    assert len(level.buffer) == 1


def test_a_new_level_starts_from_the_level_below():
    model = WorldModel(tiny_config(), seed=0)
    hierarchy = Hierarchy(HierarchyConfig(hierarchy_levels=2), model, 2)
    one, two = hierarchy.create_level(model), hierarchy.create_level(model)
    below = model.predictor.action_embed.weight
    # Macro-action m = first action + 2 x second: its embedding is the sum of theirs.
    for m, (first, second) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
        assert torch.equal(one.predictor.action_embed.weight[m], below[first] + below[second])
    # Level 2's 16 macro-actions: two of level 1's (m = first half + 4 x second half).
    assert torch.equal(two.predictor.action_embed.weight[13],
                       one.predictor.action_embed.weight[1]
                       + one.predictor.action_embed.weight[3])
    for name, value in model.predictor.state_dict().items():
        if name != 'action_embed.weight':
            assert torch.equal(one.predictor.state_dict()[name], value), name
    assert one.optimizer.param_groups[0]['lr'] == model.predictor_optimizer.param_groups[0]['lr']


def test_compose_applies_the_one_step_predictor_in_order_and_r2_compares_both():
    features = torch.arange(2 * 4 * 1, dtype=torch.float64).reshape(2, 4, 1)

    def step(f, actions):  # action a shifts the tokens by a places, then adds 10
        return torch.stack([torch.roll(x, int(a), dims=0) for x, a in zip(f, actions)]) + 10

    sequences = torch.tensor([[1, 1], [0, 1]])
    composed = compose(step, features, sequences)
    assert torch.equal(composed[0], torch.roll(features[0], 2, dims=0) + 20)
    assert torch.equal(composed[1], torch.roll(features[1], 1, dims=0) + 20)
    target = composed.clone()
    mean = torch.full_like(target, float(target.mean()))
    figures = direct_vs_composed(target, mean, target)
    assert figures['direct'] == 1.0 and figures['composed'] == pytest.approx(0.0, abs=1e-12)
    # SSE of 1 per element over SST: R² = 1 - 8 / SST exactly.
    sst = float(((target - target.mean()) ** 2).sum())
    assert direct_vs_composed(target + 1, target, target)['direct'] == pytest.approx(
        1 - 8 / sst, abs=1e-12)


def test_composed_rollout_feeds_level_0_its_own_predictions():
    model = WorldModel(tiny_config(), seed=0)
    frames = [dot_frame(6), dot_frame(14)]
    sequences = torch.tensor([[1, 0], [0, 1]])
    with torch.no_grad():
        features = model.autoencoder.encode(model.to_tensor(frames))
        for i in range(2):
            features, _ = model.predictor(features[:, None], sequences[:, i:i + 1])
        expected = model.autoencoder.decode(features)
    assert torch.equal(composed_rollout(model, frames, sequences), expected)


def test_levels_and_their_optimizers_are_saved_and_restored_and_too_many_are_refused(tmp_path):
    def loop_with(levels):
        model = WorldModel(tiny_config(), seed=0)
        return AdaptiveWorldModelLoop(model, LoopConfig(), hierarchy=Hierarchy(
            HierarchyConfig(hierarchy_levels=levels), model, 2))

    saved = loop_with(2)
    for _ in range(2):
        saved.hierarchy.create_level(saved.learner)
    saved.hierarchy.levels[1].training_step = 7
    level = saved.hierarchy.levels[1]  # one optimizer step, so there are moments to keep
    sum(p.square().sum() for p in level.predictor.parameters()).backward()
    level.optimizer.step()
    WorldModelCheckpoints(tmp_path).save(saved)
    restored = loop_with(2)
    WorldModelCheckpoints(tmp_path).restore(restored)
    assert [level.index for level in restored.hierarchy.levels] == [1, 2]
    assert [level.training_step for level in restored.hierarchy.levels] == [0, 7]
    for old, new in zip(saved.hierarchy.levels, restored.hierarchy.levels):
        for (name, a), b in zip(old.predictor.state_dict().items(),
                                new.predictor.state_dict().values()):
            assert torch.equal(a, b), name
        old_state, new_state = old.optimizer.state_dict(), new.optimizer.state_dict()
        assert new_state['param_groups'] == old_state['param_groups']
        assert old_state['state'].keys() == new_state['state'].keys()
        for key, moments in old_state['state'].items():
            for name, value in moments.items():
                assert torch.equal(torch.as_tensor(value),
                                   torch.as_tensor(new_state['state'][key][name])), name
    assert len(saved.hierarchy.levels[1].optimizer.state_dict()['state']) > 0
    assert len(restored.hierarchy.levels[0].optimizer.state_dict()['state']) == 0
    with pytest.raises(ValueError, match='checkpoint has 2 hierarchy levels, this '
                       'configuration allows 1'):
        WorldModelCheckpoints(tmp_path).restore(loop_with(1))


def test_the_grid_and_the_explorer_show_every_levels_predictions(tmp_path):
    grid = np.full((20, 30, 3), 200, dtype=np.uint8)
    tile = np.zeros((10, 12, 3), dtype=np.uint8)
    stacked = with_level_rows(grid, [('L1', [tile] * 4, ['0+0', '1+0', '0+1', '1+1'])])
    # Level row: 4 tiles of 12 px, 3 gaps of 4 px = 60 px wide, 18 px label + 10 px tall.
    assert stacked.shape == (20 + 4 + 28, 60, 3)
    assert np.array_equal(stacked[:20, :30], grid) and not stacked[:20, 30:].any()
    sessions = tmp_path / 'sessions'
    write_session_bag(sessions / 'toroidal_dot' / 'lone', steps=12)
    model = WorldModel(WorldModelConfig.small(img_size=16, patch_size=8, embed_dim=16, depth=1,
                                              predictor_depth=1))
    loop = AdaptiveWorldModelLoop(model, LoopConfig(), hierarchy=Hierarchy(
        HierarchyConfig(hierarchy_levels=1), model, 2))
    loop.hierarchy.create_level(model)
    WorldModelCheckpoints(tmp_path / 'checkpoints').save(loop)
    explorer = Explorer(sessions, [tmp_path / 'checkpoints'])
    explorer.load(str(tmp_path / 'checkpoints' / 'world_model.safetensors'))
    levels = explorer.predict({'id': 'toroidal_dot/lone', 'index': 4})['levels']
    assert [(level['name'], level['labels']) for level in levels] == [
        ('level 1 (2 steps)', ['0+0', '1+0', '0+1', '1+1'])]
    assert len(levels[0]['predictions']) == 4
    assert all(p.startswith('data:image/png;base64,') for p in levels[0]['predictions'])
