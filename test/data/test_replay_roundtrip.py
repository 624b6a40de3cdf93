"""Record -> replay -> record again: both bags hold the same messages, bit-exact payloads."""
from bag_fixtures import Diagnostics, frame, make_image, make_telemetry, wait_for_subscribers
from nanobot_ros.contract import ACTION, COMMAND, IMAGE, SENSOR, TELEMETRY
from nanobot_ros.data.bags import Bag, find_bags
from nanobot_ros.data.convert import make_action
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Action, Telemetry
from sensor_msgs.msg import Image

TOPICS = f"['{IMAGE.fqn()}', '{ACTION.fqn()}', '{TELEMETRY.fqn()}']"


def payloads(root):
    [bag_dir] = find_bags(root)
    bag = Bag(bag_dir)
    out = {}
    for record in bag.records():
        out.setdefault(record.topic, []).append(record.data)
    return out


def written(diagnostics, output_dir, topic=None) -> int:
    """Return how many messages (of `topic`) the recorder wrote; -1 until it drained."""
    values = diagnostics.recorder(output_dir)
    if not values or values['messages_written'] != values['messages_received']:
        return -1
    return (values['topics'].get(topic, {}).get('written', 0) if topic
            else values['messages_written'])


def test_replayed_bag_records_to_identical_payloads(ros, nodes, tmp_path):
    diagnostics = Diagnostics(ros)
    first = nodes.start('recorder', params={'output_dir': str(tmp_path / 'a'), 'topics': TOPICS})
    images = ros.node.create_publisher(Image, IMAGE.fqn(), qos_profile(SENSOR))
    actions = ros.node.create_publisher(Action, ACTION.fqn(), qos_profile(COMMAND))
    telemetry = ros.node.create_publisher(Telemetry, TELEMETRY.fqn(), qos_profile(SENSOR))
    wait_for_subscribers(ros, [images, actions, telemetry])
    ros.spin_for(0.5)
    for i in range(20):
        stamp = ros.node.get_clock().now().to_msg()
        images.publish(make_image(frame(i, 24), i, stamp))
        actions.publish(make_action(i % 2, ['action'], [i % 2], source='test', stamp=stamp))
        telemetry.publish(make_telemetry(i, stamp))
        ros.spin_for(0.03)
    # Every action (reliable) written and nothing received still queued; the recorder stops
    # with what it has, so the second recording is compared with exactly that.
    assert ros.spin_until(lambda: written(diagnostics, tmp_path / 'a', ACTION.fqn()) == 20, 20)
    assert nodes.stop(first) == 0, nodes.output(first)
    for publisher in (images, actions, telemetry):
        ros.node.destroy_publisher(publisher)
    original = payloads(tmp_path / 'a')
    assert len(original[ACTION.fqn()]) == 20

    second = nodes.start('recorder', params={'output_dir': str(tmp_path / 'b'), 'topics': TOPICS})
    replay = nodes.start('replay', params={'bags': f"['{tmp_path / 'a'}']", 'rate': 2.0,
                                           'wait_for_subscribers': TOPICS, 'delay_s': 0.5})
    assert ros.spin_until(lambda: diagnostics.values('replay').get('done'), 30)
    played = diagnostics.values('replay')['published']
    assert played == sum(len(p) for p in original.values())
    assert ros.spin_until(lambda: written(diagnostics, tmp_path / 'b') == played, 10)
    assert nodes.stop(replay) == 0, nodes.output(replay)
    assert nodes.stop(second) == 0, nodes.output(second)
    assert payloads(tmp_path / "b") == original, nodes.output(second) + nodes.output(replay)
