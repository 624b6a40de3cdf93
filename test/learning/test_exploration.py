"""Uncertainty-driven exploration prefers the action whose outcome is not yet learned."""
from collections import Counter
import math

import pytest
import torch

from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.exploration import UncertaintyExplorer
from nanobot_ros.learning.world_model import WorldModel
from tiny_world_model import dot_frame, tiny_config


def test_the_most_uncertain_action_is_taken_ties_at_random():
    explorer = UncertaintyExplorer([0, 1, 2], seed=0)
    assert explorer.select([0.1, 0.5, 0.2])[0] == 1
    action, metadata = explorer.select([0.3, 0.1, 0.2])
    assert action == 0 and metadata == [{'uncertainty': {0: 0.3, 1: 0.1, 2: 0.2},
                                         'score': {0: 1.0, 1: 0.1 / 0.3, 2: 0.2 / 0.3}}]
    assert {explorer.select([0.4, 0.4, 0.1])[0] for _ in range(30)} == {0, 1}
    assert explorer.selections[2] == 0


def test_epsilon_one_is_a_uniformly_random_selector():
    explorer = UncertaintyExplorer([0, 1, 2], epsilon=1.0, seed=0)
    counts = Counter(explorer.select([0.0, 1.0, 0.0])[0] for _ in range(300))
    assert set(counts) == {0, 1, 2} and min(counts.values()) > 70


def test_state_round_trip_and_bad_input():
    explorer = UncertaintyExplorer([0, 1], seed=3)
    explorer.select([0.2, 0.1])
    restored = UncertaintyExplorer([0, 1], seed=99)
    restored.load_state(explorer.state())
    assert restored.selections == {0: 1, 1: 0}
    assert [restored.select([1.0, 1.0])[0] for _ in range(5)] == \
        [explorer.select([1.0, 1.0])[0] for _ in range(5)]
    with pytest.raises(ValueError, match='epsilon'):
        UncertaintyExplorer([0, 1], epsilon=1.5)
    before = dict(explorer.selections)
    for bad in ([0.1], [0.1, math.nan], [0.1, -0.2]):
        with pytest.raises(ValueError, match='one finite uncertainty >= 0 per action'):
            explorer.select(bad)
    assert explorer.selections == before  # bad input counted nothing


def test_a_temperature_samples_in_proportion_to_exp_score_over_temperature():
    explorer = UncertaintyExplorer([0, 1, 2], temperature=0.5, seed=0)
    for _ in range(1000):
        explorer.select([0.4, 0.2, 0.0])   # scores 1, 0.5, 0: weights 1, e^-1, e^-2
    assert explorer.selections == {0: 640, 1: 269, 2: 91}
    weights = [1.0, math.exp(-1), math.exp(-2)]
    for action, weight in enumerate(weights):
        assert abs(explorer.selections[action] / 1000 - weight / sum(weights)) < 0.03
    # The scores are relative: the scale of u does not matter, all-zero u is uniform.
    assert explorer.scores([4e-6, 2e-6, 0.0]).tolist() == [1.0, 0.5, 0.0]
    assert explorer.scores([0.0, 0.0, 0.0]).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match='temperature'):
        UncertaintyExplorer([0, 1], temperature=-1.0)


def shifting_dot():
    """Return a 32 px dot world: 0 stays, 1 moves the dot 8 px right (wrapping)."""
    state = {'x': 4}

    def execute(action):
        state['x'] = (state['x'] + (8 if action == 1 else 0)) % 32
        return dot_frame(state['x'])
    return dot_frame(state['x']), execute


def test_uncertainty_is_the_current_models_not_the_last_error_of_the_action():
    model = WorldModel(tiny_config(), seed=0)
    before, moved = dot_frame(4), dot_frame(12)
    _, first = model.predict_all([before], [], [0, 1])
    # Train on action 1 only: action 0's uncertainty changes although it was never taken.
    history, actions = model.to_tensor([before] * 4)[:, None], torch.tensor([[1]] * 4)
    for _ in range(60):
        model.train_step(history, actions, model.to_tensor([moved] * 4))
    _, after = model.predict_all([before], [], [0, 1])
    assert first.shape == (2,) and torch.all(first > 0)
    assert after[1] < first[1] / 2          # the trained action: the heads now agree
    assert not torch.isclose(after[0], first[0], rtol=0.05)


def explore_shifting_dot(temperature: float):
    """Run a fresh tiny loop 60 frames on the shifting dot; return what a test inspects."""
    model = WorldModel(tiny_config(), seed=0)
    loop = AdaptiveWorldModelLoop(model, LoopConfig(
        reconstruction_threshold=1.0, batch_size=4, train_steps_per_frame=2,
        exploration_temperature=temperature, seed=0))
    frame, execute = shifting_dot()
    chosen = []
    for _ in range(60):
        result = loop.step(frame, execute)
        chosen.append(result['action'])
        frame = result['next_frame']
    return model, loop, frame, execute, chosen


def test_learned_actions_are_revisited_when_their_predictions_become_doubtful():
    model, loop, frame, execute, chosen = explore_shifting_dot(temperature=0.0)
    # Both outcomes are learned; staying is the surer one, so the explorer moves.
    assert {0, 1} <= set(chosen[:20]) and chosen[-10:] == [1] * 10
    assert loop.uncertainty()[0] < loop.uncertainty()[1]
    # Staying becomes doubtful: it is taken again at once, although it was not taken for the
    # last 10 frames.
    scramble_stay(model)
    result = loop.step(frame, execute)
    assert result['action'] == 0
    assert loop.uncertainty()[0] > loop.uncertainty()[1]


def scramble_stay(model):
    """Make staying doubtful: its action embedding scrambled, as forgetting would."""
    with torch.no_grad():
        model.predictor.action_embed.weight[0].normal_(generator=torch.Generator().manual_seed(1))


def test_sampling_starves_no_action_and_a_doubtful_one_gets_the_largest_share():
    model, loop, frame, _, chosen = explore_shifting_dot(temperature=0.25)
    # Staying is the surer outcome, so it is the rarer choice, but it is never starved.
    assert Counter(chosen) == {0: 18, 1: 42}
    assert Counter(chosen[-20:]) == {0: 5, 1: 15}
    scramble_stay(model)
    perception = loop.perceive(frame)
    loop.select(perception)
    score = perception.selection_metadata[0]['score']
    assert score[0] == 1.0 and score[1] < 0.5  # stay now the most doubtful by far
    assert 1 / (1 + math.exp((score[1] - 1) / 0.25)) > 0.85  # its probability
