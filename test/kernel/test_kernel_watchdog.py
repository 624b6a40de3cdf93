"""When frames stop, the kernel publishes the safe action within one control period."""
import time

import pytest

from kernel_harness import ActionProbe, KERNELS, start_kernel
from policy_fixtures import tiny_export
from std_msgs.msg import String


@pytest.mark.parametrize('impl', KERNELS)
def test_silence_gets_a_stop_within_one_control_period(impl, ros, nodes, tmp_path):
    probe = ActionProbe(ros)
    kernel = start_kernel(nodes, impl, {'model_path': str(tiny_export(tmp_path)),
                                        'control_period': 0.3})
    probe.instruction.publish(String(data='go to the green marker'))
    probe.served('kernel')
    last_frame = time.monotonic()
    count = len(probe.actions)
    assert ros.spin_until(lambda: len(probe.actions) > count, timeout=5)
    stop = probe.actions[count]
    waited = time.monotonic() - last_frame
    assert stop.source == 'kernel:safe:stale input' and stop.index == 0
    assert waited < 2 * 0.3 + 0.3  # one period to notice, one timer tick, DDS slack
    assert nodes.stop(kernel) == 0
