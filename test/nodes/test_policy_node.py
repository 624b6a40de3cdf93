"""The policy node (PyTorch eager) answers frames from a safetensors checkpoint, stamped."""
import numpy as np
import pytest
from std_msgs.msg import String

from kernel_harness import ActionProbe, assert_bounded
from nanobot_ros.policy.export import export_policy
from nanobot_ros.policy.eager_runtime import EagerPolicy
from nanobot_ros.policy.weights import load_policy
from policy_fixtures import perturbed, tiny_policy

INSTRUCTION = 'go to the red marker'


def test_policy_node_serves_the_checkpoint(ros, nodes, tmp_path):
    # Two policies with weights of their own (no zero-initialised head: a node that ignored its
    # weights would not answer with either's action); deterministic heads, so the answer is one.
    served, other = (export_policy(perturbed(tiny_policy(head='regression'), seed),
                                   tmp_path / f'policy_{seed}.onnx').with_suffix('.safetensors')
                     for seed in (1, 2))
    image = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    observation = {'image': image, 'instruction': INSTRUCTION}
    expected, unexpected = (EagerPolicy(load_policy(path)[0], 'ddim', 4).select_action(
        observation)['values'] for path in (served, other))
    assert not np.allclose(expected, unexpected, atol=1e-3)
    probe = ActionProbe(ros)
    node = nodes.start('policy', params={'model_path': str(served), 'ddim_steps': 4})
    probe.instruction.publish(String(data=INSTRUCTION))
    probe.served('policy', timeout=60)  # it has the model and the instruction
    action = probe.answer(probe.frame(image))
    assert action.source == 'policy'
    assert list(action.names) == ['dx', 'dy'] and 0 <= action.index < 5
    assert list(action.values) == pytest.approx(expected.tolist(), rel=1e-5, abs=1e-6)
    assert_bounded(action)
    assert nodes.stop(node) == 0
