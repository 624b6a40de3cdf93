"""The sim stays put when actions go stale, says so once, and resumes on fresh actions."""
import json

from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image

from dot_tracking import dot_column
from nanobot_ros.contract import ACTION, COMMAND, DIAGNOSTICS, IMAGE, SENSOR, STATUS
from nanobot_ros.data.convert import make_action
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Action

ROW, RADIUS = 60, 5


def test_stale_actions_stop_the_dot(ros, nodes):
    frames, reports = [], []
    ros.node.create_subscription(Image, IMAGE.fqn(), frames.append, qos_profile(SENSOR))
    ros.node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(), reports.append,
                                 qos_profile(STATUS))
    pub = ros.node.create_publisher(Action, ACTION.fqn(), qos_profile(COMMAND))
    # A watchdog long enough that answering frame by frame never trips it on a loaded machine.
    sim = nodes.start('sim', params={'initial_x': 10, 'initial_y': ROW, 'frame_rate': 20.0,
                                     'action_timeout': 1.0})
    assert ros.spin_until(lambda: len(frames) >= 3, timeout=20)

    # Answer five frames with "move right": the dot moves 5 * 27 px.
    answered = 0
    while answered < 5:
        count = len(frames)
        pub.publish(make_action(1, ['action'], [1], source='pytest',
                                stamp=frames[-1].header.stamp))
        answered += 1
        assert ros.spin_until(lambda: len(frames) > count, timeout=5)
    moved_to = dot_column(frames[-1], ROW, RADIUS)
    assert moved_to == (10 + 5 * 27) % 224

    # Then silence: frames keep coming and the dot stays put
    # (lockstep: one frame per action_timeout, each waiting for an answer that never comes).
    count = len(frames)
    assert ros.spin_until(lambda: len(frames) - count >= 2, timeout=10), len(frames) - count
    assert {dot_column(f, ROW, RADIUS) for f in frames[count:]} == {moved_to}

    # An action outside the action space is rejected and counted.
    pub.publish(make_action(5, ['action'], [5], source='pytest',
                            stamp=frames[-1].header.stamp))
    assert ros.spin_until(lambda: any(
        json.loads(kv.value) >= 1 for r in reports for s in r.status for kv in s.values
        if kv.key == 'actions_rejected'), timeout=5)

    # Fresh actions resume the motion. Answer the newest frame seen until it moves: on a busy
    # machine the sim's watchdog may publish a newer frame before the answer arrives (the
    # answer is then late, ignored, and the next frame waits for a new one).
    count = len(frames)

    def resumed() -> bool:
        if any(dot_column(f, ROW, RADIUS) == (moved_to + 27) % 224 for f in frames[count:]):
            return True
        if answered_stamp[0] != frames[-1].header.stamp:
            answered_stamp[0] = frames[-1].header.stamp
            pub.publish(make_action(1, ['action'], [1], source='pytest',
                                    stamp=answered_stamp[0]))
        return False
    answered_stamp = [None]
    assert ros.spin_until(resumed, timeout=10)
    assert nodes.stop(sim) == 0
    log = nodes.output(sim)
    assert log.count('waiting for the first action on /robot/action') == 1  # start-up: info
    assert log.count('no fresh action for 1.0 s: the dot stays put') == 1  # the silence
    assert 'actions resumed' in log
    assert 'rejected action index 5' in log
