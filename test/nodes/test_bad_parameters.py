"""Parameters that make no sense stop a node at start-up with a clear message."""
import pytest


@pytest.mark.parametrize('node,params,message', [
    ('sim', {'dot_radius': -1}, 'dot_radius must be in [0, img_size/2), got -1'),
    ('sim', {'action_timeout': 0.0}, 'action_timeout must be > 0'),
    ('sim', {'frame_rate': -1}, 'frame_rate must be >= 0'),
    ('sim', {'lockstep': 'maybe'}, 'lockstep'),
    ('runner', {'selector': 'zigzag'}, "unknown selector 'zigzag'"),
    ('runner', {'selector': 'sequence', 'sequence': '[1, 3]'}, 'outside the action space'),
    ('room', {'task': 'chess'}, "task must be one of ('', 'room'), got 'chess'"),
    ('room', {'expert': True}, 'expert answers the task\'s frames: it needs task: room'),
    ('trainer', {'policy': 'image_size=64'}, 'policy must be a JSON object of PolicyConfig'),
    ('foxglove', {'port': 70000}, 'port must be 0..65535, got 70000'),
    ('foxglove', {'host': '203.0.113.7', 'port': 0}, 'cannot serve on 203.0.113.7:0'),
])
def test_bad_parameter_fails_at_start_up(nodes, node, params, message):
    process = nodes.start(node, params=params)
    assert process.wait(timeout=30) == 2
    output = nodes.output(process)
    assert 'bad parameters' in output and message in output, output
