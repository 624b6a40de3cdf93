"""A model file that takes long to load does not stop a kernel answering frames meanwhile.

The model file is a FIFO: its load blocks until the test writes the export into it, as long as
the test likes. Loading on the node's own thread would leave every frame unanswered; loading
beside it, each frame gets the safe stop at once until the model is there, then the model's
answer.
"""
import os

import pytest

from kernel_harness import ActionProbe, KERNELS, model_file, start_kernel
from policy_fixtures import tiny_export
from std_msgs.msg import String


@pytest.mark.parametrize('impl', KERNELS)
def test_frames_are_answered_while_the_model_loads(impl, ros, nodes, tmp_path):
    export = model_file(impl, tiny_export(tmp_path / 'export')).read_bytes()
    fifo = model_file(impl, tmp_path / 'live' / 'policy.onnx')
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    probe = ActionProbe(ros)
    kernel = start_kernel(nodes, impl, {'model_path': str(tmp_path / 'live' / 'policy.onnx'),
                                        'reload_period': 0.2})
    probe.instruction.publish(String(data='go to the blue marker'))
    waiting = [probe.answer(probe.frame()).source for _ in range(3)]
    assert waiting == ['kernel:safe:no model'] * 3, nodes.output(kernel)

    with open(fifo, 'wb') as writer:  # the load under way is the reader
        writer.write(export)
    assert probe.served('kernel').source == 'kernel'
    assert nodes.stop(kernel) == 0, nodes.output(kernel)
