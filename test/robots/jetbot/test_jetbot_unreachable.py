"""An unreachable JetBot: the node keeps running, says so, retries with backoff, reconnects."""
import re

from nanobot_ros.data.convert import make_action

from jetbot_emulator import EmulatedJetBot, watch_jetbot


def test_unreachable_robot_is_retried_and_reconnected_with_motors_at_zero(ros, nodes, tmp_path):
    robot = EmulatedJetBot(tmp_path)  # not started yet: nothing listens on its port
    try:
        statuses, pub = watch_jetbot(ros)
        ros.node.create_timer(0.1, lambda: driving and pub.publish(make_action(
            -1, ['motor_right'], [0.25], duration=0.3, source='pytest')))
        driving = False
        jetbot = nodes.start('jetbot', params={'port': robot.port, 'retry_initial': 0.1,
                                               'retry_max': 0.8, 'link_timeout': 0.5})

        # Down from the start: a status that says so, attempts spaced by a doubling delay.
        assert ros.spin_until(lambda: statuses and statuses[-1]['link_failures'] >= 5,
                              timeout=20), nodes.output(jetbot)
        assert statuses[-1]['link'] == 'disconnected'
        assert 'ConnectionRefusedError' in statuses[-1]['last_error']
        delays = re.findall(r'retrying in ([0-9.]+) s', nodes.output(jetbot))
        assert delays[:5] == ['0.10', '0.20', '0.40', '0.80', '0.80'], delays
        assert jetbot.poll() is None

        # The robot comes up: connected, and the first command it receives is 0.
        robot.start()
        assert ros.spin_until(lambda: statuses[-1]['link'] == 'connected', timeout=5)
        assert robot.rows()[0]['right'] == 0.0
        driving = True
        assert ros.spin_until(lambda: robot.last()[1] == 0.25, timeout=5)

        # The robot vanishes mid-motion: the node notices, keeps running, keeps retrying.
        robot.kill()
        before = len(robot.rows())
        assert ros.spin_until(lambda: statuses[-1]['link'] == 'disconnected', timeout=5)
        failures = statuses[-1]['link_failures']
        assert ros.spin_until(lambda: statuses[-1]['link_failures'] >= failures + 2, timeout=5)
        assert jetbot.poll() is None

        # It comes back while nobody drives: 0 first, and the old action is not resumed.
        driving = False
        ros.spin_for(0.5)
        robot.start()
        assert ros.spin_until(lambda: statuses[-1]['link'] == 'connected', timeout=5)
        ros.spin_for(0.5)
        after = robot.rows()[before:]
        assert after and all(r['left'] == r['right'] == 0.0 for r in after), after
        assert statuses[-1]['connects'] == 2

        # Driving again works on the new link.
        driving = True
        assert ros.spin_until(lambda: robot.last()[1] == 0.25, timeout=5)
        driving = False
        assert nodes.stop(jetbot) == 0
        assert robot.last() == (0.0, 0.0)
    finally:
        robot.stop()
