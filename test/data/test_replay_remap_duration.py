"""replay remap ('/from:=/to') and duration_s: a window of the recording under another name."""
from std_msgs.msg import String

from bag_fixtures import Diagnostics, write_count_bag
from nanobot_ros.contract import COMMAND
from nanobot_ros.nodes.common import qos_profile


def test_offset_and_duration_play_their_window_under_the_new_name(ros, nodes, tmp_path):
    bag = write_count_bag(tmp_path / 'count', 20)  # m0 ... m19, 0.1 s apart
    renamed, original = [], []
    ros.node.create_subscription(String, '/renamed', lambda m: renamed.append(m.data),
                                 qos_profile(COMMAND))
    ros.node.create_subscription(String, '/count', lambda m: original.append(m.data),
                                 qos_profile(COMMAND))
    diagnostics = Diagnostics(ros)
    replay = nodes.start('replay', params={
        'bags': f"['{bag}']", 'remap': "['/count:=/renamed']", 'start_offset_s': 0.5,
        'duration_s': 0.8, 'rate': 4.0, 'wait_for_subscribers': "['/renamed']"})
    assert ros.spin_until(lambda: diagnostics.values('replay').get('done'), 20), \
        nodes.output(replay)
    assert ros.spin_until(lambda: len(renamed) == 9, 5), renamed
    assert diagnostics.values('replay')['published'] == 9
    assert nodes.stop(replay) == 0, nodes.output(replay)
    # Pass time 0.5 s to 1.3 s, both ends included.
    assert renamed == [f'm{i}' for i in range(5, 14)]
    assert original == []


def test_a_remap_without_a_target_is_a_start_error(nodes, tmp_path):
    bag = write_count_bag(tmp_path / 'count', 2)
    replay = nodes.start('replay', params={'bags': f"['{bag}']", 'remap': "['/count']"})
    assert replay.wait(30) == 2
    assert "remap '/count' is not /from:=/to" in nodes.output(replay)
