"""The runner drives the sim over DDS and the dot moves exactly as the selector says."""
from nanobot_msgs.msg import Action
from sensor_msgs.msg import Image

from dot_tracking import dot_column
from nanobot_ros.nodes.common import COMMAND_QOS, SENSOR_QOS

ROW, RADIUS, MOVE, SIZE = 100, 5, 27, 224
STEPS = 40


def stamp_key(stamp):
    return (stamp.sec, stamp.nanosec)


def test_runner_drives_sim_exactly(ros, nodes):
    frames, actions = [], []
    ros.node.create_subscription(Image, '/camera/image_raw', frames.append, SENSOR_QOS)
    ros.node.create_subscription(Action, '/robot/action', actions.append, COMMAND_QOS)
    # A generous watchdog: on a loaded machine an answer may take long, and the sim must wait
    # for it rather than step without it (that case is test_sim_watchdog's).
    nodes.start('sim', params={'initial_x': 0, 'initial_y': ROW, 'frame_rate': 100.0,
                               'action_timeout': 5.0})
    # Watch the camera before the loop starts, so the first answered frame is seen.
    assert ros.spin_until(lambda: frames, timeout=20)
    nodes.start('runner', params={'selector': 'triple_move'})
    assert ros.spin_until(lambda: len(actions) >= STEPS, timeout=60), len(actions)

    # The runner answers with the selector's sequence, in order. (Its first few actions may
    # precede DDS matching with this test's subscription, so the sequence may start anywhere
    # in the cycle.)
    indices = [a.index for a in actions[:STEPS]]
    cycle = [1, 1, 1, 0] * (STEPS // 4 + 1)
    assert any(indices == cycle[offset:offset + STEPS] for offset in range(4)), indices
    assert all(a.source == 'runner' for a in actions)
    # Between any two frames the dot moved by exactly the actions answering the frames
    # in between (frames dropped by best-effort delivery do not matter).
    by_stamp = {stamp_key(a.header.stamp): a.index for a in actions}
    first = next(i for i, f in enumerate(frames) if stamp_key(f.header.stamp) in by_stamp)
    observed = frames[first:]
    assert len(observed) >= STEPS // 2
    for before, after in zip(observed, observed[1:]):
        if stamp_key(after.header.stamp) > stamp_key(actions[STEPS - 1].header.stamp):
            break
        moved = sum(index for stamp, index in by_stamp.items()
                    if stamp_key(before.header.stamp) <= stamp < stamp_key(after.header.stamp))
        expected = (dot_column(before, ROW, RADIUS) + MOVE * moved) % SIZE
        assert dot_column(after, ROW, RADIUS) == expected
