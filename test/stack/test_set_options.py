"""One `--set key=value` parser for the stack runner and the policy trainer."""
from types import SimpleNamespace

import pytest

from nanobot_ros.defaults import parse_assignments
from nanobot_ros.policy.training import policy_config_from_args
from nanobot_ros.stack import parse_overrides


def test_values_keep_every_equals_sign_after_the_first():
    assert parse_assignments(['a=1', 'b=x=y', 'c=']) == [('a', '1'), ('b', 'x=y'), ('c', '')]
    assert parse_overrides(['sim.rate=15', 'runner.selector=alternate']) == {
        'sim': [('rate', '15')], 'runner': [('selector', 'alternate')]}
    config = policy_config_from_args(SimpleNamespace(set=['n_layer=3', 'film=false']))
    assert config.n_layer == 3 and config.film is False


@pytest.mark.parametrize('item', ['n_layer', '=3'])
def test_an_assignment_without_a_key_or_equals_sign_is_refused_by_both(item):
    with pytest.raises(ValueError, match=f'--set expects key=value, got {item!r}'):
        parse_assignments([item])
    with pytest.raises(SystemExit, match='--set expects key=value'):
        policy_config_from_args(SimpleNamespace(set=[item]))
    with pytest.raises(SystemExit, match='--set expects node.param=value'):
        parse_overrides([item])
    with pytest.raises(SystemExit, match='--set expects node.param=value'):
        parse_overrides(['rate=15'])
