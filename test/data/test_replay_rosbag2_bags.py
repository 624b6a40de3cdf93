"""replay plays bags ROS 2's rosbag2 recorded; a type not installed is skipped, not fatal."""
from bag_fixtures import Diagnostics, rosbag2_fixture
from nanobot_ros.contract import COMMAND
from nanobot_ros.nodes.common import qos_profile
from std_msgs.msg import String


def test_talker_plays_and_test_msgs_topics_are_reported(ros, nodes):
    texts = []
    ros.node.create_subscription(String, '/topic', lambda m: texts.append(m.data),
                                 qos_profile(COMMAND))
    diagnostics = Diagnostics(ros)
    replay = nodes.start('replay', params={
        'bags': f"['{rosbag2_fixture('cdr_test_mcap')}', '{rosbag2_fixture('talker_mcap')}']",
        'rate': 10.0, 'wait_for_subscribers': "['/topic']", 'delay_s': 0.5})
    assert ros.spin_until(lambda: diagnostics.values('replay').get('done'), 30)
    ros.spin_for(0.5)
    level, message, values = diagnostics.reports['replay']
    assert nodes.stop(replay) == 0, nodes.output(replay)
    assert texts == [f'Hello, world! {i}' for i in range(10)]
    assert values['skipped_topics'] == {'/test_topic': 'test_msgs/msg/BasicTypes',
                                        '/array_topic': 'test_msgs/msg/Arrays'}
    assert 'not installed' in message
    assert 'not replaying /test_topic' in nodes.output(replay)


def test_a_missing_bag_is_a_clear_start_error(nodes, tmp_path):
    replay = nodes.start('replay', params={'bags': f"['{tmp_path / 'nope'}']"})
    assert replay.wait(30) == 2
    assert 'does not exist' in nodes.output(replay)
