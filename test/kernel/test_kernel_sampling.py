"""Each kernel node at `temperature` T answers one frame with draws from softmax(logits / T).

The same frame over DDS, answered again and again: the answers' frequencies are PyTorch's
tempered softmax for it (Gumbel-max on the export's noise input; Python runtime, Rust with ONNX
Runtime, Rust with Candle).
"""
import numpy as np
import pytest
from std_msgs.msg import String

from kernel_harness import ActionProbe, KERNELS, start_kernel
from nanobot_ros.policy.export import export_policy
from policy_fixtures import perturbed, tempered_softmax, tiny_policy

FRAMES = 300  # binomial std of a frequency <= 0.029; the bound below is 4 of them
INSTRUCTION = 'go to the red marker'


@pytest.mark.parametrize('impl', sorted(KERNELS))
def test_the_node_samples_the_tempered_softmax(impl, ros, nodes, tmp_path):
    policy = perturbed(tiny_policy(seed=1, head='categorical'), 2)
    model = export_policy(policy, tmp_path / 'policy.onnx')
    image = np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    temperature = 2.0
    expected = tempered_softmax(policy, {'image': image, 'instruction': INSTRUCTION},
                                temperature)
    assert (expected > 0.05).sum() >= 3
    probe = ActionProbe(ros)
    start_kernel(nodes, impl, {'model_path': str(model), 'temperature': temperature,
                               'seed': 4})
    probe.instruction.publish(String(data=INSTRUCTION))
    probe.served('kernel')
    indices = [probe.answer(probe.frame(image)).index for _ in range(FRAMES)]
    frequencies = np.bincount(indices, minlength=len(expected)) / FRAMES
    assert np.abs(frequencies - expected).max() < 0.115, (frequencies, expected)
