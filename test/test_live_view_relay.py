"""The live view's relay and the override, without ROS: what clients may publish, and how."""
import time

from nanobot_ros.live_view import LiveRelay, LiveViewConfig
from nanobot_ros.robots.override import ActionOverride
from foxglove_client import FoxgloveClient


def _string_cdr(relay, text: str) -> bytes:
    msg = relay.typestore.types['std_msgs/msg/String'](data=text)
    return bytes(relay.typestore.serialize_cdr(msg, 'std_msgs/msg/String'))


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    return predicate()


def test_only_wellformed_messages_on_client_topics_get_through():
    accepted, problems = [], []
    relay = LiveRelay(LiveViewConfig(port=0, client_topics=['/instruction']),
                      lambda *message: accepted.append(message), problems.append)
    try:
        relay.add_topic('/instruction', 'std_msgs/msg/String')
        client = FoxgloveClient(relay.url)
        client.advertise('/instruction', 'std_msgs/msg/String')
        client.advertise('/robot/action', 'nanobot_msgs/msg/Action')
        time.sleep(0.3)
        client.publish('/robot/action', b'\x00\x01\x00\x00')
        client.publish('/instruction', b'\x00\x01\x00\x00\xff\xff')
        client.publish('/instruction', _string_cdr(relay, 'go'))
        assert _wait(lambda: relay.client_rejected == 2 and accepted)
        client.close()
    finally:
        relay.stop()
    assert accepted == [('/instruction', 'std_msgs/msg/String', _string_cdr(relay, 'go'))]
    assert problems[0] == "client message rejected: /robot/action is not one of " \
        "client_topics ['/instruction']"
    assert problems[1].startswith('client message rejected: /instruction: not a '
                                  'std_msgs/msg/String in CDR')
    assert relay.client_messages == 1


def test_topic_patterns_and_a_bad_port():
    relay = LiveRelay(LiveViewConfig(port=0, topics=['/camera/*', '/world_model/*'],
                                     exclude=['/world_model/predictions']), print)
    try:
        assert relay.wants('/camera/image_raw') and relay.wants('/world_model/status')
        assert not relay.wants('/world_model/predictions') and not relay.wants('/diagnostics')
    finally:
        relay.stop()
    try:
        LiveViewConfig(port=70000).validate()
    except ValueError as error:
        assert str(error) == 'port must be 0..65535, got 70000'
    else:
        raise AssertionError('port 70000 accepted')


def test_the_override_replaces_one_action_and_refuses_what_the_robot_cannot_do():
    override = ActionOverride([0, 1])
    assert override.take(0) == 0
    assert override.offer(5) == 'override 5 is not in the action space [0, 1]'
    assert override.offer(1) is None and override.offer(0) is None  # the newest wins
    assert override.take(1) == 0 and override.take(1) == 1
    assert override.counts() == {'overrides': 1, 'overrides_received': 3,
                                 'overrides_rejected': 1}
