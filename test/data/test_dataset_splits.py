"""BagDataset joins the consecutive splits of one recorded session into one stream, no more."""
import numpy as np
import pytest

from bag_fixtures import frame, SESSION_TOPICS, session_messages
from nanobot_ros.contract import ACTION, IMAGE, TELEMETRY
from nanobot_ros.data.dataset import BagDataset
from nanobot_ros.data.recording import RecorderConfig, SessionRecorder

MSGTYPES = {t.fqn(): t.msgtype for t in SESSION_TOPICS}


def record_session(root, steps=12, start_step=0, split_before=()):
    """Record `session_messages` with the project's SessionRecorder; return its splits.

    split_before: (topic, step) pairs; a new split starts right before that message.
    """
    recorder = SessionRecorder(RecorderConfig(root=root, min_free_gb=0.0))
    for topic in SESSION_TOPICS:
        recorder.add_topic(topic.fqn(), topic.msgtype)
    recorder.start()
    step = None
    for topic, time_ns, msg in session_messages(recorder.typestore, steps, start_step):
        if topic == TELEMETRY.fqn():
            step = msg.sequence
        if (topic, step) in split_before:
            recorder.request_split()
        assert recorder.put(topic, time_ns, bytes(
            recorder.typestore.serialize_cdr(msg, MSGTYPES[topic])))
    recorder.stop()
    return recorder.splits


def test_a_split_session_gives_the_samples_of_the_unsplit_one(tmp_path):
    [whole] = record_session(tmp_path / 'whole')
    # Split 0 ends between frame 4 and its action; split 2 starts between telemetry 8 and
    # frame 8. The only /instruction is in split 0.
    splits = record_session(tmp_path / 'split', split_before={(ACTION.fqn(), 4),
                                                              (IMAGE.fqn(), 8)})
    assert [s.name[-4:] for s in splits] == ['_000', '_001', '_002']
    unsplit, data = BagDataset(whole), BagDataset(tmp_path / 'split')
    assert len(data.bags) == 3 and not data.skipped
    assert len(data) == len(unsplit) == 11
    for i in range(11):
        sample, reference = data[i], unsplit[i]
        np.testing.assert_array_equal(sample.observation, frame(i))
        np.testing.assert_array_equal(sample.next_observation, frame(i + 1))
        for name in ('action_index', 'action_values', 'telemetry', 'instruction', 'stamp',
                     'next_stamp'):
            np.testing.assert_array_equal(getattr(sample, name), getattr(reference, name))
        assert sample.instruction == 'move right'
        np.testing.assert_array_equal(sample.telemetry, [float(i)])
    # Frame 4 is in split 0, its action and frame 5 in split 1: one boundary sample.
    assert (data[4].bag, data[4].next_bag) == (str(splits[0]), str(splits[1]))
    assert data[4].action_index == 0
    # Frame 7 in split 1, frame 8 in split 2, frame 8's telemetry in split 1.
    assert (data[7].bag, data[7].next_bag) == (str(splits[1]), str(splits[2]))
    assert data[8].bag == str(splits[2]) and data[8].telemetry[0] == 8.0


def test_sessions_and_splits_around_a_missing_one_are_never_joined(tmp_path):
    first = record_session(tmp_path, steps=6, split_before={(TELEMETRY.fqn(), 3)})
    second = record_session(tmp_path, steps=6, start_step=6)
    assert first[0].parent != second[0].parent
    data = BagDataset(tmp_path)
    assert len(data) == 5 + 5  # no sample from the first session's end to the second's start
    assert all(s.bag.startswith(str(first[0].parent)) == s.next_bag.startswith(
        str(first[0].parent)) for s in data)
    # A split that cannot be read cuts the stream: its neighbours are not joined.
    middle = record_session(tmp_path / 'gap', steps=9, split_before={
        (TELEMETRY.fqn(), 3), (TELEMETRY.fqn(), 6)})[1]
    storage = next(middle.glob('*.mcap'))
    storage.write_bytes(storage.read_bytes()[:storage.stat().st_size // 2])
    gap = BagDataset(tmp_path / 'gap')
    assert list(gap.skipped) == [str(middle)]
    assert len(gap) == 2 + 2
    # Neighbouring frames only, none across the missing split.
    assert all(s.next_stamp - s.stamp == pytest.approx(0.1, abs=1e-3) for s in gap)
