"""replay mode play: offset, rate factor and loop (measured on the received actions), /clock."""
import time

from bag_fixtures import FRAME_NS, START_NS, write_session_bag
from nanobot_ros.contract import ACTION, CLOCK, COMMAND
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Action
from rosgraph_msgs.msg import Clock


def test_offset_rate_and_loop(ros, nodes, tmp_path):
    write_session_bag(tmp_path / 'bag', steps=10)  # an action every 0.1 s
    received = []
    ros.node.create_subscription(
        Action, ACTION.fqn(), lambda m: received.append((time.monotonic(),
                                                         m)), qos_profile(COMMAND))
    replay = nodes.start('replay', params={
        'bags': f"['{tmp_path / 'bag'}']", 'topics': f"['{ACTION.fqn()}']", 'rate': 2.0,
        'start_offset_s': 0.45, 'loop': True, 'wait_for_subscribers': f"['{ACTION.fqn()}']"})
    assert ros.spin_until(lambda: len(received) >= 10, 30), len(received)
    assert nodes.stop(replay) == 0, nodes.output(replay)
    steps = [(m.header.stamp.sec * 10**9 + m.header.stamp.nanosec - START_NS) // 100_000_000
             for _, m in received[:10]]
    # Only actions are played: the first is step 0's (at 5 ms), 0.45 s later comes step 5's.
    assert steps == [5, 6, 7, 8, 9, 5, 6, 7, 8, 9]
    gaps = sorted(b[0] - a[0] for a, b in zip(received[:5], received[1:5]))
    assert 0.02 < gaps[len(gaps) // 2] < 0.1  # 0.1 s recorded / rate 2


def test_clock_carries_the_recorded_time_of_each_message(ros, nodes, tmp_path):
    write_session_bag(tmp_path / 'bag', steps=5)
    actions, clock = [], []
    ros.node.create_subscription(Action, ACTION.fqn(), actions.append, qos_profile(COMMAND))
    ros.node.create_subscription(Clock, CLOCK.fqn(), clock.append, qos_profile(COMMAND))
    replay = nodes.start('replay', params={
        'bags': f"['{tmp_path / 'bag'}']", 'topics': f"['{ACTION.fqn()}']", 'rate': 4.0,
        'clock': True, 'wait_for_subscribers': f"['{ACTION.fqn()}']", 'delay_s': 0.5})
    assert ros.spin_until(lambda: len(actions) >= 5 and len(clock) >= 5, 30), nodes.output(replay)
    assert nodes.stop(replay) == 0, nodes.output(replay)
    # Each action was logged 5 ms after the frame it answers (its header.stamp).
    assert [c.clock.sec * 10**9 + c.clock.nanosec for c in clock] == [
        START_NS + i * FRAME_NS + 5_000_000 for i in range(5)]
