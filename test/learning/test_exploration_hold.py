"""The explorer holds each action it chooses for a geometric number of frames (mean `hold`)."""
import itertools

import pytest

from nanobot_ros.learning.adaptive_loop import LoopConfig
from nanobot_ros.learning.exploration import UncertaintyExplorer


def run_lengths(actions):
    return [len(list(run)) for _, run in itertools.groupby(actions)]


def test_random_choices_held_five_frames_on_average():
    explorer = UncertaintyExplorer(list(range(5)), epsilon=1.0, seed=0, hold=5.0)
    actions = [explorer.select([1.0] * 5)[0] for _ in range(20000)]
    # A run of one action ends where a hold ends (1 in 5 frames) and the next choice differs
    # (4 of 5): 5 / (4 / 5) = 6.25 frames on average; one frame at a time, 1 / (4 / 5).
    lengths = run_lengths(actions)
    assert 6.0 < sum(lengths) / len(lengths) < 6.5
    one_frame = UncertaintyExplorer(list(range(5)), epsilon=1.0, seed=0)
    lengths = run_lengths([one_frame.select([1.0] * 5)[0] for _ in range(20000)])
    assert 1.2 < sum(lengths) / len(lengths) < 1.3


def test_a_held_action_is_kept_when_another_becomes_more_uncertain():
    explorer = UncertaintyExplorer([0, 1], seed=1, hold=1000.0)
    first = explorer.select([1.0, 0.0])[0]
    assert first == 0 and explorer.hold_left > 0
    assert [explorer.select([0.0, 1.0])[0] for _ in range(10)] == [0] * 10


def test_a_resumed_explorer_finishes_the_hold():
    explorer = UncertaintyExplorer([0, 1, 2], epsilon=1.0, seed=2, hold=8.0)
    for _ in range(7):
        explorer.select([1.0, 1.0, 1.0])
    restored = UncertaintyExplorer([0, 1, 2], epsilon=1.0, seed=99, hold=8.0)
    restored.load_state(explorer.state())
    assert [restored.select([1.0, 1.0, 1.0])[0] for _ in range(40)] == \
        [explorer.select([1.0, 1.0, 1.0])[0] for _ in range(40)]


def test_a_hold_below_one_frame_is_refused():
    with pytest.raises(ValueError, match='hold must be >= 1 frame'):
        UncertaintyExplorer([0, 1], hold=0.5)
    with pytest.raises(ValueError, match='exploration_hold must be >= 1 frame'):
        LoopConfig(exploration_hold=0.0).validate()
