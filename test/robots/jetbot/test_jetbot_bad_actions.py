"""NaN / Inf / unknown actions are rejected, counted and stop the motors; excess is clamped."""
import math

from nanobot_ros.data.convert import make_action

from jetbot_emulator import EmulatedJetBot, watch_jetbot

LIMIT = 0.3


def test_bad_actions_are_rejected_counted_and_stop(ros, nodes, tmp_path):
    robot = EmulatedJetBot(tmp_path).start()
    try:
        statuses, pub = watch_jetbot(ros)
        jetbot = nodes.start('jetbot', params={'port': robot.port, 'motor_limit': LIMIT,
                                               'action_timeout': 2.0})
        assert ros.spin_until(lambda: pub.get_subscription_count() > 0 and statuses
                              and statuses[-1]['link'] == 'connected', timeout=20)

        def send(names, values, duration=1.5, index=-1):
            pub.publish(make_action(index, names, values, duration=duration, source='pytest'))

        # Out of range: clamped to the motor limit, counted, executed.
        send(['motor_left', 'motor_right'], [5.0, -0.2])
        assert ros.spin_until(lambda: robot.last()[0] == LIMIT, timeout=5), robot.last()
        # NaN while moving: rejected, counted, and the motors ramp down long before 1.5 s.
        send(['motor_left', 'motor_right'], [math.nan, 0.1])
        assert ros.spin_until(lambda: robot.last() == (0.0, 0.0), timeout=0.5)
        # Inf, an index outside the action space, a negative duration: rejected too.
        send(['motor_right'], [math.inf])
        send(['action'], [9.0], index=9)
        send(['motor_right'], [0.1], duration=-1.0)
        assert ros.spin_until(lambda: statuses[-1]['actions_rejected'] == 4, timeout=5)
        status = statuses[-1]
        assert status['actions_received'] == 5 and status['clamped'] == 1
        assert 'duration is -1.0' in status['last_rejection']
        assert max(max(abs(r['left']), abs(r['right'])) for r in robot.rows()) == LIMIT
        assert robot.last() == (0.0, 0.0)
        assert jetbot.poll() is None
        assert nodes.stop(jetbot) == 0
    finally:
        robot.stop()
