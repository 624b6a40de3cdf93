"""Recorder ~/pause, ~/resume, ~/is_paused and start_paused: nothing is written while paused."""
from bag_fixtures import call_trigger, Diagnostics, make_telemetry, wait_for_recorder
from nanobot_ros.contract import COMMAND, TELEMETRY
from nanobot_ros.data.bags import Bag, find_bags
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Telemetry


def _call(ros, name):
    return call_trigger(ros, f'/recorder/{name}')


def test_paused_messages_are_not_recorded(ros, nodes, tmp_path):
    diagnostics = Diagnostics(ros)
    recorder = nodes.start('recorder', params={
        'output_dir': str(tmp_path), 'start_paused': True,
        'topics': f"['{TELEMETRY.fqn()}']"})
    telemetry = ros.node.create_publisher(Telemetry, TELEMETRY.fqn(), qos_profile(COMMAND))
    wait_for_recorder(ros, diagnostics, tmp_path, topics=1)

    def publish(first):
        for i in range(first, first + 5):
            telemetry.publish(make_telemetry(i, ros.node.get_clock().now().to_msg()))

    def reported(key, value):
        assert ros.spin_until(lambda: diagnostics.recorder(tmp_path).get(key) == value, 10), \
            diagnostics.recorder(tmp_path)
    assert _call(ros, 'is_paused').success
    publish(0)
    reported('skipped_while_paused', 5)
    assert _call(ros, 'resume').message == 'resumed'
    assert not _call(ros, 'is_paused').success
    publish(5)
    reported('messages_written', 5)
    assert _call(ros, 'pause').message == 'paused'
    publish(10)
    reported('skipped_while_paused', 10)
    assert diagnostics.recorder(tmp_path)['messages_received'] == 5
    assert nodes.stop(recorder) == 0, nodes.output(recorder)
    [split] = find_bags(tmp_path)
    bag = Bag(split)
    assert [bag.decode(r).sequence for r in bag.records()] == [5, 6, 7, 8, 9]
