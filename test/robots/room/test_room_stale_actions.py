"""When a controller goes silent the room robot's wheels stop: the JetBot driver's watchdog.

Lockstep (the default): the controller answers each frame with 'forward for 2 s' (cut to the
driver's longest hold, action_timeout - ramp_time); when it stops answering, the world steps on
its watchdog and the motors ramp down, so the robot comes to rest within two frames.
"""
import math

from nav_msgs.msg import Odometry
import pytest
from sensor_msgs.msg import Image, JointState

from nanobot_ros.contract import (ACTION, ACTION_EXECUTED, COMMAND, IMAGE, JOINT_STATES, ODOM,
                                  SENSOR)
from nanobot_ros.data.convert import make_action
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Action

TIMEOUT = 0.5


def stamp(msg) -> tuple:
    return (msg.header.stamp.sec, msg.header.stamp.nanosec)


def test_stale_actions_stop_the_wheels(ros, nodes):
    frames, wheels, odom, executed = [], [], [], []
    ros.node.create_subscription(Image, IMAGE.fqn(), frames.append, qos_profile(SENSOR))
    ros.node.create_subscription(JointState, JOINT_STATES.fqn(), wheels.append,
                                 qos_profile(SENSOR))
    ros.node.create_subscription(Odometry, ODOM.fqn(), odom.append, qos_profile(SENSOR))
    ros.node.create_subscription(Action, ACTION_EXECUTED.fqn(), executed.append,
                                 qos_profile(COMMAND))
    pub = ros.node.create_publisher(Action, ACTION.fqn(), qos_profile(COMMAND))
    room = nodes.start('room', params={'frame_rate': 0.0, 'action_timeout': TIMEOUT,
                                       'objects': 0, 'shadow_size': 0, 'seed': 1})
    assert ros.spin_until(lambda: pub.get_subscription_count() > 0 and frames, timeout=30), \
        nodes.output(room)

    # Answer three frames: the robot drives (each step starts the long action again).
    for _ in range(3):
        count = len(frames)
        pub.publish(make_action(-1, ['motor_left', 'motor_right'], [0.2, 0.2], duration=2.0,
                                source='pytest', stamp=frames[-1].header.stamp))
        assert ros.spin_until(lambda: len(frames) > count, timeout=10)
    assert max(w.velocity[0] for w in wheels) > 2.0       # rad/s: 0.2 x 0.5 m/s / 32.5 mm
    silence = stamp(frames[-1])   # the outcome of the last answer

    # Silence: the world steps on its watchdog; the wheels stop within two steps and stay.
    def after(messages):
        return [m for m in messages if stamp(m) > silence]
    assert ros.spin_until(lambda: len(after(wheels)) >= 4 and len(after(odom)) >= 4,
                          timeout=15)
    assert [abs(w.velocity[0]) < 0.01 for w in after(wheels)[1:]] == [True] * 3
    rest = [(o.pose.pose.position.x, o.pose.pose.position.y) for o in after(odom)[1:]]
    assert max(math.dist(rest[0], p) for p in rest) < 1e-6, rest   # at rest: < 1 micrometre
    stepped = [e for e in executed if stamp(e) == silence]
    assert stepped[0].source == 'watchdog'
    driven = [e for e in executed if e.source == 'pytest']
    assert len(driven) == 3 and driven[0].index == -1    # named values: no table row
    assert list(driven[0].values) == pytest.approx([0.2, 0.2])
    assert driven[0].duration == pytest.approx(TIMEOUT - 0.06)   # cut to the longest hold
    assert nodes.stop(room) == 0
    log = nodes.output(room)
    assert 'clamped duration' in log
    assert f'no fresh action for {TIMEOUT} s: the motors ramp down' in log
