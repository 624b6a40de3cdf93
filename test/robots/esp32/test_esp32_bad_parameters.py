"""esp32_bridge refuses parameters that make no sense (exit code 2, a clear message)."""
import pytest


@pytest.mark.parametrize('params, message', [
    ({'heartbeat_period': 0.0}, 'heartbeat_period and device_timeout must be > 0'),
    ({'motor_limit': -1.0}, 'motor_limit must be a positive number'),
    ({'telemetry_names': '[hip.position]', 'joint_names': '[knee]'},
     "joint 'knee' has no telemetry channel knee.position"),
    ({'stamp': 'sample'}, "stamp must be device or receive, got 'sample'"),
    ({'qos_reliability': 'RELIABLE'}, 'qos_reliability must be best_effort or reliable'),
])
def test_bad_parameters_exit_2(nodes, params, message):
    bridge = nodes.start('esp32_bridge', params={'port': '/nonexistent/tty', **params})
    assert bridge.wait(30) == 2
    assert message in nodes.output(bridge)
