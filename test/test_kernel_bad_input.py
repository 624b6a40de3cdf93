"""Kernel fed NaN/Inf, wrong shapes or encodings, stale frames: safe stop, keeps running."""
import numpy as np

from kernel_harness import ActionProbe, assert_bounded
from policy_fixtures import tiny_export
from std_msgs.msg import String


def test_bad_frames_get_the_safe_action_and_good_ones_the_model(ros, nodes, tmp_path):
    model = tiny_export(tmp_path)
    probe = ActionProbe(ros)
    kernel = nodes.start('kernel', params={'model_path': str(model), 'stale_after': 1.0})
    probe.instruction.publish(String(data='go to the red marker'))

    good = probe.served('kernel')
    assert good.source == 'kernel' and 0 <= good.index < 5
    assert_bounded(good)

    nan_frame = probe.frame()
    nan_frame.encoding, nan_frame.step = '32FC3', 40 * 12
    nan_frame.data = np.full((40, 40, 3), np.nan, np.float32).tobytes()
    inf_frame = probe.frame()
    inf_frame.encoding, inf_frame.step = '32FC3', 40 * 12
    inf_frame.data = np.full((40, 40, 3), np.inf, np.float32).tobytes()
    short = probe.frame()
    short.data = bytes(100)  # fewer bytes than height * step
    no_pixels = probe.frame()
    no_pixels.width = no_pixels.height = 0
    no_pixels.step, no_pixels.data = 0, b''
    stale = probe.frame(age=5.0)
    for bad in (nan_frame, inf_frame, short, no_pixels, stale):
        action = probe.answer(bad)
        assert action.source == 'kernel:safe:bad input' and action.index == 0
        assert list(action.values) == [0.0, 0.0]

    again = probe.answer(probe.frame(np.full((40, 40, 3), 90, np.uint8)))
    assert again.source == 'kernel'
    assert_bounded(again)
    assert nodes.stop(kernel) == 0
    log = nodes.output(kernel)
    for reason in ("unsupported image encoding '32FC3'", 'expected height * step',
                   'image has no pixels', 'frame is stale'):
        assert reason in log
