"""When actions stop coming the motors read 0 within action_timeout, even if the node dies."""
import time

from nanobot_ros.contract import ACTION, COMMAND
from nanobot_ros.data.convert import make_action
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Action

from jetbot_emulator import EmulatedJetBot

TIMEOUT, RAMP = 0.5, 0.06
# Control ticks (20 ms), the robot's record and DDS on a busy 2-core machine.
SLACK = 0.2


def drive(ros, pub, robot, seconds):
    """Publish 'forward for 2 s' at 10 Hz until the motors run, then `seconds` more.

    Returns the time of the last publish. Counting starts when the robot moves, so a slow DDS
    match of the first samples does not shorten the drive.
    """
    since, end = time.time(), None
    while end is None or time.monotonic() < end:
        pub.publish(make_action(-1, ['motor_left', 'motor_right'], [0.2, 0.2], duration=2.0,
                                source='pytest'))
        sent = time.time()
        ros.spin_for(0.1)
        if end is None and any(r['t'] >= since and abs(r['right'] - 0.2) < 1e-6
                               for r in robot.rows()):
            end = time.monotonic() + seconds
    return sent


def test_stale_actions_stop_the_motors(ros, nodes, tmp_path):
    robot = EmulatedJetBot(tmp_path, watchdog=TIMEOUT).start()
    try:
        pub = ros.node.create_publisher(Action, ACTION.fqn(), qos_profile(COMMAND))
        jetbot = nodes.start('jetbot', params={'port': robot.port, 'action_timeout': TIMEOUT,
                                               'ramp_time': RAMP})
        assert ros.spin_until(lambda: pub.get_subscription_count() > 0 and robot.rows(),
                              timeout=20), nodes.output(jetbot)

        # The controller drives, then goes silent: its 2 s action is cut to the timeout.
        last_sent = drive(ros, pub, robot, 1.0)
        assert robot.wait_for(lambda rows: rows[-1]['right'] == 0.0, timeout=3)
        stopped = next(r['t'] for r in robot.rows() if r['t'] > last_sent and r['right'] == 0)
        # Zero within the timeout (plus the machine's slack), after holding well past the
        # last action (the hold ends one ramp before the timeout).
        assert 0.2 < stopped - last_sent < TIMEOUT + SLACK, stopped - last_sent
        assert 'clamped duration' in nodes.output(jetbot)

        # The node is killed while the motors run: the robot-side server stops them itself.
        start = len(robot.rows())
        drive(ros, pub, robot, 0.3)
        jetbot.kill()
        killed = time.time()
        assert robot.wait_for(lambda rows: rows[-1]['right'] == 0.0, timeout=3)
        stop = robot.rows()[-1]
        assert stop['source'] in ('disconnect', 'watchdog'), robot.rows()[start:]
        assert stop['t'] - killed < TIMEOUT + SLACK
    finally:
        robot.stop()
