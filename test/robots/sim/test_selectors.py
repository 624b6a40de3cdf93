"""Action selectors and the runner's statistics."""
import pytest

from nanobot_ros.robots.sim.selectors import make_selector, NAMED_SEQUENCES
from nanobot_ros.robots.sim.statistics import ActionStatistics

SPACE = (0, 1)


def take(selector, n):
    return [selector(None)[0] for _ in range(n)]


def test_named_sequences_match_the_reference():
    assert NAMED_SEQUENCES == {
        'always_move': (1,), 'always_stay': (0,), 'alternate': (0, 1),
        'double_move': (1, 1, 0), 'triple_move': (1, 1, 1, 0)}
    assert take(make_selector('triple_move', SPACE), 9) == [1, 1, 1, 0, 1, 1, 1, 0, 1]
    assert take(make_selector('alternate', SPACE), 3) == [0, 1, 0]


def test_constant_and_custom_sequence():
    assert take(make_selector('constant', SPACE, constant_action=0), 3) == [0, 0, 0]
    assert take(make_selector('sequence', SPACE, sequence=[1, 0, 0]), 4) == [1, 0, 0, 1]
    assert make_selector('always_stay', SPACE)(None) == (0, [])


def test_unknown_selector_and_out_of_space_actions_are_rejected():
    with pytest.raises(ValueError, match="unknown selector 'zigzag'"):
        make_selector('zigzag', SPACE)
    with pytest.raises(ValueError, match=r'actions \[2\] outside the action space'):
        make_selector('sequence', SPACE, sequence=[1, 2])
    with pytest.raises(ValueError, match='at least one action'):
        make_selector('sequence', SPACE, sequence=[])


def test_statistics():
    times = iter([0.0, 0.1, 0.3, 0.6])
    stats = ActionStatistics(clock=lambda: next(times))
    for action in (1, 1, 0, 1):
        stats.record(action)
    s = stats.summary()
    assert s['action_count'] == 4
    assert s['action_counts'] == {'0': 1, '1': 3}
    assert s['action_distribution'] == {'0': 0.25, '1': 0.75}
    assert s['mean_interval'] == pytest.approx(0.2)
    assert s['median_interval'] == pytest.approx(0.2)
    assert (s['min_interval'], s['max_interval']) == pytest.approx((0.1, 0.3))
    assert s['std_interval'] == pytest.approx(0.0816, abs=1e-3)
