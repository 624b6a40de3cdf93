"""Replay batches: the newest transition always, the rest uniform or balanced over actions."""
from collections import Counter

import numpy as np

from nanobot_ros.learning.replay_buffer import Transition, TransitionBuffer


def filled_buffer() -> TransitionBuffer:
    """Return a buffer of 95 moves (action 1) and 5 stays (action 0), the newest a move."""
    buffer = TransitionBuffer(100, seed=0)
    frame = np.zeros((4, 4, 3), dtype=np.uint8)
    for i in range(100):
        buffer.add(Transition((frame,), (0 if i % 20 == 0 else 1,), frame))
    return buffer


def actions_drawn(buffer: TransitionBuffer, balanced: bool) -> Counter:
    counts = Counter()
    for _ in range(50):
        _, actions, _ = buffer.sample(8, newest=1, balanced=balanced)
        assert actions[0, 0] == 1  # the newest transition leads every batch
        counts.update(actions[1:, 0].tolist())
    return counts


def test_balanced_batches_draw_each_action_about_as_often():
    counts = actions_drawn(filled_buffer(), balanced=True)
    assert sum(counts.values()) == 350
    assert 140 < counts[0] < 210 and 140 < counts[1] < 210, counts


def test_uniform_batches_follow_the_buffer():
    counts = actions_drawn(filled_buffer(), balanced=False)
    assert counts[0] < 40, counts
