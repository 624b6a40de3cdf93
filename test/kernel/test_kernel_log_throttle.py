"""A safe-stop reason that repeats is logged once per 2 s, even when its numbers change."""
import time

import pytest

from kernel_harness import ActionProbe, KERNELS, start_kernel
from policy_fixtures import tiny_export
from std_msgs.msg import String


@pytest.mark.parametrize('impl', KERNELS)
def test_repeated_stale_frames_log_once_per_window_and_a_new_reason_at_once(
        impl, ros, nodes, tmp_path):
    model = tiny_export(tmp_path)
    probe = ActionProbe(ros)
    kernel = start_kernel(nodes, impl, {'model_path': str(model), 'stale_after': 1.0})
    probe.instruction.publish(String(data='go to the red marker'))
    probe.served('kernel')

    start = time.monotonic()
    for i in range(30):  # every frame a different age: "frame is stale: 5.0xx s old"
        action = probe.answer(probe.frame(age=5.0 + i * 0.01))
        assert action.source == 'kernel:safe:bad input'
    elapsed = time.monotonic() - start
    short = probe.frame()
    short.data = bytes(100)
    assert probe.answer(short).source == 'kernel:safe:bad input'

    assert nodes.stop(kernel) == 0
    log = nodes.output(kernel)
    stale_lines = log.count('frame is stale')
    assert 1 <= stale_lines <= 1 + int(elapsed / 2.0), (stale_lines, elapsed)
    assert log.count('expected height * step') == 1
