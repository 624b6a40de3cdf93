"""Snapshot mode: the last N seconds stay in memory; a trigger writes exactly that window."""
import time

from bag_fixtures import (call_trigger, Diagnostics, engine_recorder, make_telemetry,
                          wait_for_recorder)
from nanobot_ros.contract import COMMAND, TELEMETRY
from nanobot_ros.data.bags import Bag, find_bags
from nanobot_ros.data.recording import SnapshotBuffer
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Telemetry

SECOND = 10**9


def test_the_buffer_keeps_the_window_before_the_newest_message():
    buffer = SnapshotBuffer(duration_s=3.0, max_bytes=10**6)
    for i in range(21):  # 0 s, 0.5 s, ... 10 s
        buffer.add('/t', i * SECOND // 2, bytes([i]))
    taken = buffer.take()
    # Log times 7.0 ... 10.0 s: within 3 s of the newest (10 s), the edge included.
    assert [t for _, t, _ in taken] == [i * SECOND // 2 for i in range(14, 21)]
    assert [d for _, _, d in taken] == [bytes([i]) for i in range(14, 21)]
    assert buffer.take() == []  # taken means gone


def test_the_buffer_drops_the_oldest_beyond_its_bytes():
    buffer = SnapshotBuffer(duration_s=60.0, max_bytes=250)
    for i in range(5):
        buffer.add('/t', i, bytes(100))
    assert [t for _, t, _ in buffer.take()] == [3, 4]


def test_each_snapshot_is_one_split_with_exactly_its_window(tmp_path):
    recorder = engine_recorder(tmp_path, 'snap', snapshot_duration_s=1.0)
    recorder.start()
    for i in range(30):  # 0.1 s apart in log time: 0 ... 2.9 s
        assert recorder.put('/blob', i * SECOND // 10, bytes([i]))
    assert recorder.snapshot() == 11  # 1.9 ... 2.9 s
    for i in range(30, 35):
        recorder.put('/blob', i * SECOND // 10, bytes([i]))
    assert recorder.snapshot() == 5  # what came since the first snapshot: 3.0 ... 3.4 s
    recorder.stop()
    splits = [Bag(p) for p in find_bags(tmp_path)]
    assert [[r.timestamp for r in b.records()] for b in splits] == [
        [i * SECOND // 10 for i in range(19, 30)], [i * SECOND // 10 for i in range(30, 35)]]
    assert recorder.counts()['written'] == 16 and recorder.counts()['received'] == 35


def _call(ros, name):
    return call_trigger(ros, f'/recorder/{name}')


def test_the_snapshot_service_writes_the_last_seconds(ros, nodes, tmp_path):
    diagnostics = Diagnostics(ros)
    recorder = nodes.start('recorder', params={
        'output_dir': str(tmp_path), 'snapshot_duration_s': 0.5,
        'topics': f"['{TELEMETRY.fqn()}']"})
    telemetry = ros.node.create_publisher(Telemetry, TELEMETRY.fqn(), qos_profile(COMMAND))
    wait_for_recorder(ros, diagnostics, tmp_path, topics=1)
    sent = []  # when each message went out: a busy machine spaces them wider than 0.05 s
    for i in range(40):  # ~2 s of telemetry
        telemetry.publish(make_telemetry(i, ros.node.get_clock().now().to_msg()))
        sent.append(time.monotonic())
        ros.spin_for(0.05)
    assert ros.spin_until(
        lambda: diagnostics.recorder(tmp_path).get('messages_received') == 40, 10)
    assert find_bags(tmp_path) == []  # nothing written before the trigger
    answer = _call(ros, 'snapshot')
    assert answer.success and answer.message.startswith('snapshot 1: '), answer.message
    count = int(answer.message.split(': ')[1].split()[0])
    assert ros.spin_until(
        lambda: diagnostics.recorder(tmp_path).get('messages_written') == count, 10)
    assert nodes.stop(recorder) == 0, nodes.output(recorder)
    [split] = find_bags(tmp_path)
    records = list(Bag(split).records())
    sequences = [Bag(split).decode(r).sequence for r in records]
    # The newest messages, none missing, spanning at most the window; at least those sent in
    # the window's last 0.4 s (0.1 s left for delivery; 8 on a machine that kept the pace).
    assert sequences == list(range(40 - count, 40))
    assert count >= sum(sent[-1] - t <= 0.4 for t in sent), (count, sent)
    assert records[-1].timestamp - records[0].timestamp <= 0.5 * SECOND
