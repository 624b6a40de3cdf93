"""Recorder services ~/start, ~/split, ~/stop, sqlite3 storage and the session metadata."""
from bag_fixtures import call_trigger, Diagnostics, make_telemetry, wait_for_recorder
from nanobot_ros.contract import COMMAND, TELEMETRY
from nanobot_ros.data.bags import Bag
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Telemetry


def _call(ros, name):
    return call_trigger(ros, f'/recorder/{name}')


def _publish(ros, publisher, first, count):
    for i in range(first, first + count):
        publisher.publish(make_telemetry(i, ros.node.get_clock().now().to_msg()))
        ros.spin_for(0.01)


def _wait_written(ros, diagnostics, output_dir, count):
    """Spin until the recorder below `output_dir` reports `count` messages written."""
    assert ros.spin_until(
        lambda: diagnostics.recorder(output_dir).get('messages_written') == count, 10), \
        diagnostics.recorder(output_dir)


def test_start_split_stop_by_service(ros, nodes, tmp_path):
    diagnostics = Diagnostics(ros)
    recorder = nodes.start('recorder', params={
        'output_dir': str(tmp_path), 'autostart': False, 'storage': 'sqlite3',
        'robot_type': 'jetbot', 'action_space': 'motor_right in {0, 0.12}',
        'topics': f"['{TELEMETRY.fqn()}']"})
    telemetry = ros.node.create_publisher(Telemetry, TELEMETRY.fqn(), qos_profile(COMMAND))
    assert not _call(ros, 'split').success  # nothing to split before a start
    started = _call(ros, 'start')
    assert started.success and started.message.startswith(str(tmp_path / 'jetbot'))
    wait_for_recorder(ros, diagnostics, tmp_path, topics=1)
    _publish(ros, telemetry, 0, 10)
    _wait_written(ros, diagnostics, tmp_path, 10)
    assert _call(ros, 'split').success
    assert ros.spin_until(lambda: diagnostics.recorder(tmp_path).get('splits') == 2, 10)
    _publish(ros, telemetry, 10, 10)
    _wait_written(ros, diagnostics, tmp_path, 20)
    stopped = _call(ros, 'stop')
    assert stopped.success and '20 messages written' in stopped.message, stopped.message
    _publish(ros, telemetry, 20, 5)  # not recording: ignored
    ros.spin_for(0.5)  # time to arrive: an absence has no condition to poll for
    assert nodes.stop(recorder) == 0, nodes.output(recorder)

    splits = sorted((tmp_path / 'jetbot').glob('*/*_0*'))
    assert [s.name[-3:] for s in splits] == ['000', '001']
    sequences = []
    for split in splits:
        bag = Bag(split)
        assert bag.files[0].suffix == '.db3'
        assert bag.custom_data['nanobot.robot_type'] == 'jetbot'
        assert bag.custom_data['nanobot.action_space'] == 'motor_right in {0, 0.12}'
        sequences.append([bag.decode(r).sequence for r in bag.records()])
    assert sequences == [list(range(10)), list(range(10, 20))]
