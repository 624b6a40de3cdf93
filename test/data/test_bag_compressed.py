"""Compressed bags as rosbag2 writes them read exactly like plain ones; `nanobot bag convert`.

Every case (file mode .mcap.zstd / .db3.zstd, message mode in MCAP and sqlite3, MCAP zstd
chunks; rosbag2's upper-case FILE / MESSAGE in metadata.yaml too) is read by Bag, `nanobot bag
info` and the dataset, message for message and byte for byte against the same session written
plain. Replay of compressed bags: test_replay_compressed.py.
"""
import numpy as np
import pytest
import yaml

from bag_fixtures import write_session_bag
from foreign_bags import Message, metadata, START_NS, Topic, write_mcap
from nanobot_ros.cli.bag import main as bag_main
from nanobot_ros.data.bags import Bag
from nanobot_ros.data.dataset import BagDataset

STEPS = 6
MESSAGES = 1 + 3 * STEPS  # the instruction, then telemetry, frame and action per step
CASES = {  # name: (storage, BagWriter compression, metadata compression_mode as written)
    'mcap-file': ('mcap', {'compression_mode': 'file'}, 'file'),
    'sqlite3-file': ('sqlite3', {'compression_mode': 'file'}, 'file'),
    'mcap-message': ('mcap', {'compression_mode': 'message'}, 'message'),
    'sqlite3-message': ('sqlite3', {'compression_mode': 'message'}, 'message'),
    'mcap-FILE-rosbag2': ('mcap', {'compression_mode': 'file'}, 'FILE'),
    'sqlite3-MESSAGE-rosbag2': ('sqlite3', {'compression_mode': 'message'}, 'MESSAGE'),
    'mcap-zstd-chunks': ('mcap', {'chunk_compression': 'fast'}, ''),
}


def records(path):
    return [(r.topic, r.msgtype, r.timestamp, r.data) for r in Bag(path).records()]


def compressed_bag(tmp_path, case):
    storage, compression, mode_text = CASES[case]
    path = write_session_bag(tmp_path / case, STEPS, storage, **compression)
    meta_file = path / 'metadata.yaml'
    meta = yaml.safe_load(meta_file.read_text())
    assert meta['rosbag2_bagfile_information']['compression_mode'].lower() == mode_text.lower()
    meta['rosbag2_bagfile_information']['compression_mode'] = mode_text  # as rosbag2 spells it
    meta_file.write_text(yaml.safe_dump(meta))
    plain = write_session_bag(tmp_path / f'{case}-plain', STEPS, storage)
    return path, plain


@pytest.mark.parametrize('case', CASES)
def test_bag_reads_every_message_byte_for_byte(tmp_path, case):
    path, plain = compressed_bag(tmp_path, case)
    stored = [f.name for f in Bag(path).stored_files]
    if CASES[case][2].lower() == 'file':
        assert stored == [f'{case}.{"mcap" if case.startswith("mcap") else "db3"}.zstd']
    got, expected = records(path), records(plain)
    assert len(got) == MESSAGES
    assert got == expected
    bag = Bag(path)
    first = next(bag.records([r for r in bag.topics if r.endswith('image_raw')]))
    assert bag.decode(first).data.tolist() == Bag(plain).decode(
        next(Bag(plain).records([first.topic]))).data.tolist()
    assert bag.read_at(first.topic, first.timestamp).data == first.data


@pytest.mark.parametrize('case', CASES)
def test_bag_info_shows_counts_and_compression(tmp_path, case, capsys):
    path, _ = compressed_bag(tmp_path, case)
    assert bag_main(['info', str(path)]) == 0
    out = capsys.readouterr().out
    assert f'messages: {MESSAGES} over' in out
    assert f'| Count: {STEPS} |' in out and 'cannot be decoded' not in out
    mode = CASES[case][2].lower()
    assert (f'compression: zstd, {mode} mode' in out) == bool(mode)


@pytest.mark.parametrize('case', CASES)
def test_dataset_gives_the_same_transitions(tmp_path, case):
    path, plain = compressed_bag(tmp_path, case)
    got, expected = BagDataset([str(path)]), BagDataset([str(plain)])
    assert len(got) == len(expected) == STEPS - 1
    for i in range(len(got)):
        assert np.array_equal(got[i].observation, expected[i].observation)
        assert np.array_equal(got[i].next_observation, expected[i].next_observation)
        assert got[i].action_index == expected[i].action_index
        assert got[i].stamp == expected[i].stamp


def test_lz4_chunks_read(tmp_path):
    from mcap.writer import CompressionType
    topics = [Topic('/chatter', 'std_msgs/msg/String', definition='string data\n')]
    messages = [Message('/chatter', START_NS + i, b'\x00\x01\x00\x00\x02\x00\x00\x00' +
                        bytes([65 + i]) + b'\x00') for i in range(5)]
    folder = tmp_path / 'lz4'
    folder.mkdir()
    write_mcap(folder / 'lz4_0.mcap', topics, messages, CompressionType.LZ4)
    (folder / 'metadata.yaml').write_text(yaml.safe_dump(metadata(
        9, 'mcap', ['lz4_0.mcap'], topics, messages)))
    bag = Bag(folder)
    assert [bag.decode(r).data for r in bag.records()] == ['A', 'B', 'C', 'D', 'E']


@pytest.mark.parametrize('case', ['mcap-file', 'sqlite3-message', 'mcap-zstd-chunks'])
def test_convert_writes_a_compressed_bag_plain(tmp_path, case, capsys):
    path, plain = compressed_bag(tmp_path, case)
    out = tmp_path / 'converted'
    assert bag_main(['convert', str(path), str(out)]) == 0
    assert f'wrote {MESSAGES} messages' in capsys.readouterr().out
    meta = yaml.safe_load((out / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert (meta['compression_mode'], meta['compression_format']) == ('', '')
    assert not [f for f in out.iterdir() if f.suffix == '.zstd']
    assert records(out) == records(plain)
    assert Bag(out).custom_data == {'nanobot.robot_type': 'toroidal_dot'}


@pytest.mark.parametrize('args,mode', [(['--compression', 'file'], 'file'),
                                       (['--compression', 'message'], 'message'),
                                       (['--chunk-compression', 'small'], ''),
                                       (['--storage', 'sqlite3', '--compression', 'file'],
                                        'file')])
def test_convert_writes_a_plain_bag_compressed(tmp_path, args, mode):
    plain = write_session_bag(tmp_path / 'plain', STEPS)
    out = tmp_path / 'converted'
    assert bag_main(['convert', str(plain), str(out)] + args) == 0
    meta = yaml.safe_load((out / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert meta['compression_mode'] == mode
    assert records(out) == records(plain)
    if '--chunk-compression' in args:
        from mcap.reader import make_reader
        with open(out / 'converted.mcap', 'rb') as stream:
            chunks = make_reader(stream).get_summary().chunk_indexes
        assert chunks and {c.compression for c in chunks} == {'zstd'}


def test_convert_refuses_an_existing_target(tmp_path, capsys):
    plain = write_session_bag(tmp_path / 'plain', STEPS)
    assert bag_main(['convert', str(plain), str(plain)]) == 1
    assert 'exists; give a new folder' in capsys.readouterr().err
    assert records(plain) and not (plain / 'plain').exists()


def test_a_lone_compressed_storage_file_opens(tmp_path):
    path, plain = compressed_bag(tmp_path, 'mcap-file')
    [stored] = Bag(path).stored_files
    assert records(stored) == records(plain)
