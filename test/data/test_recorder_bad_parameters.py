"""Recorder and replay parameters that make no sense stop the node at start-up, exit code 2."""
import pytest


@pytest.mark.parametrize('node,params,message', [
    ('recorder', {'flush_period_s': 2.0}, 'flush_period_s must be in (0, 1]'),
    ('recorder', {'storage': 'zip'}, 'storage must be mcap or sqlite3'),
    ('replay', {'bags': "['/tmp']", 'rate': 0.0}, 'rate must be > 0'),
    ('replay', {'bags': "['/tmp']", 'action_filter': 'motor_right'}, 'expected name=value'),
])
def test_bad_parameter_fails_at_start_up(nodes, node, params, message, tmp_path):
    params = {key: value.replace('/tmp', str(tmp_path)) if isinstance(value, str) else value
              for key, value in params.items()}
    process = nodes.start(node, params=params)
    assert process.wait(timeout=30) == 2
    output = nodes.output(process)
    assert 'bad parameters' in output and message in output, output
