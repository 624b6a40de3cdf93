"""A real full disk (a tmpfs of a few MB).

The recorder closes its split cleanly and says why, nothing written before is lost; a disk
filled by someone else leaves a repairable split; a checkpoint save that does not fit leaves
the old checkpoint loadable.
"""
import errno
import os
from pathlib import Path
import subprocess
import time

import pytest

from bag_fixtures import BLOB_PAYLOAD, engine_recorder, wait_written
from nanobot_ros.data.bags import Bag, find_bags
from nanobot_ros.data.recording import CLOSE_RESERVE, MB
from nanobot_ros.data.repair import repair

DISK_MB = 6


@pytest.fixture
def small_disk(tmp_path):
    """Mount a DISK_MB tmpfs; fail (never skip) where mounting is impossible."""
    mount = tmp_path / 'disk'
    mount.mkdir()
    result = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={DISK_MB}m', 'tmpfs',
                             str(mount)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f'cannot mount a tmpfs for the full-disk tests (they need root or '
                    f'CAP_SYS_ADMIN): {result.stderr.strip()}')
    try:
        yield mount
    finally:
        subprocess.run(['umount', '-l', str(mount)], check=True)


def fill(folder: Path) -> Path:
    """Write a file until the disk is full (ENOSPC); return it."""
    filler = folder / 'filler'
    with open(filler, 'wb', buffering=0) as handle:
        try:
            while True:
                handle.write(bytes(64 * 1024))
        except OSError as error:
            assert error.errno == errno.ENOSPC
        try:
            while True:
                handle.write(bytes(512))
        except OSError as error:
            assert error.errno == errno.ENOSPC
    return filler


def _sequence(cdr: bytes) -> int:
    return int.from_bytes(cdr[-len(BLOB_PAYLOAD):][:4], 'little')


def _numbered_blobs(recorder, first: int, count: int) -> int:
    """Put `count` blobs numbered first.. (the number in their first payload bytes)."""
    accepted = 0
    for i in range(first, first + count):
        payload = i.to_bytes(4, 'little') + BLOB_PAYLOAD[4:]
        cdr = (b'\x00\x01\x00\x00' + bytes(8) + len(payload).to_bytes(4, 'little') + payload)
        accepted += recorder.put('/blob', time.time_ns(), cdr)
        time.sleep(0.002)
    return accepted


def _wait_stopped(recorder, timeout=20.0):
    end = time.monotonic() + timeout
    while recorder.recording and time.monotonic() < end:
        time.sleep(0.05)
    assert not recorder.recording, 'the recorder kept going on a full disk'


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_recording_until_the_disk_is_full_closes_the_split_cleanly(small_disk, storage):
    recorder = engine_recorder(small_disk, 'fullbot', storage=storage, flush_period_s=0.2)
    recorder.start()
    offered = 2 * DISK_MB * MB // len(BLOB_PAYLOAD)  # twice what fits
    accepted = _numbered_blobs(recorder, 0, offered)
    _wait_stopped(recorder)
    assert accepted < offered
    assert recorder.stopped_reason.startswith(f'stopped recording: the free space on '
                                              f'{small_disk} (')
    assert f'would fall below the reserve of {CLOSE_RESERVE / MB:g} MB' in recorder.stopped_reason
    counts = recorder.counts()
    assert counts['received'] == offered
    assert counts['written'] + counts['dropped'] == offered  # every message accounted for
    [split] = recorder.splits
    bag = Bag(split)  # closed cleanly: metadata.yaml, opens without repair
    assert (split / 'metadata.yaml').is_file()
    numbers = [_sequence(r.data) for r in bag.records()]
    assert numbers == list(range(counts['written']))  # all written, in order, readable
    assert counts['written'] * len(BLOB_PAYLOAD) > (DISK_MB - 2) * MB  # the disk was used
    free = os.statvfs(small_disk)
    assert free.f_bavail * free.f_frsize > 0
    # Nothing else breaks: the engine keeps taking messages (counted as dropped).
    assert not recorder.put('/blob', time.time_ns(), b'x')
    assert recorder.counts()['dropped'] == counts['dropped'] + 1


def test_a_disk_filled_by_another_writer_leaves_a_repairable_split(small_disk):
    recorder = engine_recorder(small_disk, 'fullbot', flush_period_s=0.2)
    recorder.start()
    assert _numbered_blobs(recorder, 0, 40) == 40
    wait_written(recorder, 40)
    flushed = recorder.flushes
    end = time.monotonic() + 10
    while recorder.flushes == flushed and time.monotonic() < end:  # one flush after the 40
        time.sleep(0.02)
    assert recorder.flushes > flushed
    filler = fill(small_disk)
    _numbered_blobs(recorder, 40, 60)
    _wait_stopped(recorder)
    [split] = recorder.splits
    # Which comes first is a race with the other writer: a write that meets the full disk
    # (the split is left for repair), or the free-space check at a flush that sees the disk
    # already full (the split is closed in the reserve, unless the other writer took that
    # too: then it is left for repair and the reason says so). Nothing flushed is lost.
    reason = recorder.stopped_reason
    hit_full_disk = reason == (
        f'stopped recording: No space left on device while writing {split}; everything '
        f'flushed before (at most 0.2 s earlier) is recoverable: `nanobot bag repair '
        f'{recorder.session}` once there is space')
    out_of_room = reason.startswith(f'stopped recording: the free space on {small_disk} (') \
        and 'MB) would fall below the reserve of 1 MB' in reason
    assert hit_full_disk or out_of_room, reason
    closed = (split / 'metadata.yaml').exists()
    assert closed == (out_of_room and reason.endswith(f'; split {split} closed')), reason
    if not closed and out_of_room:
        assert reason.endswith(f'`nanobot bag repair {recorder.session}` once there is space')
    assert not recorder.put('/blob', time.time_ns(), b'x')
    filler.unlink()
    if not closed:
        [result] = repair(recorder.session)
        assert result.repaired
    numbers = [_sequence(r.data) for r in Bag(split).records()]
    assert numbers[:40] == list(range(40))  # everything flushed before the disk filled
    assert numbers == list(range(len(numbers))) and len(numbers) <= recorder.counts()['written']


def test_a_checkpoint_save_on_a_full_disk_keeps_the_old_one(small_disk):
    from nanobot_ros.learning.persistence import WorldModelCheckpoints
    from persistence_worker import make_loop, weights_digest
    from tiny_world_model import dot_frame
    loop = make_loop()
    frame = dot_frame(2)
    loop.step(frame, lambda action: frame)
    checkpoints = WorldModelCheckpoints(small_disk / 'checkpoints')
    checkpoints.save(loop)
    saved = (loop.learner.predictor_training_step, weights_digest(loop.learner))
    loop.step(frame, lambda action: frame)
    filler = fill(small_disk)
    with pytest.raises(OSError) as raised:
        checkpoints.save(loop)
    assert raised.value.errno == errno.ENOSPC
    # No torn temp file is left to keep the disk full; the last good checkpoint loads.
    assert sorted(p.name for p in (small_disk / 'checkpoints').iterdir()) == [
        'world_model.safetensors']
    resumed = make_loop()
    path, _ = checkpoints.restore(resumed)
    assert path == str(checkpoints.path)
    assert (resumed.learner.predictor_training_step, weights_digest(resumed.learner)) == saved
    filler.unlink()
    checkpoints.save(loop)  # space again: saving works again


def test_the_recorder_node_on_a_full_disk_says_why_and_keeps_running(ros, nodes, small_disk):
    from std_msgs.msg import UInt8MultiArray
    from bag_fixtures import Diagnostics, wait_for_recorder
    from nanobot_ros.contract import COMMAND
    from nanobot_ros.nodes.common import ERROR, qos_profile
    diagnostics = Diagnostics(ros)
    recorder = nodes.start('recorder', params={
        'output_dir': str(small_disk), 'topics': "['/blob']", 'min_free_gb': 0.0,
        'flush_period_s': 0.2, 'compression': 'none'})  # zero blobs: compressed they never fill it
    blobs = ros.node.create_publisher(UInt8MultiArray, '/blob', qos_profile(COMMAND))
    wait_for_recorder(ros, diagnostics, small_disk, topics=1)
    assert ros.spin_until(lambda: blobs.get_subscription_count() >= 1, 30.0)
    sent = 2 * DISK_MB * MB // len(BLOB_PAYLOAD)
    for i in range(sent):
        blobs.publish(UInt8MultiArray(data=i.to_bytes(4, 'little') + BLOB_PAYLOAD[4:]))
        ros.spin_for(0.004)

    def stopped():
        return 'stopped_reason' in diagnostics.recorder(small_disk)
    assert ros.spin_until(stopped, 30.0), nodes.output(recorder)
    del diagnostics.reports['recorder']  # a later report: the node keeps running and reporting
    assert ros.spin_until(lambda: 'recorder' in diagnostics.reports, 10.0)
    level, message, values = diagnostics.reports['recorder']
    assert level == ERROR and message == values['stopped_reason']
    assert 'would fall below the reserve of 1 MB' in message
    assert values['recording'] is False
    assert values['messages_written'] + values['messages_dropped'] == \
        values['messages_received']
    assert recorder.poll() is None
    assert nodes.stop(recorder) == 0
    [split] = find_bags(small_disk)
    bag = Bag(split)  # closed cleanly: opens without repair
    numbers = [int.from_bytes(bag.decode(r).data[:4].tobytes(), 'little')
               for r in bag.records()]
    # Reliable QoS: every blob reached the recorder in order; the first ones were written.
    assert values['messages_received'] == sent
    assert numbers == list(range(values['messages_written']))
