"""Message <-> numpy conversion, with no ROS graph."""
import numpy as np
import pytest
from sensor_msgs.msg import Image

from nanobot_ros.data.convert import (action_values, cv_bridge, CvBridge, frame_to_image,
                                      image_to_numpy, make_action, numpy_to_image,
                                      seconds_to_stamp, stamp_to_seconds, to_rgb)


@pytest.mark.parametrize('encoding,channels', [('rgb8', 3), ('bgr8', 3), ('mono8', 1)])
def test_image_round_trip(encoding, channels):
    array = np.random.default_rng(0).integers(0, 256, (5, 7, channels), dtype=np.uint8)
    msg = numpy_to_image(array, encoding)
    assert (msg.height, msg.width, msg.step, msg.encoding) == (5, 7, 7 * channels, encoding)
    np.testing.assert_array_equal(image_to_numpy(msg), array)


@pytest.mark.parametrize('step', [12, 10], ids=['whole pixel', 'partial pixel'])
def test_padded_rows_are_cropped(step):
    array = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    padded = np.zeros((2, step), dtype=np.uint8)
    padded[:, :9] = array.reshape(2, 9)
    msg = Image(height=2, width=3, encoding='rgb8', step=step, data=padded.tobytes())
    np.testing.assert_array_equal(image_to_numpy(msg), array)


def test_one_cv_bridge_per_process_when_importable():
    assert cv_bridge() is cv_bridge()
    assert (cv_bridge() is None) == (CvBridge is None)
    array = np.random.default_rng(1).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    msg = frame_to_image(array, 'bgr8')  # cv_bridge's message or the project's: the same
    assert (msg.height, msg.width, msg.step, msg.encoding) == (4, 6, 18, 'bgr8')
    np.testing.assert_array_equal(image_to_numpy(msg), array)


def test_inconsistent_step_is_rejected():
    msg = Image(height=2, width=3, encoding='rgb8', step=8, data=bytes(16))
    with pytest.raises(ValueError, match='step 8 is smaller than width'):
        image_to_numpy(msg)


def test_wrong_data_size_is_rejected():
    msg = Image(height=2, width=3, encoding='rgb8', step=9, data=bytes(17))
    with pytest.raises(ValueError, match='holds 17 bytes, expected'):
        image_to_numpy(msg)


def test_unknown_encoding_is_rejected():
    msg = Image(height=1, width=1, encoding='32FC1', step=4, data=bytes(4))
    with pytest.raises(ValueError, match="unsupported image encoding '32FC1'"):
        image_to_numpy(msg)


def test_wrong_array_shape_or_dtype_is_rejected():
    with pytest.raises(ValueError, match=r'needs shape \(H, W, 3\)'):
        numpy_to_image(np.zeros((4, 4, 1), np.uint8), 'rgb8')
    with pytest.raises(ValueError, match='needs a uint8 array'):
        numpy_to_image(np.zeros((4, 4, 3), np.float32), 'rgb8')


def test_to_rgb():
    bgr = np.zeros((1, 1, 3), np.uint8)
    bgr[0, 0] = (1, 2, 3)
    assert to_rgb(bgr, 'bgr8')[0, 0].tolist() == [3, 2, 1]
    assert to_rgb(np.full((1, 1, 1), 9, np.uint8), 'mono8')[0, 0].tolist() == [9, 9, 9]


def test_stamp_round_trip():
    stamp = seconds_to_stamp(12.25)
    assert (stamp.sec, stamp.nanosec) == (12, 250_000_000)
    assert stamp_to_seconds(stamp) == pytest.approx(12.25)


def test_action_values():
    msg = make_action(1, ['motor_left', 'motor_right'], [0.0, 0.12], 0.2, 'test')
    assert msg.index == 1 and msg.source == 'test'
    assert action_values(msg) == pytest.approx({'motor_left': 0.0, 'motor_right': 0.12})
    msg.values = [float('nan'), 0.1]
    with pytest.raises(ValueError, match='non-finite'):
        action_values(msg)
    msg.names = ['only_one']
    with pytest.raises(ValueError, match='2 values'):
        action_values(msg)
