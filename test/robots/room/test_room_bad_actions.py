"""The room robot refuses NaN / Inf / unknown actions, counts them and stops; excess is clamped.

The JetBot driver's test (test_jetbot_bad_actions.py) on the simulated robot: the same
CommandIntake, the wheel speeds read back from /joint_states.
"""
import json
import math

from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import JointState

from nanobot_ros.contract import ACTION, COMMAND, DIAGNOSTICS, JOINT_STATES, SENSOR, STATUS
from nanobot_ros.data.convert import make_action
from nanobot_ros.nodes.common import qos_profile
from nanobot_ros.robots.room.mjcf import WHEEL_RADIUS
from nanobot_ros.robots.room.world import RoomMotorLimits
from nanobot_msgs.msg import Action

LIMIT = 0.5   # above the action table's 0.4
FULL_SPEED = LIMIT * RoomMotorLimits.max_wheel_speed / WHEEL_RADIUS   # rad/s at the limit


def value(key: str, text: str):
    """Return a /diagnostics value: strings as sent, everything else JSON."""
    return text if key == 'last_rejection' else json.loads(text)


def test_bad_actions_are_rejected_counted_and_stop(ros, nodes):
    wheels, statuses = [], []
    ros.node.create_subscription(JointState, JOINT_STATES.fqn(), wheels.append,
                                 qos_profile(SENSOR))
    ros.node.create_subscription(
        DiagnosticArray, DIAGNOSTICS.fqn(),
        lambda m: statuses.extend({kv.key: value(kv.key, kv.value) for kv in s.values}
                                  for s in m.status if s.hardware_id == 'room'),
        qos_profile(STATUS))
    pub = ros.node.create_publisher(Action, ACTION.fqn(), qos_profile(COMMAND))
    room = nodes.start('room', params={'lockstep': False, 'frame_rate': 20.0,
                                       'motor_limit': LIMIT, 'action_timeout': 2.0,
                                       'objects': 0, 'shadow_size': 0})
    assert ros.spin_until(lambda: pub.get_subscription_count() > 0 and len(wheels) > 2,
                          timeout=30), nodes.output(room)

    def send(names, values, duration=1.5, index=-1):
        pub.publish(make_action(index, names, values, duration=duration, source='pytest'))

    def left_speed():
        return wheels[-1].velocity[0]

    # Out of range: clamped to the motor limit, counted, executed (the robot spins right).
    send(['motor_left', 'motor_right'], [5.0, -0.2])
    assert ros.spin_until(lambda: abs(left_speed() - FULL_SPEED) < 0.05 * FULL_SPEED,
                          timeout=10), [w.velocity for w in wheels[-5:]]
    # NaN while moving: rejected, counted, and the wheels stop long before 1.5 s of
    # simulated time (20 frames of 0.05 s): the ramp down (0.06 s) and the wheels' inertia.
    sent_at = len(wheels)
    send(['motor_left', 'motor_right'], [math.nan, 0.1])
    assert ros.spin_until(lambda: abs(left_speed()) < 0.01 * FULL_SPEED, timeout=10)
    assert len(wheels) - sent_at <= 8, len(wheels) - sent_at
    # Inf, an index outside the action space, a negative duration: rejected too.
    send(['motor_right'], [math.inf])
    send(['action'], [9.0], index=9)
    send(['motor_right'], [0.1], duration=-1.0)
    assert ros.spin_until(lambda: statuses and statuses[-1]['actions_rejected'] == 4,
                          timeout=10)
    status = statuses[-1]
    assert status['actions_received'] == 5 and status['clamped'] == 1
    assert 'duration is -1.0' in status['last_rejection']
    assert max(abs(w.velocity[0]) for w in wheels) < 1.05 * FULL_SPEED
    assert (status['motor_left'], status['motor_right']) == (0.0, 0.0)
    assert room.poll() is None
    assert nodes.stop(room) == 0
