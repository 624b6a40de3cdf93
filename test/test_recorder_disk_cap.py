"""Disk cap: oldest sessions go, total stays under cap + one split; the reserve stops cleanly."""
import time

import pytest

from nanobot_ros.data.bags import Bag, BagError
from nanobot_ros.data.recording import GB, MB, RecorderConfig, SessionRecorder, folder_bytes

PAYLOAD = bytes(20_000)  # a 20 kB message, written as the data of a std_msgs/String-like blob


def _recorder(root, **overrides):
    config = RecorderConfig(root=root, robot_type='capbot', **{'min_free_gb': 0.0, **overrides})
    recorder = SessionRecorder(config, log=lambda text: None)
    recorder.add_topic('/blob', 'std_msgs/msg/UInt8MultiArray')
    return recorder


def _blob(recorder, count):
    # A UInt8MultiArray CDR: header(4) + layout (dim count 0, data_offset 0) + data.
    cdr = b'\x00\x01\x00\x00' + bytes(8) + len(PAYLOAD).to_bytes(4, 'little') + PAYLOAD
    for i in range(count):
        assert recorder.put('/blob', time.time_ns(), cdr)
        time.sleep(0.001)


def _wait_written(recorder, count, timeout=20.0):
    end = time.monotonic() + timeout
    while recorder.counts()['written'] < count and time.monotonic() < end:
        time.sleep(0.05)


def test_oldest_sessions_are_deleted_and_the_current_one_never(tmp_path):
    robot = tmp_path / 'capbot'
    for name in ['20200101-000000', '20200102-000000', '20200103-000000']:
        (robot / name).mkdir(parents=True)
        (robot / name / 'old.mcap').write_bytes(bytes(400_000))
    split_mb, cap_gb = 0.2, 1.0 * MB / GB
    recorder = _recorder(tmp_path, split_size_mb=split_mb, max_disk_gb=cap_gb)
    session = recorder.start()
    _blob(recorder, 60)  # 1.2 MB: more than the cap on its own
    _wait_written(recorder, 60)
    recorder.stop()
    remaining = sorted(p.name for p in robot.iterdir())
    assert remaining == [session.name], 'every older session goes before the current one'
    assert len(recorder.splits) >= 5
    assert [p.name for p in recorder.deleted_sessions] == [
        '20200101-000000', '20200102-000000', '20200103-000000']
    # The current session is never deleted, so only its finished splits exceed the cap.
    assert folder_bytes(robot) <= cap_gb * GB + len(recorder.splits) * (split_mb * MB + 50_000)
    for split in recorder.splits:
        Bag(split)  # finished splits open without repair


def test_total_stays_under_cap_plus_one_split_across_sessions(tmp_path):
    split_mb, cap_gb = 0.2, 0.5 * MB / GB
    robot = tmp_path / 'capbot'
    for _ in range(3):
        recorder = _recorder(tmp_path, split_size_mb=split_mb, max_disk_gb=cap_gb)
        recorder.start()
        _blob(recorder, 12)  # 0.24 MB per session
        _wait_written(recorder, 12)
        recorder.stop()
        assert folder_bytes(robot) <= cap_gb * GB + split_mb * MB + 100_000
        time.sleep(1.0)  # session folders are named by the second
    assert len(list(robot.iterdir())) < 3


def test_free_space_reserve_refuses_to_start_and_stops_a_running_session(tmp_path):
    recorder = _recorder(tmp_path, min_free_gb=1e6)
    with pytest.raises(BagError, match='below the reserve'):
        recorder.start()
    assert not (tmp_path / 'capbot').exists() or not list((tmp_path / 'capbot').iterdir())

    recorder = _recorder(tmp_path, flush_period_s=0.2)
    recorder.start()
    _blob(recorder, 5)
    _wait_written(recorder, 5)
    recorder.config.min_free_gb = recorder.free_bytes() / GB + 1000  # the disk "fills up"
    end = time.monotonic() + 5
    while recorder.recording and time.monotonic() < end:
        time.sleep(0.05)
    assert not recorder.recording
    assert 'below the reserve' in recorder.stopped_reason
    assert not recorder.put('/blob', time.time_ns(), b'x')  # counted as dropped, not written
    assert recorder.counts()['dropped'] == 1
    [split] = recorder.splits
    assert Bag(split).message_count == 5  # closed cleanly: opens without repair
