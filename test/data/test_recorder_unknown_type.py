"""A topic whose type the recorder cannot load: logged, listed in /diagnostics, the rest recorded.

The recorder runs as a real process in an environment without nanobot_msgs (its Python path
is left out), as on a machine where that package is not installed, while this test publishes
nanobot_msgs/Telemetry, so the type is in the graph but not importable by the recorder.
"""
import os

from std_msgs.msg import String

from bag_fixtures import Diagnostics, make_telemetry
from nanobot_ros.contract import COMMAND, INSTRUCTION, TELEMETRY
from nanobot_ros.data.bags import Bag, find_bags
from nanobot_ros.nodes.common import qos_profile, WARN
from nanobot_msgs.msg import Telemetry


def test_unknown_type_is_reported_and_the_other_topics_are_recorded(ros, nodes, tmp_path,
                                                                    monkeypatch):
    paths = os.environ['PYTHONPATH'].split(os.pathsep)
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join(p for p in paths
                                                     if 'nanobot_msgs' not in p))
    diagnostics = Diagnostics(ros)
    recorder = nodes.start('recorder', params={
        'output_dir': str(tmp_path), 'topics': f"['{TELEMETRY.fqn()}', '{INSTRUCTION.fqn()}']"})
    telemetry = ros.node.create_publisher(Telemetry, TELEMETRY.fqn(), qos_profile(COMMAND))
    instruction = ros.node.create_publisher(String, INSTRUCTION.fqn(), qos_profile(COMMAND))

    def reported():
        values = diagnostics.recorder(tmp_path)
        return values.get('subscribed') == [INSTRUCTION.fqn()] and values.get('unknown_types')
    assert ros.spin_until(reported, 30.0), (diagnostics.recorder(tmp_path),
                                            nodes.output(recorder))
    ros.spin_for(0.5)  # let DDS match both ends
    for i in range(10):
        telemetry.publish(make_telemetry(i, ros.node.get_clock().now().to_msg()))
        instruction.publish(String(data=f'go {i}'))
        ros.spin_for(0.02)
    assert ros.spin_until(
        lambda: diagnostics.recorder(tmp_path).get('messages_written') == 10, 10.0)

    level, message, values = diagnostics.reports['recorder']
    assert values['unknown_types'] == {TELEMETRY.fqn(): 'nanobot_msgs/msg/Telemetry'}
    assert level == WARN and TELEMETRY.fqn() in message, message
    assert values['messages_dropped'] == 0 and values['recording']
    assert recorder.poll() is None  # still running
    assert nodes.stop(recorder) == 0
    output = nodes.output(recorder)
    assert 'not recording /robot/telemetry: type nanobot_msgs/msg/Telemetry is unknown here ' \
        "(No module named 'nanobot_msgs')" in output, output
    [split] = find_bags(tmp_path)
    bag = Bag(split)
    assert list(bag.topics) == [INSTRUCTION.fqn()]
    assert [bag.decode(r).data for r in bag.records()] == [f'go {i}' for i in range(10)]
