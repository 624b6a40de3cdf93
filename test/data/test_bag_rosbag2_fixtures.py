"""Bags recorded by ROS 2's own rosbag2 read back with every message and type."""
import pytest

from bag_fixtures import rosbag2_fixture
from nanobot_ros.data.bags import Bag

COUNTS = {'talker_mcap': 20, 'talker_sqlite3': 20, 'cdr_test_mcap': 7, 'cdr_test_sqlite3': 7,
          'wbag_mcap': 6074}


@pytest.mark.parametrize('name', sorted(COUNTS))
def test_fixture_bag_reads_completely(name):
    bag = Bag(rosbag2_fixture(name))
    records = list(bag.records())
    assert len(records) == bag.message_count == COUNTS[name]
    assert all(a.timestamp <= b.timestamp for a, b in zip(records, records[1:])
               if a.topic == b.topic)
    messages = [bag.decode(r) for r in records]  # every type decodes, test_msgs included
    if name.startswith('talker'):
        texts = [m.data for r, m in zip(records, messages) if r.topic == '/topic']
        assert texts == [f'Hello, world! {i}' for i in range(10)]
    if name.startswith('cdr_test'):
        assert {bag.topics[t].msgtype for t in bag.topics} == {
            'test_msgs/msg/BasicTypes', 'test_msgs/msg/Arrays'}
    if name == 'wbag_mcap':
        assert len(bag.files) == 5


def test_info_of_a_rosbag2_bag_lists_topics_with_qos(capsys):
    from nanobot_ros.cli.bag import main
    assert main(['info', str(rosbag2_fixture('talker_sqlite3'))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2:8] == [
        'messages: 20 over 4.531 s',
        'topics:   3',
        '  Topic: /parameter_events | Type: rcl_interfaces/msg/ParameterEvent | Count: 0 | '
        'QoS: reliable, volatile',
        '  Topic: /rosout | Type: rcl_interfaces/msg/Log | Count: 10 | '
        'QoS: reliable, transient_local',
        '  Topic: /topic | Type: std_msgs/msg/String | Count: 10 | QoS: reliable, volatile',
        'services: 0']
