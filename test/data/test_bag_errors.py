"""Bad input: a missing path, a truncated bag, an unknown type: clear errors, nothing else lost."""
import sqlite3

import pytest

from bag_fixtures import write_session_bag
from nanobot_ros.data.bag_writer import BagWriter
from nanobot_ros.data.bags import Bag, BagError
from nanobot_ros.data.dataset import BagDataset
from nanobot_ros.data.recording import RecorderConfig, SessionRecorder

PART_MSG = 'string name\nfloat64 weight\n'


def test_missing_path_and_a_folder_without_a_bag(tmp_path):
    with pytest.raises(BagError, match='does not exist'):
        Bag(tmp_path / 'nope')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(BagError, match='not a rosbag2 bag'):
        Bag(tmp_path / 'empty')


def test_a_truncated_bag_says_how_to_repair_and_costs_no_other_bag(tmp_path):
    write_session_bag(tmp_path / 'good', steps=6)
    broken = write_session_bag(tmp_path / 'broken', steps=6)
    storage = broken / 'broken.mcap'
    storage.write_bytes(storage.read_bytes()[:storage.stat().st_size // 2])
    with pytest.raises(BagError, match='nanobot bag repair'):
        Bag(broken)
    data = BagDataset(tmp_path)
    assert len(data) == 5 and [b.path.name for b in data.bags] == ['good']
    assert 'repair' in data.skipped[str(broken)]


def test_an_unknown_type_fails_alone(tmp_path):
    bag_path = tmp_path / 'parts'
    with BagWriter(bag_path, storage='sqlite3') as writer:
        writer.add_topic('/part', 'shop_msgs/msg/Part', definition=PART_MSG)
        writer.add_topic('/chatter', 'std_msgs/msg/String')
        part = writer.typestore.types['shop_msgs/msg/Part'](name='bolt', weight=0.5)
        writer.write_message('/part', 1, part)
        writer.write_message('/chatter', 2, writer.typestore.types['std_msgs/msg/String'](
            data='still here'))
        with pytest.raises(BagError, match='unknown message type'):
            writer.add_topic('/other', 'shop_msgs/msg/Unknown')
    assert Bag(bag_path).decode(next(Bag(bag_path).records(['/part']))).name == 'bolt'
    # A bag from an older rosbag2 carries no definitions: that topic cannot be decoded.
    db = sqlite3.connect(bag_path / 'parts.db3')
    db.execute('DELETE FROM message_definitions')
    db.commit()
    db.close()
    bag = Bag(bag_path)
    part, chatter = list(bag.records())
    with pytest.raises(BagError, match='shop_msgs/msg/Part'):
        bag.decode(part)
    assert bag.decode(chatter).data == 'still here'


def test_recorder_refuses_an_unknown_type_and_records_the_rest(tmp_path):
    recorder = SessionRecorder(RecorderConfig(root=tmp_path, min_free_gb=0.0))
    with pytest.raises(BagError, match='unknown'):
        recorder.add_topic('/part', 'shop_msgs/msg/Part')
    recorder.add_topic('/chatter', 'std_msgs/msg/String')
    recorder.start()
    recorder.put('/chatter', 5, b'\x00\x01\x00\x00\x03\x00\x00\x00hi\x00\x00')
    recorder.stop()
    [split] = recorder.splits
    bag = Bag(split)
    assert [bag.decode(r).data for r in bag.records()] == ['hi']
