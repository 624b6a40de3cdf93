"""replay plays compressed bags (file mode, message mode) byte for byte, as it plays plain ones."""
from bag_fixtures import Diagnostics, write_session_bag
from nanobot_ros.contract import ACTION, IMAGE, INSTRUCTION, TELEMETRY
from nanobot_ros.data.bags import Bag
from nanobot_ros.nodes.common import message_class
from rclpy.qos import QoSProfile

STEPS = 4
TOPICS = [t.fqn() for t in (IMAGE, ACTION, TELEMETRY, INSTRUCTION)]


def test_file_and_message_mode_bags_play_every_message(ros, nodes, tmp_path):
    file_mode = write_session_bag(tmp_path / 'file', STEPS, compression_mode='file')
    message_mode = write_session_bag(tmp_path / 'message', STEPS, 'sqlite3',
                                     compression_mode='message')
    plain = Bag(write_session_bag(tmp_path / 'plain', STEPS))
    expected = [(r.topic, r.data) for r in plain.records()] * 2
    received = []
    for topic in TOPICS:
        # Reliable, volatile, depth 100: what replay offers for topics recorded without QoS.
        ros.node.create_subscription(
            message_class(plain.topics[topic].msgtype), topic,
            lambda data, topic=topic: received.append((topic, data)), QoSProfile(depth=100),
            raw=True)
    diagnostics = Diagnostics(ros)
    replay = nodes.start('replay', params={
        'bags': f"['{file_mode}', '{message_mode}']", 'rate': 5.0,
        'wait_for_subscribers': str(TOPICS), 'delay_s': 0.5})
    assert ros.spin_until(lambda: len(received) >= len(expected), 30), nodes.output(replay)
    assert ros.spin_until(lambda: diagnostics.values('replay').get('done'), 10)
    assert diagnostics.values('replay')['published'] == len(expected)
    assert nodes.stop(replay) == 0, nodes.output(replay)
    # Per topic in order (topics travel on separate DDS writers: no order across them).
    for topic in TOPICS:
        assert [d for t, d in received if t == topic] == [
            padded(d) for t, d in expected if t == topic]


def padded(data: bytes) -> bytes:
    """Return CDR bytes as DDS delivers them: zero-padded to a multiple of 4 bytes."""
    return data + bytes(-len(data) % 4)
