"""BagDataset: time-aligned samples with random access, action filter, bags ROS 2 wrote."""
import numpy as np
import pytest

from bag_fixtures import frame, rosbag2_fixture, START_NS, write_session_bag
from nanobot_ros.data.bags import BagError
from nanobot_ros.data.dataset import BagDataset


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_samples_pair_each_frame_with_its_action_and_the_next_frame(tmp_path, storage):
    write_session_bag(tmp_path / 'bag', steps=10, storage=storage)
    data = BagDataset(tmp_path)
    assert len(data) == 9  # the last frame has no next frame
    for i in [4, 0, 8, -1]:
        step = i % 9
        sample = data[i]
        np.testing.assert_array_equal(sample.observation, frame(step))
        np.testing.assert_array_equal(sample.next_observation, frame(step + 1))
        assert sample.action_index == step % 2
        assert sample.action_names == ('motor_right',)
        np.testing.assert_allclose(sample.action_values, [0.12 * (step % 2)], atol=1e-6)
        np.testing.assert_array_equal(sample.telemetry, [float(step)])
        assert sample.telemetry_names == ('speed',)
        assert sample.instruction == 'move right'
        assert sample.stamp == pytest.approx((START_NS + step * 100_000_000) * 1e-9)
        assert sample.next_stamp == pytest.approx(sample.stamp + 0.1)
        assert sample.to_dict()['action_index'] == sample.action_index


def test_action_filter_keeps_only_matching_transitions(tmp_path):
    write_session_bag(tmp_path / 'bag', steps=10)
    moves = BagDataset(tmp_path, action_filter='motor_right=0.12')
    assert len(moves) == 4 and all(s.action_index == 1 for s in moves)
    assert len(BagDataset(tmp_path, action_filter='index=0')) == 5


def test_bags_recorded_by_ros2_load_and_a_missing_path_is_a_clear_error(tmp_path):
    data = BagDataset(rosbag2_fixture('talker_mcap'))
    assert len(data.bags) == 1 and len(data) == 0 and not data.skipped  # no camera topic
    with pytest.raises(BagError, match='does not exist'):
        BagDataset(tmp_path / 'nope')
