"""/cmd_vel (geometry_msgs/Twist) drives the JetBot as a differential drive, until it stops."""
import time

from geometry_msgs.msg import Twist
from nanobot_ros.contract import CMD_VEL, COMMAND
from nanobot_ros.nodes.common import qos_profile

from jetbot_emulator import EmulatedJetBot

SEPARATION, MAX_SPEED, TIMEOUT = 0.12, 0.5, 0.4


def twist(linear_x, angular_z):
    msg = Twist()
    msg.linear.x, msg.angular.z = float(linear_x), float(angular_z)
    return msg


def steady(robot, expected):
    return lambda: all(abs(a - b) < 1e-6 for a, b in zip(robot.last(), expected))


def test_cmd_vel_is_differential_drive(ros, nodes, tmp_path):
    robot = EmulatedJetBot(tmp_path).start()
    try:
        pub = ros.node.create_publisher(Twist, CMD_VEL.fqn(), qos_profile(COMMAND))
        command = [None]
        ros.node.create_timer(0.1, lambda: command[0] and pub.publish(command[0]))
        jetbot = nodes.start('jetbot', params={
            'port': robot.port, 'wheel_separation': SEPARATION, 'max_wheel_speed': MAX_SPEED,
            'action_timeout': TIMEOUT, 'motor_limit': 0.5})
        assert ros.spin_until(lambda: pub.get_subscription_count() > 0 and robot.rows(),
                              timeout=20), nodes.output(jetbot)

        # Straight ahead at 0.1 m/s: both wheels at 0.1 / 0.5.
        command[0] = twist(0.1, 0.0)
        assert ros.spin_until(steady(robot, (0.2, 0.2)), timeout=5), robot.last()
        # Turning left on the spot at 1 rad/s: wheels at -/+ 1 * 0.06 / 0.5.
        command[0] = twist(0.0, 1.0)
        assert ros.spin_until(steady(robot, (-0.12, 0.12)), timeout=5), robot.last()
        # Too fast: scaled down to the motor limit, curvature kept (wheels 0.5 : 0.3).
        command[0] = twist(1.0, -5.0)  # wheels 2.6 and 1.4 m/s / 0.5 before the limit
        assert ros.spin_until(steady(robot, (0.5, 0.5 * 1.4 / 2.6)), timeout=5), robot.last()

        # The teleop stops publishing: the motors stop within the timeout.
        command[0] = None
        silent = time.time()
        assert ros.spin_until(steady(robot, (0.0, 0.0)), timeout=5)
        stopped = next(r['t'] for r in robot.rows() if r['t'] > silent and not r['left'])
        assert stopped - silent < TIMEOUT + 0.3
        assert nodes.stop(jetbot) == 0
    finally:
        robot.stop()
