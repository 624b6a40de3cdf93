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


def test_replayed_bag_records_to_identical_payloads(ros, nodes, tmp_path):
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
    ros.spin_for(0.5)
    assert nodes.stop(first) == 0, nodes.output(first)
    for publisher in (images, actions, telemetry):
        ros.node.destroy_publisher(publisher)
    original = payloads(tmp_path / 'a')
    assert len(original[ACTION.fqn()]) == 20

    diagnostics = Diagnostics(ros)
    second = nodes.start('recorder', params={'output_dir': str(tmp_path / 'b'), 'topics': TOPICS})
    replay = nodes.start('replay', params={'bags': f"['{tmp_path / 'a'}']", 'rate': 2.0,
                                           'wait_for_subscribers': TOPICS, 'delay_s': 0.5})
    assert ros.spin_until(lambda: diagnostics.values('replay').get('done'), 30)
    assert ros.spin_until(
        lambda: diagnostics.values('recorder').get('messages_written', 0) >= 60, 10)
    assert nodes.stop(replay) == 0, nodes.output(replay)
    ros.spin_for(0.3)
    assert nodes.stop(second) == 0, nodes.output(second)
    assert payloads(tmp_path / "b") == original, nodes.output(second) + nodes.output(replay)
