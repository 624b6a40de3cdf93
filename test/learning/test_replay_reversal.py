"""inverse_action_pairs: a move undone is replayed as its inverse, unless it did not move."""
import numpy as np
import pytest

from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.replay_buffer import Transition, TransitionBuffer
from nanobot_ros.learning.world_model import WorldModel
from tiny_world_model import dot_frame, tiny_config


def move(start: int, label: int, step: int = 4) -> Transition:
    """Return the dot at `start`, then `step` px further after action `label`."""
    return Transition((dot_frame(start),), (label,), dot_frame(start + step))


def drawn(buffer: TransitionBuffer, count: int = 400):
    """Return `count` balanced draws: [(label, first frame's dot column, next's)]."""
    history, actions, next_frames = buffer.sample(count, newest=0, balanced=True)
    column = [int(np.argmax(f[0, 12].numpy())) for f in history[:, 0]]  # red row 12
    next_column = [int(np.argmax(f[0, 12].numpy())) for f in next_frames]
    return list(zip(actions[:, -1].tolist(), column, next_column))


def test_a_move_is_drawn_backwards_as_its_inverse():
    buffer = TransitionBuffer(10, inverses={1: 2, 2: 1})
    buffer.add(move(8, label=1))  # the dot from column 5 (8 - radius 3) to 9
    draws = drawn(buffer)
    assert set(draws) == {(1, 5, 9), (2, 9, 5)}
    assert 150 < sum(label == 2 for label, _, _ in draws) < 250  # two actions, evenly


def test_a_transition_that_did_not_move_is_not_reversed():
    buffer = TransitionBuffer(10, inverses={1: 2, 2: 1}, min_change=1e-4)
    buffer.add(move(8, label=1, step=0))  # pressed against a wall: nothing changed
    buffer.add(move(20, label=0))         # action 0 has no inverse
    assert list(buffer.reversible) == [False, False]
    assert {label for label, _, _ in drawn(buffer)} == {0, 1}


def test_a_history_of_two_frames_is_not_reversed():
    buffer = TransitionBuffer(10, inverses={1: 2, 2: 1})
    buffer.add(Transition((dot_frame(0), dot_frame(4)), (1, 1), dot_frame(8)))
    assert list(buffer.reversible) == [False]


def test_the_loop_pairs_action_labels_both_ways():
    config = LoopConfig(actions=[5, 6, 7], idle_action=5, inverse_action_pairs=[6, 7],
                        exploration_hold_stall=1e-4)
    loop = AdaptiveWorldModelLoop(WorldModel(tiny_config(num_actions=3)), config)
    assert loop.buffer.inverses == {1: 2, 2: 1}
    assert loop.buffer.min_change == 1e-4


@pytest.mark.parametrize('pairs', [[1], [1, 1], [1, 2, 2, 0], [1, 9]])
def test_pairs_of_unknown_repeated_or_odd_actions_are_refused(pairs):
    with pytest.raises(ValueError, match='inverse_action_pairs must pair distinct actions'):
        LoopConfig(actions=[0, 1, 2], inverse_action_pairs=pairs).validate()


def test_a_transition_that_falls_out_leaves_its_group_and_its_inverse_group():
    buffer = TransitionBuffer(2, inverses={1: 2, 2: 1})
    buffer.add(move(8, label=1))   # drawn as 1 and, backwards, as 2
    buffer.add(move(20, label=0))
    buffer.add(move(24, label=0))  # the first falls out
    assert set(buffer.groups) == {0}
    assert set(drawn(buffer, 50)) == {(0, 17, 21), (0, 21, 25)}
