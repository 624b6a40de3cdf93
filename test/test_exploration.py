"""Uncertainty-driven exploration prefers the action whose outcome is not yet learned."""
from collections import Counter
import math

import numpy as np
import pytest

from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.exploration import UncertaintyExplorer
from nanobot_ros.learning.world_model import WorldModel
from tiny_world_model import dot_frame, tiny_config


def test_untried_actions_first_then_the_largest_error():
    explorer = UncertaintyExplorer([0, 1, 2], decay=0.5, seed=0)
    tried = set()
    for _ in range(3):
        action, _ = explorer.select()
        assert action not in tried
        tried.add(action)
        explorer.observe(action, {0: 0.1, 1: 0.5, 2: 0.2}[action])
    assert explorer.select()[0] == 1
    explorer.observe(1, 0.0)  # learned: 0.5 -> 0.25
    explorer.observe(1, 0.0)  # 0.125 < 0.2
    assert explorer.select()[0] == 2
    assert math.isclose(explorer.uncertainty[1], 0.125)


def test_state_round_trip_and_bad_decay():
    explorer = UncertaintyExplorer([0, 1], seed=3)
    explorer.observe(0, 0.4)
    restored = UncertaintyExplorer([0, 1], seed=99)
    restored.load_state(explorer.state())
    assert restored.uncertainty == explorer.uncertainty
    assert [restored.select()[0] for _ in range(5)] == [explorer.select()[0] for _ in range(5)]
    with pytest.raises(ValueError, match='decay'):
        UncertaintyExplorer([0, 1], decay=1.0)


def test_the_loop_prefers_the_action_whose_outcome_it_has_not_learned():
    # Action 0 always leads to the same frame (learnable at once); action 1 puts the dot at a
    # random column (its outcome cannot be learned from the frame): exploration should mostly
    # pick action 1.
    rng = np.random.default_rng(0)
    home = dot_frame(4)
    loop = AdaptiveWorldModelLoop(WorldModel(tiny_config(), seed=0), LoopConfig(
        reconstruction_threshold=1.0, batch_size=4, train_steps_per_frame=2, seed=0))

    def execute(action):
        return home if action == 0 else dot_frame(int(rng.integers(0, 32)))

    frame, chosen = home, []
    for _ in range(60):
        result = loop.step(frame, execute)
        chosen.append(result['action'])
        frame = result['next_frame']
    counts = Counter(chosen[20:])
    assert counts[1] > 2 * counts[0], counts
