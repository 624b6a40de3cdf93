"""The relative explorer: an action always more uncertain than the others does not win by that."""
from collections import Counter

import numpy as np

from nanobot_ros.learning.exploration import RELATIVE_WINDOW, UncertaintyExplorer


def room_like_uncertainties(frames: int, seed: int = 0) -> np.ndarray:
    """(frames, 3): action 2 (a turn) ten times as uncertain as 0 and 1, every place varying."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.5, size=(frames, 3)) * np.array([0.1, 0.1, 1.0])


def test_plain_argmax_always_turns_the_relative_one_takes_every_action():
    plain, relative = UncertaintyExplorer([0, 1, 2]), UncertaintyExplorer([0, 1, 2],
                                                                          relative=True)
    frames = room_like_uncertainties(600)
    assert Counter(plain.select(u)[0] for u in frames) == {2: 600}
    counts = Counter(relative.select(u)[0] for u in frames)
    assert set(counts) == {0, 1, 2} and min(counts.values()) > 150


def test_the_action_most_above_its_own_mean_is_taken():
    explorer = UncertaintyExplorer([0, 1, 2], relative=True)
    for u in room_like_uncertainties(5 * RELATIVE_WINDOW):
        explorer.select(u)
    # action 0 at twice its usual doubt beats action 2 at its usual (ten times larger) doubt
    action, metadata = explorer.select([0.2, 0.1, 1.0])
    assert action == 0 and metadata[0]['score'][0] == 1.0


def test_the_running_means_survive_a_checkpoint():
    explorer = UncertaintyExplorer([0, 1, 2], relative=True, seed=3)
    for u in room_like_uncertainties(50):
        explorer.select(u)
    restored = UncertaintyExplorer([0, 1, 2], relative=True, seed=99)
    restored.load_state(explorer.state())
    np.testing.assert_array_equal(restored.mean_uncertainty, explorer.mean_uncertainty)
    later = room_like_uncertainties(20, seed=1)
    assert [restored.select(u)[0] for u in later] == [explorer.select(u)[0] for u in later]
