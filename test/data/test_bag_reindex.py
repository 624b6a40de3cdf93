"""`nanobot bag repair` as `ros2 bag reindex`: split files without metadata.yaml.

Both storages; a folder it cannot repair is a clear error with exit code 1, nothing changed.
"""
from rclpy.serialization import serialize_message
from std_msgs.msg import String
from std_srvs.srv import Trigger

import pytest

from foreign_bags import Message, START_NS, Topic, write_bag
from nanobot_ros.cli.bag import main as bag_main
from nanobot_ros.data.bags import Bag
from nanobot_ros.data.repair import repair

STORAGES = ['mcap', 'sqlite3']
TOPICS = [Topic('/chatter', 'std_msgs/msg/String', definition='string data\n'),
          Topic('/other', 'std_msgs/msg/String', definition='string data\n'),
          Topic('/trigger/_service_event', 'std_srvs/srv/Trigger_Event',
                definition='---\nbool success\nstring message\n')]


def _messages(count: int):
    messages = []
    for i in range(count):
        topic = '/chatter' if i % 3 else '/other'
        messages.append(Message(topic, START_NS + i * 1000,
                                serialize_message(String(data=f'm{i}'))))
    event = Trigger.Event(response=[Trigger.Response(success=True, message='ok')])
    messages.append(Message('/trigger/_service_event', START_NS + count * 1000,
                            serialize_message(event)))
    return messages


def _suffix(storage):
    return '.mcap' if storage == 'mcap' else '.db3'


def _files(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob('*')
            if p.is_file()}


@pytest.mark.parametrize('storage', STORAGES)
def test_split_files_without_metadata_are_reindexed(tmp_path, storage, capsys):
    # 12 splits: every one repeats the three connections; _10 and _11 sort after _2.
    bag = write_bag(tmp_path / 'split', storage, TOPICS, _messages(60), splits=12,
                    with_metadata=False)
    before = _files(bag)
    assert bag_main(['repair', str(bag)]) == 0
    assert capsys.readouterr().out == f'{bag}: reindexed 12 files, 61 messages\n'
    assert {k: v for k, v in _files(bag).items() if k != 'metadata.yaml'} == before
    fresh = Bag(bag)
    assert [f.name for f in fresh.files] == [f'split_{i}{_suffix(storage)}' for i in range(12)]
    assert fresh.metadata['message_count'] == 61
    assert fresh.metadata['starting_time']['nanoseconds_since_epoch'] == START_NS
    assert fresh.metadata['duration']['nanoseconds'] == 60 * 1000
    # An independent reader takes the rebuilt metadata.yaml (it matches QoS text to storage).
    from rosbags.rosbag2 import Reader
    with Reader(bag) as reader:
        assert sum(1 for _ in reader.messages()) == 61
    assert fresh.topics['/chatter'].count == 40 and fresh.topics['/other'].count == 20
    texts = [fresh.decode(r).data for r in fresh.records(['/chatter', '/other'])]
    assert texts == [f'm{i}' for i in range(60)]
    [event] = [fresh.decode(r) for r in fresh.records(['/trigger/_service_event'])]
    assert event.response[0].message == 'ok'
    assert fresh.undecodable == {}


@pytest.mark.parametrize('storage', STORAGES)
def test_a_split_that_is_not_a_bag_fails_clearly_and_changes_nothing(tmp_path, storage,
                                                                     capsys):
    bag = write_bag(tmp_path / 'split', storage, TOPICS, _messages(9), splits=3,
                    with_metadata=False)
    suffix = _suffix(storage)
    (bag / f'split_1{suffix}').write_bytes(b'this is not a bag file at all' * 100)
    before = _files(tmp_path)
    assert bag_main(['repair', str(bag)]) == 1
    err = capsys.readouterr().err
    kind = 'an MCAP file' if storage == 'mcap' else 'a sqlite3 bag'
    assert err.startswith(f'error: {bag / f"split_1{suffix}"}: not {kind} (')
    assert err.rstrip().endswith('nothing was changed')
    assert _files(tmp_path) == before


def _unknown_type_bag(tmp_path):
    topics = TOPICS[:1] + [Topic('/mystery', 'acme_msgs/msg/Secret', encoding='unknown')]
    messages = [Message('/chatter', START_NS, serialize_message(String(data='a'))),
                Message('/mystery', START_NS + 5, b'\x00\x01\x00\x00')]
    return write_bag(tmp_path / 'split', 'sqlite3', topics, messages, splits=2,
                     with_metadata=False)


def test_complete_splits_with_a_type_of_no_definition_are_reindexed(tmp_path):
    bag = _unknown_type_bag(tmp_path)
    [result] = repair(bag)
    assert result.note == 'reindexed 2 files, 2 messages'
    fresh = Bag(bag)
    assert fresh.topics['/mystery'].count == 1 and list(fresh.undecodable) == ['/mystery']
    assert [fresh.decode(r).data for r in fresh.records(['/chatter'])] == ['a']


def test_a_cut_split_of_a_type_without_definition_fails_clearly(tmp_path, capsys):
    """Copying a cut split needs each type's definition (rosbags writes it): said, no loss."""
    bag = _unknown_type_bag(tmp_path)
    (bag / 'split_1.db3-journal').write_bytes(b'')  # as a writer killed mid-transaction
    before = _files(tmp_path)
    assert bag_main(['repair', str(bag)]) == 1
    assert "unknown message type 'acme_msgs/msg/Secret' for /mystery" in capsys.readouterr().err
    assert _files(tmp_path) == before


def test_a_cut_split_with_a_broken_definition_fails_clearly(tmp_path, capsys):
    topics = [Topic('/chatter', 'acme_msgs/msg/Broken', definition='int32[ a\n')]
    bag = write_bag(tmp_path / 'split', 'mcap', topics,
                    [Message('/chatter', START_NS, b'\x00\x01\x00\x00\x2a\x00\x00\x00')],
                    splits=1, with_metadata=False)
    storage = bag / 'split_0.mcap'
    storage.write_bytes(storage.read_bytes()[:-300])  # cut off: no summary, to be copied
    before = _files(tmp_path)
    assert bag_main(['repair', str(bag)]) == 1
    assert capsys.readouterr().err.startswith(
        'error: the definition of acme_msgs/msg/Broken for /chatter cannot be used '
        '(TypesysError: Could not parse:)')
    assert _files(tmp_path) == before
