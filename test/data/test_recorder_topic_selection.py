"""Recorder topics_regex / exclude_regex / (exclude_)topic_types choose topics; QoS overrides."""
from rclpy.qos import DurabilityPolicy, QoSProfile
from std_msgs.msg import Int32, String, UInt8

from bag_fixtures import Diagnostics
from nanobot_ros.data.bags import Bag, find_bags

LATCHED = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def test_regex_types_exclusions_and_qos_override(ros, nodes, tmp_path):
    publishers = {name: ros.node.create_publisher(String, name, LATCHED)
                  for name in ('/sel/latched', '/sel/overridden', '/sel/secret', '/other')}
    for name, publisher in publishers.items():  # before the recorder: history only
        for i in range(3):
            publisher.publish(String(data=f'early {i}'))
    # By type: every Int32 topic, but no UInt8, whatever its name.
    publishers['/numbers'] = ros.node.create_publisher(Int32, '/numbers', LATCHED)
    ros.node.create_publisher(UInt8, '/sel/byte', LATCHED)
    overrides = tmp_path / 'qos.yaml'
    # As rosbag2's --qos-profile-overrides-path: volatile, so the history is not asked for.
    overrides.write_text('/sel/overridden:\n  reliability: reliable\n  durability: volatile\n'
                         '  depth: 10\n')
    diagnostics = Diagnostics(ros)
    recorder = nodes.start('recorder', params={
        'output_dir': str(tmp_path / 'out'), 'topics': "['']", 'topics_regex': '^/sel/',
        'exclude_regex': 'secret', 'qos_overrides_path': str(overrides),
        'topic_types': "['std_msgs/msg/Int32']",
        'exclude_topic_types': "['std_msgs/msg/UInt8']"})
    wanted = ['/numbers', '/sel/latched', '/sel/overridden']
    assert ros.spin_until(
        lambda: diagnostics.recorder(tmp_path).get('subscribed') == wanted, 20), \
        nodes.output(recorder)
    assert ros.spin_until(lambda: all(publishers[t].get_subscription_count() for t in wanted),
                          10)
    ros.spin_for(0.5)  # let DDS match both ends
    for name in wanted[1:]:
        for i in range(2):
            publishers[name].publish(String(data=f'late {i}'))
    publishers['/numbers'].publish(Int32(data=7))

    def written(topic):
        return diagnostics.recorder(tmp_path).get('topics', {}).get(topic, {}).get('written')
    assert ros.spin_until(lambda: written('/sel/latched') == 5 and written('/numbers') == 1
                          and written('/sel/overridden') == 2, 10), diagnostics.recorder(tmp_path)
    assert nodes.stop(recorder) == 0, nodes.output(recorder)
    bag = Bag(find_bags(tmp_path / 'out')[0])
    assert sorted(bag.topics) == wanted
    texts = {t: [bag.decode(r).data for r in bag.records([t])] for t in wanted}
    assert texts == {'/numbers': [7],
                     '/sel/latched': ['early 0', 'early 1', 'early 2', 'late 0', 'late 1'],
                     '/sel/overridden': ['late 0', 'late 1']}


def test_a_bad_regex_is_a_start_error(nodes, tmp_path):
    recorder = nodes.start('recorder', params={'output_dir': str(tmp_path),
                                               'topics_regex': '('})
    assert recorder.wait(30) == 2
    assert "topics_regex '(' is not a regular expression" in nodes.output(recorder)
