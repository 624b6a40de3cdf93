"""Kernel without a model, with a corrupt one, then hot-reloading good and bad exports."""
import os

import pytest

from bag_fixtures import Diagnostics
from kernel_harness import ActionProbe, assert_bounded, KERNELS, model_file, start_kernel
from policy_fixtures import tiny_export
from std_msgs.msg import String


@pytest.mark.parametrize('impl', KERNELS)
def test_missing_corrupt_and_reloaded_models(impl, ros, nodes, tmp_path):
    diagnostics = Diagnostics(ros)
    onnx = tmp_path / 'live' / 'policy.onnx'
    path = model_file(impl, onnx)  # what this kernel reads of the export
    probe = ActionProbe(ros)
    kernel = start_kernel(nodes, impl, {'model_path': str(onnx), 'reload_period': 0.2})
    probe.instruction.publish(String(data='go to the blue marker'))

    assert probe.answer(probe.frame()).source == 'kernel:safe:no model'

    path.parent.mkdir()
    path.write_bytes(b'\x08\x01garbage, not a protobuf')
    assert ros.spin_until(lambda: diagnostics.values('kernel').get('reload_failures', 0) >= 1,
                          timeout=15)
    assert probe.answer(probe.frame()).source == 'kernel:safe:no model'

    # A good export (written as the exporter does: temp file + rename) is picked up.
    tiny_export(tmp_path / 'a')
    os.replace(model_file(impl, tmp_path / 'a' / 'policy.onnx'), path)
    probe.served('kernel')

    # A broken replacement never replaces the working model.
    broken = tmp_path / 'broken'
    broken.write_bytes(path.read_bytes()[:500])
    os.replace(broken, path)
    assert ros.spin_until(lambda: diagnostics.values('kernel').get('reload_failures', 0) >= 2,
                          timeout=15)
    action = probe.answer(probe.frame())
    assert action.source == 'kernel'
    assert_bounded(action)

    # A new good export is swapped in.
    tiny_export(tmp_path / 'b', seed=3)
    os.replace(model_file(impl, tmp_path / 'b' / 'policy.onnx'), path)
    assert ros.spin_until(lambda: diagnostics.values('kernel').get('reloads', 0) >= 1,
                          timeout=15)
    assert probe.answer(probe.frame()).source == 'kernel'
    assert diagnostics.values('kernel')['safe_actions']['no model'] >= 2
    assert nodes.stop(kernel) == 0
    assert 'did not load' in nodes.output(kernel)
