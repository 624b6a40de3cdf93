"""Kernel fed NaN/Inf, wrong shapes or encodings, stale frames: safe stop, keeps running."""
import numpy as np
import pytest

from kernel_harness import ActionProbe, assert_bounded, KERNELS, start_kernel
from nanobot_msgs.msg import Telemetry
from nanobot_ros.contract import SENSOR, TELEMETRY
from nanobot_ros.nodes.common import qos_profile
from policy_fixtures import tiny_export
from std_msgs.msg import String


@pytest.mark.parametrize('impl', KERNELS)
def test_bad_frames_get_the_safe_action_and_good_ones_the_model(impl, ros, nodes, tmp_path):
    model = tiny_export(tmp_path)
    probe = ActionProbe(ros)
    kernel = start_kernel(nodes, impl, {'model_path': str(model), 'stale_after': 1.0})
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


@pytest.mark.parametrize('impl', KERNELS)
def test_missing_nan_or_short_telemetry_and_a_bad_step_get_the_safe_action(
        impl, ros, nodes, tmp_path):
    model = tiny_export(tmp_path, robotics_sensor_dim=3)
    probe = ActionProbe(ros)
    telemetry = ros.node.create_publisher(Telemetry, TELEMETRY.fqn(), qos_profile(SENSOR))
    kernel = start_kernel(nodes, impl, {'model_path': str(model), 'stale_after': 1.0})
    probe.instruction.publish(String(data='go to the red marker'))

    def answer_with(values):
        # Telemetry first, then frames until one is answered (the sample is 0.5 s fresh).
        telemetry.publish(Telemetry(names=['a', 'b', 'c'][:len(values)], values=values))
        ros.spin_for(0.1)
        return probe.answer(probe.frame())

    # Until the instruction is in (latched, so it comes with discovery, which may take
    # seconds on a loaded machine): then only the telemetry is missing.
    end = ros.node.get_clock().now().nanoseconds + 20 * 10**9
    while ros.node.get_clock().now().nanoseconds < end:
        if 'no telemetry received yet' in nodes.output(kernel):
            break
        assert probe.answer(probe.frame()).source in ('kernel:safe:bad input',
                                                      'kernel:safe:no model')
    assert 'no telemetry received yet' in nodes.output(kernel)
    good = answer_with([0.1, 0.2, 0.3])
    assert good.source == 'kernel'
    assert_bounded(good)
    for values in ([float('nan'), 0.0, 0.0], [0.0, float('inf'), 0.0], [0.1, 0.2]):
        action = answer_with(values)
        assert action.source == 'kernel:safe:bad input'
        assert list(action.values) == [0.0, 0.0] and action.index == 0
    bad_step = probe.frame()
    bad_step.step = 40 * 3 - 1  # shorter than a row of pixels
    bad_step.data = bytes(40 * bad_step.step)
    telemetry.publish(Telemetry(names=['a', 'b', 'c'], values=[0.1, 0.2, 0.3]))
    assert probe.answer(bad_step).source == 'kernel:safe:bad input'
    assert answer_with([0.1, 0.2, 0.3]).source == 'kernel'
    assert nodes.stop(kernel) == 0
    log = nodes.output(kernel)
    for reason in ('sensors holds non-finite values',
                   'sensors must have 3 values, got 2', 'is smaller than width * channels'):
        assert reason in log, reason
