"""A kernel reloading MiniLM exports builds their text encoder once, not once per export.

Every export of a MiniLM policy has the same text_encoder.onnx beside it; a learn stack
replaces the export every few seconds. The kernel keeps the encoder it built while the
encoder's files stay the same (its status counts the encoders built: `text_encoder_loads`),
builds it again when they change, and answers as the Python runtime does on the new export.
"""
import os
import shutil

import numpy as np
import pytest
from std_msgs.msg import String

from bag_fixtures import Diagnostics
from kernel_harness import ActionProbe, KERNELS, model_file, start_kernel
from nanobot_ros.policy.export import export_policy
from nanobot_ros.policy.onnx_runtime import OnnxPolicy
from nanobot_ros.policy.text_encoder import MAX_TOKENS
from policy_fixtures import perturbed, tiny_policy

INSTRUCTION = 'first the red cube, then the ball'


def minilm_export(folder, seed: int):
    """Export a tiny categorical MiniLM policy into `folder`; return the ONNX path."""
    policy = perturbed(tiny_policy(seed=seed, head='categorical', max_text_len=MAX_TOKENS,
                                   text_encoder='minilm'), seed)
    return export_policy(policy, folder / 'policy.onnx')


@pytest.mark.parametrize('impl', KERNELS)
def test_reloads_keep_the_text_encoder_until_its_files_change(impl, ros, nodes, tmp_path):
    diagnostics = Diagnostics(ros)
    live = tmp_path / 'live'
    live.mkdir()
    minilm_export(live, seed=1)
    probe = ActionProbe(ros)
    kernel = start_kernel(nodes, impl, {'model_path': str(live / 'policy.onnx'),
                                        'reload_period': 0.2})
    probe.instruction.publish(String(data=INSTRUCTION))
    probe.served('kernel')

    def replace_export(seed: int, reloads: int):
        """Put a new export's model file into `live` and await its load.

        As the trainer does: a copy renamed over the old file.
        """
        onnx = minilm_export(tmp_path / f'export{seed}', seed)
        shutil.copyfile(model_file(impl, onnx), live / 'incoming')
        os.replace(live / 'incoming', model_file(impl, live / 'policy.onnx'))
        assert ros.spin_until(
            lambda: diagnostics.values('kernel').get('reloads', 0) >= reloads, timeout=30), \
            nodes.output(kernel)
        return onnx

    replace_export(2, reloads=1)
    replace_export(3, reloads=2)
    assert ros.spin_until(lambda: diagnostics.values('kernel').get('reloads') == 2, timeout=10)
    assert diagnostics.values('kernel')['text_encoder_loads'] == 1

    # A new encoder file (a new inode, as a copy moved in gives) is built at the next reload.
    shutil.copyfile(live / 'text_encoder.onnx', tmp_path / 'encoder.onnx')
    os.replace(tmp_path / 'encoder.onnx', live / 'text_encoder.onnx')
    served = replace_export(4, reloads=3)
    assert ros.spin_until(lambda: diagnostics.values('kernel').get('reloads') == 3, timeout=10)
    assert diagnostics.values('kernel')['text_encoder_loads'] == 2

    image = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    action = probe.answer(probe.frame(image))
    expected = OnnxPolicy(served).select_action({'image': image, 'instruction': INSTRUCTION})
    assert (action.source, action.index) == ('kernel', expected['index'])
    assert nodes.stop(kernel) == 0, nodes.output(kernel)
