"""JetBot and camera parameters that make no sense stop the node at start-up, clearly."""
import pytest


@pytest.mark.parametrize('node,params,message', [
    ('jetbot', {'motor_limit': 1.5}, 'motor_limit must be in (0, 1], got 1.5'),
    ('jetbot', {'ramp_time': 0.6}, 'ramp_time must be in [0, action_timeout)'),
    ('jetbot', {'backend': 'serial'}, "backend must be remote or local, got 'serial'"),
    ('jetbot', {'action_space_right': '[0.0, 0.12, 0.3]'}, 'need the same length'),
    ('camera', {'fit': 'zoom'}, "fit must be one of ('crop', 'stretch'), got 'zoom'"),
    ('camera', {'retry_initial': 0.0}, 'backoff needs 0 < initial <= maximum'),
])
def test_bad_parameter_fails_at_start_up(nodes, node, params, message):
    process = nodes.start(node, params=params)
    assert process.wait(timeout=30) == 2
    output = nodes.output(process)
    assert 'bad parameters' in output and message in output, output
