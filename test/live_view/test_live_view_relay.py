"""The live view's relay and the override, without ROS: what clients may publish, and how."""
import time

import cv2
import numpy as np

from nanobot_ros.contract import Qos
from nanobot_ros.live_view import LiveRelay, LiveViewConfig, SubscriptionQos
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
                                 'overrides_rejected': 1, 'overrides_retried': 0}


def test_an_override_the_robot_did_not_do_waits_for_the_next_frame():
    override = ActionOverride([0, 1])
    override.offer(1)
    assert override.take(0, frame=(5, 0)) == 1 and override.pending is None
    override.executed((4, 0), 0)  # the report of an earlier frame changes nothing
    assert override.pending is None
    override.executed((5, 0), 0)  # the watchdog stayed: the answer came too late
    assert override.pending == 1 and override.counts()['overrides_retried'] == 1
    assert override.take(0, frame=(6, 0)) == 1
    override.executed((6, 0), 1)  # done: not offered again
    assert override.take(0, frame=(7, 0)) == 0
    assert override.counts() == {'overrides': 1, 'overrides_received': 1,
                                 'overrides_rejected': 0, 'overrides_retried': 1}
    # A newer override that came meanwhile wins over the one sent again.
    override.offer(1)
    override.take(0, frame=(8, 0))
    override.offer(0)
    override.executed((8, 0), 0)
    assert override.pending == 0


def test_subscription_qos_follows_the_publishers_as_they_appear():
    plan = SubscriptionQos(depth=10)
    assert plan.resolve('/camera', []) is None  # seen through a subscriber only: wait
    assert plan.resolve('/camera', [(2, 2)]) == Qos(reliability='best_effort', depth=10)
    assert plan.resolve('/camera', [(2, 2)]) is None
    assert plan.resolve('/camera', []) is None  # the camera went away: keep what there is
    # A latched topic: transient local once its publisher is seen, volatile when a volatile
    # publisher joins (a transient-local subscription would not match it).
    assert plan.resolve('/status', [('reliable', 'transient_local')]) == \
        Qos(durability='transient_local', depth=10)
    assert plan.resolve('/status', [(1, 1), (1, 2)]) == Qos(depth=10)


def test_a_client_topic_has_the_contract_type_and_a_refused_client_hears_why():
    accepted, problems = [], []
    relay = LiveRelay(LiveViewConfig(port=0, client_topics=['/instruction']),
                      lambda *message: accepted.append(message), problems.append)
    action = relay.typestore.types['nanobot_msgs/msg/Action'](
        header=relay.typestore.types['std_msgs/msg/Header'](
            stamp=relay.typestore.types['builtin_interfaces/msg/Time'](sec=0, nanosec=0),
            frame_id=''), index=1, names=['action'], values=np.array([1.0], np.float32),
        duration=0.0, source='foxglove')
    action_cdr = bytes(relay.typestore.serialize_cdr(action, 'nanobot_msgs/msg/Action'))
    try:
        # Nothing on the graph publishes /instruction yet: the contract still says String.
        assert relay.client_type('/instruction') == 'std_msgs/msg/String'
        assert relay.client_type('/robot1/robot/action_override') == 'nanobot_msgs/msg/Action'
        wrong, right = FoxgloveClient(relay.url), FoxgloveClient(relay.url)
        wrong.advertise('/instruction', 'nanobot_msgs/msg/Action')
        right.advertise('/instruction', 'std_msgs/msg/String')
        time.sleep(0.3)
        wrong.publish('/instruction', action_cdr)
        wrong.publish('/instruction', action_cdr)
        right.publish('/instruction', _string_cdr(relay, 'go'))
        assert _wait(lambda: relay.client_rejected == 2 and accepted)
        statuses = []
        deadline = time.monotonic() + 10
        while not statuses and time.monotonic() < deadline:
            event = wrong.receive(timeout=0.5)
            if event and event[0] == 'json' and event[1]['op'] == 'status':
                statuses.append(event[1])
        wrong.close()
        right.close()
    finally:
        relay.stop()
    assert accepted == [('/instruction', 'std_msgs/msg/String', _string_cdr(relay, 'go'))]
    reason = '/instruction carries std_msgs/msg/String, the client sent nanobot_msgs/msg/Action'
    assert problems == [f'client message rejected: {reason}'] * 2
    # Told once, at error level (2), naming the client.
    assert len(statuses) == 1 and statuses[0]['level'] == 2
    assert statuses[0]['message'].endswith(f': message refused: {reason}')
    assert statuses[0]['message'].startswith('client ')


def test_an_image_is_offered_as_jpeg_too():
    relay = LiveRelay(LiveViewConfig(port=0, jpeg_quality=90), print)
    try:
        relay.add_topic('/camera/image_raw', 'sensor_msgs/msg/Image')
        assert sorted(relay.compressed_channels) == ['/camera/image_raw']
        types = relay.typestore.types
        pixels = np.zeros((48, 64, 3), np.uint8)
        pixels[10:30, 20:40] = (255, 40, 0)  # a red square on black
        image = types['sensor_msgs/msg/Image'](
            header=types['std_msgs/msg/Header'](
                stamp=types['builtin_interfaces/msg/Time'](sec=3, nanosec=4), frame_id='cam'),
            height=48, width=64, encoding='rgb8', is_bigendian=0, step=64 * 3,
            data=pixels.reshape(-1))
        cdr = bytes(relay.typestore.serialize_cdr(image, 'sensor_msgs/msg/Image'))
        jpeg = relay.typestore.deserialize_cdr(relay.compress(cdr),
                                               'sensor_msgs/msg/CompressedImage')
    finally:
        relay.stop()
    assert (jpeg.header.stamp.sec, jpeg.header.stamp.nanosec, jpeg.header.frame_id) == \
        (3, 4, 'cam')
    assert jpeg.format == 'rgb8; jpeg compressed bgr8'
    decoded = cv2.cvtColor(cv2.imdecode(np.asarray(jpeg.data), cv2.IMREAD_COLOR),
                           cv2.COLOR_BGR2RGB)
    assert decoded.shape == (48, 64, 3)
    assert np.abs(decoded.astype(int) - pixels).mean() < 3.0
    assert np.abs(decoded[20, 30].astype(int) - (255, 40, 0)).max() < 12  # red, not blue
