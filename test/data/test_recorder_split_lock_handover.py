"""At a split the recorder takes the next split's lock before it drops the closing one's.

So a recorder killed at any moment leaves a stale lock where it was writing, and repair deletes
the one left for a split whose bag does not exist yet.
"""
import time

from nanobot_ros.data.bags import make_typestore
from nanobot_ros.data.recording import live_locks, lock_file, RecorderConfig, SessionRecorder, \
    SplitLock
from nanobot_ros.data.repair import repair

SPLITS = 4


def test_a_lock_is_held_through_every_split_and_repair_deletes_an_orphan(tmp_path, monkeypatch):
    held_after_release = []
    release = SplitLock.release

    def watched_release(lock):
        release(lock)
        held_after_release.append(len(live_locks(lock.path.parent)))

    monkeypatch.setattr(SplitLock, 'release', watched_release)
    recorder = SessionRecorder(RecorderConfig(root=tmp_path, robot_type='livebot',
                                              min_free_gb=0.0, split_size_mb=0.01),
                               log=lambda text: None)
    recorder.add_topic('/chatter', 'std_msgs/msg/String')
    session = recorder.start()
    store = make_typestore()
    data = bytes(store.serialize_cdr(store.types['std_msgs/msg/String'](data='x' * 1000),
                                     'std_msgs/msg/String'))
    for i in range(SPLITS * 12):  # 12 kB a split of 10 kB
        assert recorder.put('/chatter', 1_000 + i, data)
    end = time.monotonic() + 10
    while recorder.counts()['written'] < SPLITS * 12 and time.monotonic() < end:
        time.sleep(0.02)
    recorder.stop()
    names = [split.name for split in recorder.splits]
    assert names == [f'{session.name}_{i:03d}' for i in range(len(names))]
    assert len(names) >= SPLITS
    # Every split's lock but the last one's was dropped while the next split's was held.
    assert held_after_release == [1] * (len(names) - 1) + [0]

    orphan = lock_file(session / f'{session.name}_{len(names):03d}')
    orphan.write_text('12345\n')  # as SIGKILL between the two leaves it: nobody holds it
    results = repair(session)
    assert [result.repaired for result in results] == [False] * len(names)
    assert not orphan.exists()
