"""`nanobot bag repair`: a writer cut off after flush() loses only what came after it."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from nanobot_ros.cli import bag as bag_cli
from nanobot_ros.data.bag_writer import BagWriter
from nanobot_ros.data.bags import Bag, BagError, make_typestore
from nanobot_ros.data.recording import lock_file, RecorderConfig, SessionRecorder
from nanobot_ros.data.repair import repair


def _string(store, text):
    return store.types['std_msgs/msg/String'](data=text)


def _crashed_copy(tmp_path, storage, flushed, unflushed):
    """Write, flush, write more, and copy the directory as a killed process would leave it."""
    writer = BagWriter(tmp_path / 'live', storage=storage)
    writer.add_topic('/chatter', 'std_msgs/msg/String')
    for i in range(flushed):
        writer.write_message('/chatter', 1_000 + i, _string(writer.typestore, f'm{i}'))
    writer.flush()
    for i in range(flushed, flushed + unflushed):
        writer.write_message('/chatter', 1_000 + i, _string(writer.typestore, f'm{i}'))
    crashed = tmp_path / 'crashed'
    shutil.copytree(tmp_path / 'live', crashed)
    writer.close()
    return crashed


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_repair_recovers_everything_flushed(tmp_path, storage):
    crashed = _crashed_copy(tmp_path, storage, flushed=50, unflushed=7)
    with pytest.raises(BagError, match='repair'):
        Bag(crashed)  # no metadata.yaml: the error names the command
    assert bag_cli.main(['repair', str(crashed)]) == 0
    bag = Bag(crashed)
    texts = [bag.decode(r).data for r in bag.records()]
    assert texts == [f'm{i}' for i in range(50)]
    assert bag.topics['/chatter'].msgtype == 'std_msgs/msg/String'
    [result] = repair(crashed)  # a finished bag is left alone
    assert not result.repaired and result.messages == 50


def test_repair_of_a_file_cut_anywhere_keeps_the_complete_chunks(tmp_path):
    writer = BagWriter(tmp_path / 'full', storage='mcap')
    writer.add_topic('/chatter', 'std_msgs/msg/String')
    for chunk in range(4):
        for i in range(10):
            writer.write_message('/chatter', chunk * 10 + i, _string(writer.typestore, 'x'))
        writer.flush()
    writer.close()
    storage = tmp_path / 'full' / 'full.mcap'
    data = storage.read_bytes()
    for cut in (len(data) // 5, len(data) // 2, len(data) - 200):
        bag_dir = tmp_path / f'cut{cut}' / 'full'
        bag_dir.mkdir(parents=True)
        (bag_dir / 'full.mcap').write_bytes(data[:cut])
        with pytest.raises(BagError, match='repair'):
            Bag(bag_dir)
        [result] = repair(bag_dir, keep_original=True)
        assert result.repaired and result.messages % 10 == 0  # whole chunks only
        assert Bag(bag_dir).message_count == result.messages
        assert (bag_dir.parent / 'full.damaged' / 'full.mcap').stat().st_size == cut


def test_repair_of_a_missing_path_is_a_clear_error(tmp_path, capsys):
    assert bag_cli.main(['repair', str(tmp_path / 'nope')]) == 1
    assert 'does not exist' in capsys.readouterr().err


def _files(folder):
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob('*')
            if p.is_file()}


def test_repair_refuses_a_session_being_recorded_and_changes_nothing(tmp_path, capsys):
    recorder = SessionRecorder(RecorderConfig(root=tmp_path, robot_type='livebot',
                                              min_free_gb=0.0), log=lambda text: None)
    recorder.add_topic('/chatter', 'std_msgs/msg/String')
    session = recorder.start()
    store = make_typestore()
    data = bytes(store.serialize_cdr(_string(store, 'live'), 'std_msgs/msg/String'))
    for i in range(20):
        assert recorder.put('/chatter', 1_000 + i, data)
    end = time.monotonic() + 10
    while recorder.counts()['written'] < 20 and time.monotonic() < end:
        time.sleep(0.05)
    flushed = recorder.flushes  # one flush after the 20: the files stop changing
    while recorder.flushes == flushed and time.monotonic() < end:
        time.sleep(0.02)
    assert recorder.flushes > flushed
    before = _files(session)
    assert bag_cli.main(['repair', str(session)]) == 1
    error = capsys.readouterr().err
    assert 'being recorded right now' in error and f'pid {os.getpid()}' in error
    assert bag_cli.main(['repair', str(recorder.current_split)]) == 1
    assert _files(session) == before and recorder.recording
    recorder.stop()
    assert not lock_file(recorder.splits[0]).exists()  # released at close
    [result] = repair(session)
    assert not result.repaired and result.messages == 20


def test_a_lock_left_by_a_killed_process_does_not_stop_repair(tmp_path):
    crashed = _crashed_copy(tmp_path, 'mcap', flushed=30, unflushed=3)
    holder = subprocess.Popen(
        [sys.executable, '-c', 'import sys, time; from pathlib import Path; '
         'from nanobot_ros.data.recording import SplitLock; lock = SplitLock(Path(sys.argv[1]))'
         '; print("locked", flush=True); time.sleep(60)', str(crashed)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        with pytest.raises(BagError, match=f'pid {holder.pid}'):
            repair(crashed)
        assert not (crashed / 'metadata.yaml').exists()
    finally:
        holder.kill()
        holder.wait()
    assert lock_file(crashed).is_file()  # left behind by SIGKILL, but nobody holds it
    [result] = repair(crashed)
    assert result.repaired and result.messages == 30
    assert not lock_file(crashed).exists()
