"""An action ramps the JetBot's motors up, holds them for its duration, ramps them down to 0."""
from nanobot_ros.contract import ACTION, COMMAND, JETBOT_MOTORS, SENSOR
from nanobot_ros.data.convert import make_action
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Action
from sensor_msgs.msg import JointState

from jetbot_emulator import EmulatedJetBot

# A slow ramp, so even a busy machine's delayed control ticks sample it several times.
RAMP, DURATION, TIMEOUT, DEFAULT = 0.3, 0.8, 1.5, 0.5
SLACK = 0.15


def motion(rows):
    """Return the rows from the first non-zero value to the first zero after it."""
    moving = [i for i, r in enumerate(rows) if r['left'] or r['right']]
    if not moving:
        return []
    end = next((i for i in range(moving[0], len(rows)) if not rows[i]['right']), None)
    return rows[moving[0]:end + 1] if end is not None else []


def test_action_ramps_up_holds_and_ramps_down(ros, nodes, tmp_path):
    robot = EmulatedJetBot(tmp_path).start()
    try:
        wheels = []
        ros.node.create_subscription(JointState, JETBOT_MOTORS.fqn(), wheels.append,
                                     qos_profile(SENSOR))
        pub = ros.node.create_publisher(Action, ACTION.fqn(), qos_profile(COMMAND))
        jetbot = nodes.start('jetbot', params={'port': robot.port, 'ramp_time': RAMP,
                                               'action_timeout': TIMEOUT,
                                               'default_duration': DEFAULT})
        assert ros.spin_until(lambda: pub.get_subscription_count() > 0 and robot.rows()
                              and wheels, timeout=20), nodes.output(jetbot)
        assert robot.rows()[0]['right'] == 0.0  # connecting commands 0 first

        start = len(robot.rows())
        pub.publish(make_action(-1, ['motor_left', 'motor_right'], [0.0, 0.12],
                                duration=DURATION, source='pytest'))
        assert ros.spin_until(lambda: motion(robot.rows()[start:]), timeout=5)
        rows = motion(robot.rows()[start:])
        right = [r['right'] for r in rows]
        peak = right.index(max(right))
        up, held = right[:peak], [v for v in right if abs(v - 0.12) < 1e-6]
        down = right[peak + len(held):]
        # Ramp up: increasing values strictly between 0 and the target.
        assert len(up) >= 2 and up == sorted(up) and all(0 < v < 0.12 for v in up), right
        # Hold: the target until the duration is over (ramp time included, as the reference).
        held_s = rows[peak + len(held) - 1]['t'] - rows[peak]['t']
        assert DURATION - RAMP - SLACK < held_s < DURATION - RAMP + SLACK, (held_s, right)
        # Ramp down: decreasing, then exactly 0; the whole motion lasts duration + one ramp.
        assert len(down) >= 3 and down == sorted(down, reverse=True) and down[-1] == 0.0, right
        total = rows[-1]['t'] - rows[0]['t']
        assert DURATION < total < DURATION + RAMP + SLACK, total
        assert all(r['left'] == 0.0 for r in rows)
        # The node shows what it commands on /jetbot/motors.
        assert max(w.velocity[1] for w in wheels) == max(right)

        # The reference's discrete action 1 = motor_right 0.12 (for default_duration).
        start = len(robot.rows())
        pub.publish(make_action(1, ['action'], [1], source='pytest'))
        assert ros.spin_until(lambda: motion(robot.rows()[start:]), timeout=5)
        rows = motion(robot.rows()[start:])
        assert max(r['right'] for r in rows) == 0.12
        assert DEFAULT < rows[-1]['t'] - rows[0]['t'] < DEFAULT + RAMP + SLACK

        assert nodes.stop(jetbot) == 0
        assert robot.last() == (0.0, 0.0)
    finally:
        robot.stop()
