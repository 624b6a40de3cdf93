"""Disk cap: oldest sessions go, total stays under cap + one split; the reserve stops cleanly."""
import os
import threading
import time

import pytest

from bag_fixtures import BLOB_PAYLOAD, engine_recorder, put_blobs, wait_written
from nanobot_ros.data.bags import Bag, BagError
from nanobot_ros.data.recording import GB, MB, folder_bytes

SPLIT_MB = 0.2
# One split: its size limit, plus the message that crosses it, plus MCAP records and index.
ONE_SPLIT = SPLIT_MB * MB + len(BLOB_PAYLOAD) + 30_000


def _recorder(root, **overrides):
    return engine_recorder(root, 'capbot', **overrides)


def _bytes_now(path):
    """Return the bytes below `path`, skipping files deleted while walking (the cap at work)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except FileNotFoundError:
                pass
    return total


class PeakSize:
    """Sample a folder's size every 5 ms in a thread; `peak` is the largest seen."""

    def __init__(self, path):
        self.path, self.peak = path, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample)
        self._thread.start()

    def _sample(self):
        while not self._done.wait(0.005):
            self.peak = max(self.peak, _bytes_now(self.path))

    def stop(self):
        self._done.set()
        self._thread.join()
        return max(self.peak, _bytes_now(self.path))


def _old_sessions(robot, names, size=400_000):
    for name in names:
        (robot / name).mkdir(parents=True)
        (robot / name / 'old.mcap').write_bytes(bytes(size))


def test_oldest_sessions_go_first_then_the_oldest_closed_splits(tmp_path):
    robot = tmp_path / 'capbot'
    _old_sessions(robot, ['20200101-000000', '20200102-000000', '20200103-000000'])
    cap = 1 * MB
    recorder = _recorder(tmp_path, split_size_mb=SPLIT_MB, max_disk_gb=cap / GB)
    session = recorder.start()
    peak = PeakSize(robot)
    put_blobs(recorder, 60)  # 1.2 MB: more than the cap on its own
    wait_written(recorder, 60)
    recorder.stop()
    assert peak.stop() <= cap + ONE_SPLIT
    assert sorted(p.name for p in robot.iterdir()) == [session.name]
    assert [p.name for p in recorder.deleted_sessions] == [
        '20200101-000000', '20200102-000000', '20200103-000000']
    # Still over the cap: the session's own closed splits go, oldest first, never the last.
    assert recorder.deleted_splits == recorder.splits[:len(recorder.deleted_splits)]
    assert recorder.deleted_splits and recorder.splits[-1] not in recorder.deleted_splits
    kept = [s for s in recorder.splits if s not in recorder.deleted_splits]
    assert sorted(p for p in session.iterdir() if p.is_dir()) == kept
    for split in kept:
        Bag(split)  # finished splits open without repair
    assert not list(session.glob('*.lock')), 'closed splits hold no lock'


def test_one_long_session_stays_under_cap_plus_one_split(tmp_path):
    robot = tmp_path / 'capbot'
    cap = 1 * MB
    recorder = _recorder(tmp_path, split_size_mb=SPLIT_MB, max_disk_gb=cap / GB)
    recorder.start()
    peak = PeakSize(robot)
    put_blobs(recorder, 200)  # 4 MB in one session, 20 splits
    wait_written(recorder, 200)
    recorder.stop()
    assert peak.stop() <= cap + ONE_SPLIT
    assert len(recorder.splits) >= 19 and len(recorder.deleted_splits) >= 14
    for split in recorder.splits:
        if split not in recorder.deleted_splits:
            Bag(split)  # what is kept opens without repair


def test_cap_is_checked_at_flush_without_waiting_for_a_split(tmp_path):
    robot = tmp_path / 'capbot'
    _old_sessions(robot, ['20200101-000000', '20200102-000000', '20200103-000000'])
    recorder = _recorder(tmp_path, split_size_mb=0, max_disk_gb=1 * MB / GB,
                         flush_period_s=0.1)
    recorder.start()
    put_blobs(recorder, 25)  # 0.5 MB into one split that never closes: 1.7 MB in all
    wait_written(recorder, 25)
    end = time.monotonic() + 5
    while len(recorder.deleted_sessions) < 2 and time.monotonic() < end:
        time.sleep(0.05)
    assert recorder.recording and len(recorder.splits) == 1
    assert [p.name for p in recorder.deleted_sessions] == ['20200101-000000', '20200102-000000']
    assert (robot / '20200103-000000').is_dir()  # 0.9 MB left: under the cap, so it stays
    recorder.stop()


def test_a_session_another_live_recorder_writes_is_never_deleted(tmp_path):
    other = _recorder(tmp_path, split_size_mb=0)  # no cap to speak of: it only holds a lock
    other_session = other.start()
    put_blobs(other, 30)  # 0.6 MB
    wait_written(other, 30)
    recorder = _recorder(tmp_path, split_size_mb=SPLIT_MB, max_disk_gb=0.5 * MB / GB)
    session = recorder.start()
    try:
        put_blobs(recorder, 50)
        wait_written(recorder, 50)
        recorder.stop()
        assert not recorder.deleted_sessions and other_session.is_dir()
        assert recorder.deleted_splits  # the cap took its own closed splits instead
        assert all(split.parent == session for split in recorder.deleted_splits)
    finally:
        other.stop()
    assert Bag(other.splits[0]).message_count == 30


def test_total_stays_under_cap_plus_one_split_across_sessions(tmp_path):
    cap = 0.5 * MB
    robot = tmp_path / 'capbot'
    for _ in range(3):
        recorder = _recorder(tmp_path, split_size_mb=SPLIT_MB, max_disk_gb=cap / GB)
        recorder.start()
        put_blobs(recorder, 12)  # 0.24 MB per session
        wait_written(recorder, 12)
        recorder.stop()
        assert folder_bytes(robot) <= cap + ONE_SPLIT
        time.sleep(1.0)  # session folders are named by the second
    assert len(list(robot.iterdir())) < 3


def test_free_space_reserve_refuses_to_start_and_stops_a_running_session(tmp_path):
    recorder = _recorder(tmp_path, min_free_gb=1e6)
    with pytest.raises(BagError, match='below the reserve'):
        recorder.start()
    assert not (tmp_path / 'capbot').exists() or not list((tmp_path / 'capbot').iterdir())

    recorder = _recorder(tmp_path, flush_period_s=0.2)
    recorder.start()
    put_blobs(recorder, 5)
    wait_written(recorder, 5)
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
