"""The policy node (PyTorch eager) answers frames from a safetensors checkpoint, stamped."""
from kernel_harness import ActionProbe, assert_bounded
from policy_fixtures import tiny_export
from std_msgs.msg import String


def test_policy_node_serves_the_checkpoint(ros, nodes, tmp_path):
    checkpoint = tiny_export(tmp_path).with_suffix('.safetensors')
    probe = ActionProbe(ros)
    node = nodes.start('policy', params={'model_path': str(checkpoint), 'ddim_steps': 4})
    probe.instruction.publish(String(data='go to the red marker'))
    action = probe.served('policy', timeout=60)
    assert list(action.names) == ['dx', 'dy'] and 0 <= action.index < 5
    assert_bounded(action)
    assert nodes.stop(node) == 0
