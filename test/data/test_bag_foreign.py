"""Every bag ROS 2's rosbag2 writes opens.

Service events, empty and legacy-named types, unknown types (listed, skipped, the rest read),
every metadata version; `nanobot bag info`.
"""
from pathlib import Path

from mcap.reader import make_reader
import pytest
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import GetParameters
from rclpy.serialization import serialize_message
from service_msgs.msg import ServiceEventInfo
from std_msgs.msg import Empty, String
from std_srvs.srv import Trigger

from bag_fixtures import rosbag2_fixture
from foreign_bags import Message, START_NS, Topic, write_bag
from nanobot_ros.cli.bag import main as bag_main
from nanobot_ros.data.bags import Bag
from nanobot_ros.data.parquet import export_parquet

STORAGES = ['mcap', 'sqlite3']
SEPARATOR = '=' * 80 + '\n'


def interface_text(package: str, kind: str, name: str) -> str:
    """Return an interface file of the installed ROS 2 packages (what rosbag2 reads too)."""
    from ament_index_python.packages import get_package_share_directory
    return (Path(get_package_share_directory(package)) / kind / f'{name}.{kind}').read_text()


def trigger_events():
    """Return rclpy-serialized std_srvs/srv/Trigger_Event messages: request, then response."""
    request = Trigger.Event()
    request.info.event_type = ServiceEventInfo.REQUEST_RECEIVED
    request.info.sequence_number = 7
    request.info.client_gid = list(range(16))
    request.info.stamp.sec = 12
    request.request = [Trigger.Request()]
    response = Trigger.Event()
    response.info.event_type = ServiceEventInfo.RESPONSE_SENT
    response.info.sequence_number = 7
    response.response = [Trigger.Response(success=True, message='triggered')]
    return [serialize_message(request), serialize_message(response)]


def get_parameters_event():
    """Return an rclpy-serialized rcl_interfaces/srv/GetParameters_Event with a response."""
    event = GetParameters.Event()
    event.info.event_type = ServiceEventInfo.RESPONSE_SENT
    # Arrays of 8-byte elements filled: Fast CDR pads before an empty one, rosbags 0.11.9
    # does not (a separate mismatch, see docs/recording.md).
    event.response = [GetParameters.Response(values=[ParameterValue(
        type=ParameterType.PARAMETER_INTEGER, integer_value=42, integer_array_value=[1, 2],
        double_array_value=[0.5])])]
    return serialize_message(event)


def service_bag(folder: Path, storage: str, srv_header: bool = False) -> Path:
    """Write a `ros2 bag record --all-topics --all-services` bag: a topic, 2 services.

    Jazzy's rosbag2 stores a service's definition as the .srv text, then its dependencies;
    newer ones (`srv_header`) put a `SRV: <type>` header in front, as before dependencies.
    """
    parameter_value = interface_text('rcl_interfaces', 'msg', 'ParameterValue')

    def srv(package, name):
        header = SEPARATOR + f'SRV: {package}/srv/{name}\n' if srv_header else ''
        return header + interface_text(package, 'srv', name)
    topics = [
        Topic('/chatter', 'std_msgs/msg/String', definition='string data\n'),
        Topic('/trigger/_service_event', 'std_srvs/srv/Trigger_Event',
              definition=srv('std_srvs', 'Trigger')),
        # rosbag2 appends the .srv's dependencies after the srv text, as for messages.
        Topic('/node/get_parameters/_service_event', 'rcl_interfaces/srv/GetParameters_Event',
              definition=srv('rcl_interfaces', 'GetParameters') + '\n'
              + SEPARATOR + 'MSG: rcl_interfaces/ParameterValue\n' + parameter_value)]
    request, response = trigger_events()
    messages = [Message('/chatter', START_NS, serialize_message(String(data='hello'))),
                Message('/trigger/_service_event', START_NS + 1, request),
                Message('/trigger/_service_event', START_NS + 2, response),
                Message('/node/get_parameters/_service_event', START_NS + 3,
                        get_parameters_event()),
                Message('/chatter', START_NS + 4, serialize_message(String(data='bye')))]
    return write_bag(folder, storage, topics, messages)


@pytest.mark.parametrize('storage', STORAGES)
@pytest.mark.parametrize('srv_header', [False, True], ids=['jazzy', 'srv-header'])
def test_service_events_decode_with_request_response_and_info(tmp_path, storage, srv_header):
    # sqlite3: the definition is filed under the service's type, as rosbag2 files it.
    bag = Bag(service_bag(tmp_path / 'services', storage, srv_header))
    assert bag.undecodable == {}
    decoded = [(r.topic, bag.decode(r)) for r in bag.records()]
    assert [t for t, _ in decoded] == ['/chatter', '/trigger/_service_event',
                                       '/trigger/_service_event',
                                       '/node/get_parameters/_service_event', '/chatter']
    assert decoded[0][1].data == 'hello' and decoded[4][1].data == 'bye'
    request, response = decoded[1][1], decoded[2][1]
    assert request.info.event_type == ServiceEventInfo.REQUEST_RECEIVED
    assert request.info.sequence_number == 7 and request.info.stamp.sec == 12
    assert request.info.client_gid.tolist() == list(range(16))
    assert len(request.request) == 1 and request.response == []
    assert response.info.event_type == ServiceEventInfo.RESPONSE_SENT
    assert request.request[0].__msgtype__ == 'std_srvs/srv/Trigger_Request'
    assert response.request == []
    assert (response.response[0].success, response.response[0].message) == (True, 'triggered')
    parameters = decoded[3][1]
    assert parameters.response[0].values[0].type == ParameterType.PARAMETER_INTEGER
    assert parameters.response[0].values[0].integer_value == 42
    assert parameters.response[0].values[0].double_array_value.tolist() == [0.5]


def test_mcap_ros2_support_fails_on_the_service_bag_rosbag2_wrote(tmp_path):
    """The case this reader handles and mcap-ros2-support does not (why bags.py is needed)."""
    from mcap_ros2.decoder import DecoderFactory
    bag = service_bag(tmp_path / 'services', 'mcap')
    with open(next(bag.glob('*.mcap')), 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        with pytest.raises(Exception) as raised:
            for _ in reader.iter_decoded_messages(topics=['/trigger/_service_event']):
                pass
    assert raised.typename == 'InvalidFieldDefinition' and str(raised.value) == '---'


@pytest.mark.parametrize('storage', STORAGES)
def test_info_lists_topics_and_services_like_ros2_bag_info(tmp_path, storage, capsys):
    bag = service_bag(tmp_path / 'services', storage)
    assert bag_main(['info', str(bag)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert 'messages: 5 over 0.000 s' in lines
    start = lines.index('topics:   1')
    assert lines[start:start + 5] == [
        'topics:   1',
        '  Topic: /chatter | Type: std_msgs/msg/String | Count: 2 | QoS: reliable, volatile',
        'services: 2',
        '  Service: /node/get_parameters | Type: rcl_interfaces/srv/GetParameters | '
        'Event Count: 1 | QoS: reliable, volatile',
        '  Service: /trigger | Type: std_srvs/srv/Trigger | Event Count: 2 | '
        'QoS: reliable, volatile']


@pytest.mark.parametrize('storage', STORAGES)
def test_empty_message_type_decodes(tmp_path, storage):
    data = serialize_message(Empty())
    bag = Bag(write_bag(tmp_path / 'empty', storage,
                        [Topic('/tick', 'test_msgs/msg/Empty', definition='')],
                        [Message('/tick', START_NS + i, data) for i in range(3)]))
    assert bag.undecodable == {}
    messages = [bag.decode(r) for r in bag.records()]
    assert len(messages) == 3
    assert {m.__msgtype__ for m in messages} == {'test_msgs/msg/Empty'}


def _legacy(name: str) -> str:
    return name.replace('test_msgs/msg/', 'test_msgs/')


@pytest.mark.parametrize('storage', STORAGES)
def test_legacy_type_names_without_msg_decode(tmp_path, storage):
    """Older rosbag2 stored 'test_msgs/BasicTypes'; the messages are cdr_test's own."""
    original = Bag(rosbag2_fixture('cdr_test_mcap'))
    with open(original.files[0], 'rb') as stream:
        schemas = {s.name: s for s in make_reader(stream).get_summary().schemas.values()}
    topics = [Topic(t, _legacy(i.msgtype), definition=_legacy(schemas[i.msgtype].data.decode()))
              for t, i in original.topics.items()]
    records = list(original.records())
    bag = Bag(write_bag(tmp_path / 'legacy', storage, topics,
                        [Message(r.topic, r.timestamp, r.data) for r in records]))
    assert {i.msgtype for i in bag.topics.values()} == {'test_msgs/msg/BasicTypes',
                                                        'test_msgs/msg/Arrays'}
    assert bag.undecodable == {}
    fresh = [bag.decode(r) for r in bag.records()]
    expected = [original.decode(r) for r in records]
    assert [repr(m) for m in fresh] == [repr(m) for m in expected]


@pytest.mark.parametrize('storage', STORAGES)
def test_unknown_types_are_listed_with_reasons_and_the_rest_reads(tmp_path, storage, capsys):
    topics = [Topic('/chatter', 'std_msgs/msg/String', definition='string data\n'),
              Topic('/mystery', 'acme_msgs/msg/Secret', encoding='unknown', definition=''),
              Topic('/broken', 'acme_msgs/msg/Broken', definition='int32[ a\n'),
              Topic('/incomplete', 'acme_msgs/msg/Outer', definition='Inner inner\n')]
    messages = [Message('/chatter', START_NS, serialize_message(String(data='hi'))),
                Message('/mystery', START_NS + 1, b'\x00\x01\x00\x00\x2a\x00\x00\x00'),
                Message('/broken', START_NS + 2, b'\x00\x01\x00\x00\x2a\x00\x00\x00'),
                Message('/incomplete', START_NS + 3, b'\x00\x01\x00\x00\x2a\x00\x00\x00')]
    path = write_bag(tmp_path / 'unknown', storage, topics, messages)
    bag = Bag(path)
    assert bag.message_count == 4
    assert sorted(bag.topics) == ['/broken', '/chatter', '/incomplete', '/mystery']
    assert bag.undecodable == {
        '/mystery': "type 'acme_msgs/msg/Secret' is neither a ROS 2 Jazzy or nanobot_msgs type "
                    "nor defined in the bag",
        '/broken': "the bag's definition of acme_msgs/msg/Broken cannot be used (TypesysError: "
                   "Could not parse:)",
        '/incomplete': "the bag's definition of acme_msgs/msg/Outer cannot be used (KeyError: "
                       "'acme_msgs/msg/Inner')"}
    assert bag.decodable_topics() == ['/chatter']
    assert [bag.decode(r).data for r in bag.records(bag.decodable_topics())] == ['hi']
    with pytest.raises(Exception, match='cannot decode /mystery: type'):
        bag.decode(next(bag.records(['/mystery'])))
    assert sorted(export_parquet(path, tmp_path / 'parquet')) == ['/chatter']
    assert bag_main(['info', str(path)]) == 0
    out = capsys.readouterr().out
    assert ('warning: /mystery cannot be decoded (its messages are skipped): type '
            "'acme_msgs/msg/Secret' is neither") in out
    assert '  Topic: /mystery | Type: acme_msgs/msg/Secret | Count: 1 |' in out


@pytest.mark.parametrize('storage', STORAGES)
@pytest.mark.parametrize('version', range(1, 10))
def test_every_metadata_version_opens(tmp_path, storage, version):
    topics = [Topic('/chatter', 'std_msgs/msg/String', definition='string data\n')]
    messages = [Message('/chatter', START_NS + i, serialize_message(String(data=str(i))))
                for i in range(4)]
    bag = Bag(write_bag(tmp_path / 'bag', storage, topics, messages, version=version,
                        splits=2))
    assert len(bag.files) == 2
    assert sorted(bag.decode(r).data for r in bag.records()) == ['0', '1', '2', '3']


def test_old_paths_with_the_bag_folder_in_front_open(tmp_path):
    """rosbag2 before metadata v3 wrote relative_file_paths as '<bag>/<bag>_0.db3'."""
    import yaml
    topics = [Topic('/chatter', 'std_msgs/msg/String', definition='string data\n')]
    bag = write_bag(tmp_path / 'old', 'sqlite3', topics,
                    [Message('/chatter', START_NS, serialize_message(String(data='x')))],
                    version=1)
    meta = yaml.safe_load((bag / 'metadata.yaml').read_text())
    meta['rosbag2_bagfile_information']['relative_file_paths'] = ['old/old_0.db3']
    (bag / 'metadata.yaml').write_text(yaml.safe_dump(meta))
    assert [Bag(bag).decode(r).data for r in Bag(bag).records()] == ['x']
