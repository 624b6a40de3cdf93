"""A held action ends early when the robot stalls: the view stopped changing (a wall ahead)."""
import pytest

from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.exploration import UncertaintyExplorer
from nanobot_ros.learning.world_model import WorldModel
from tiny_world_model import dot_frame, tiny_config


def test_a_stall_ends_the_hold_and_the_explorer_chooses_again():
    explorer = UncertaintyExplorer([0, 1], seed=1, hold=1000.0)
    assert explorer.select([1.0, 0.0])[0] == 0 and explorer.hold_left > 0
    assert explorer.select([0.0, 1.0])[0] == 0          # held while moving
    assert explorer.select([0.0, 1.0], stalled=True)[0] == 1  # stalled: a new choice
    assert explorer.holds_ended_stalled == 1
    assert explorer.select([1.0, 0.0])[0] == 1          # the new choice is held in turn


def test_the_loop_ends_a_hold_where_the_frame_barely_changed():
    """A wall: action 1 moves the dot 2 px a frame until column 20, then nothing changes.

    Random choices held 1000 frames on average: each lasts until a frame equal to the one
    before it (action 1 at the wall, or action 0, which moves nothing).
    """
    model = WorldModel(tiny_config(), seed=0)
    loop = AdaptiveWorldModelLoop(model, LoopConfig(
        reconstruction_threshold=1.0, train_steps_per_frame=0, exploration_epsilon=1.0,
        exploration_hold=1000.0, exploration_hold_stall=1e-4, seed=3))
    column = [10]

    def execute(action):
        if action == 1:
            column[0] = min(column[0] + 2, 20)
        return dot_frame(column[0])
    frames, chosen = [dot_frame(column[0])], []
    for _ in range(40):
        result = loop.step(frames[-1], execute)
        chosen.append(result['action'])
        frames.append(result['next_frame'])
    moved = [bool((before != after).any()) for before, after in zip(frames, frames[1:])]
    # Decision i sees frame i; it changed from frame i - 1 when the action before moved it.
    for i in range(1, len(chosen)):
        if moved[i - 1]:
            assert chosen[i] == chosen[i - 1], i
    stalls = moved[:-1].count(False)
    assert loop.explorer.holds_ended_stalled == stalls
    assert 1 in chosen and column[0] == 20 and stalls >= 2
    assert len(set(chosen)) == 2  # after a stall, a new choice


def test_a_negative_stall_threshold_is_refused():
    with pytest.raises(ValueError, match='exploration_hold_stall must be >= 0'):
        LoopConfig(exploration_hold_stall=-1.0).validate()
