"""replay exclude_regex leaves topics out; qos_overrides_path sets what a topic is offered with."""
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy
from std_msgs.msg import String

from bag_fixtures import Diagnostics, write_count_bag
from nanobot_ros.contract import SENSOR
from nanobot_ros.nodes.common import qos_profile


def test_excluded_topics_are_not_played_and_overrides_set_the_qos(ros, nodes, tmp_path):
    played = write_count_bag(tmp_path / 'played', 5)
    skipped = write_count_bag(tmp_path / 'skipped', 5, topic='/skip/count')
    overrides = tmp_path / 'qos.yaml'
    overrides.write_text('/count:\n  reliability: best_effort\n  durability: transient_local\n'
                         '  depth: 5\n')
    received = []
    ros.node.create_subscription(String, '/count', lambda m: received.append(m.data),
                                 qos_profile(SENSOR))
    diagnostics = Diagnostics(ros)
    replay = nodes.start('replay', params={
        'bags': f"['{played}', '{skipped}']", 'exclude_regex': '^/skip/',
        'qos_overrides_path': str(overrides), 'wait_for_subscribers': "['/count']"})
    assert ros.spin_until(lambda: diagnostics.values('replay').get('done'), 20), \
        nodes.output(replay)
    assert ros.spin_until(lambda: len(received) == 5, 5), received
    [offered] = ros.node.get_publishers_info_by_topic('/count')
    assert offered.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
    assert offered.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
    assert ros.node.get_publishers_info_by_topic('/skip/count') == []
    assert diagnostics.values('replay')['published'] == 5
    assert nodes.stop(replay) == 0, nodes.output(replay)
    assert received == [f'm{i}' for i in range(5)]
