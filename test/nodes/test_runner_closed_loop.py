"""The runner drives the sim over DDS and the dot moves exactly as the selector says."""
from nanobot_msgs.msg import Action
from sensor_msgs.msg import Image

from dot_tracking import dot_column
from nanobot_ros.contract import ACTION, ACTION_EXECUTED, COMMAND, IMAGE, SENSOR
from nanobot_ros.nodes.common import qos_profile

ROW, RADIUS, MOVE, SIZE = 100, 5, 27, 224
STEPS = 40


def stamp_key(stamp):
    return (stamp.sec, stamp.nanosec)


def test_runner_drives_sim_exactly(ros, nodes):
    frames, commanded, executed = [], [], []
    ros.node.create_subscription(Image, IMAGE.fqn(), frames.append, qos_profile(SENSOR))
    ros.node.create_subscription(Action, ACTION.fqn(), commanded.append, qos_profile(COMMAND))
    ros.node.create_subscription(Action, ACTION_EXECUTED.fqn(), executed.append,
                                 qos_profile(COMMAND))
    nodes.start('sim', params={'initial_x': 0, 'initial_y': ROW, 'frame_rate': 100.0})
    # Watch the camera before the loop starts, so the first answered frame is seen.
    assert ros.spin_until(lambda: frames, timeout=20)
    nodes.start('runner', params={'selector': 'triple_move'})
    assert ros.spin_until(lambda: len(commanded) >= STEPS, timeout=60), len(commanded)
    ros.spin_for(0.5)

    # The runner answers with the selector's sequence, in order. (Its first few actions may
    # precede DDS matching with this test's subscription, so the sequence may start anywhere
    # in the cycle.)
    indices = [a.index for a in commanded[:STEPS]]
    cycle = [1, 1, 1, 0] * (STEPS // 4 + 1)
    assert any(indices == cycle[offset:offset + STEPS] for offset in range(4)), indices

    # Each step executed the runner's answer to the frame it started from, except steps the
    # watchdog took while no answer had come (start-up, or an answer crossing a new frame).
    answers = {stamp_key(a.header.stamp): a.index for a in commanded}
    steps = {stamp_key(a.header.stamp): a for a in executed}
    first_seen_answer = min(answers)
    after_start = {stamp: step for stamp, step in steps.items() if stamp >= first_seen_answer}
    by_runner = {stamp: step for stamp, step in after_start.items() if step.source == 'runner'}
    for stamp, step in by_runner.items():
        assert stamp in answers and step.index == answers[stamp], (stamp, step.index)
    for step in steps.values():
        assert step.source == 'runner' or (step.source, step.index) == ('watchdog', 0)
    # Once the runner answers, the watchdog steps only when an answer is over 0.5 s late: rare.
    assert len(by_runner) >= STEPS - 2 and len(after_start) - len(by_runner) <= STEPS // 10, \
        [(step.source, step.index) for step in after_start.values()]

    # Between any two frames seen, the dot moved by exactly the steps executed in between.
    observed = [f for f in frames if stamp_key(f.header.stamp) in steps]
    for before, after in zip(observed, observed[1:]):
        moved = sum(step.index for stamp, step in steps.items()
                    if stamp_key(before.header.stamp) <= stamp < stamp_key(after.header.stamp))
        expected = (dot_column(before, ROW, RADIUS) + MOVE * moved) % SIZE
        assert dot_column(after, ROW, RADIUS) == expected
