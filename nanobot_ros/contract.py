"""The graph contract: every topic the nodes share, its message type and QoS, as plain data.

Nodes use the relative names (`IMAGE.name` is 'camera/image_raw'), as ros2/examples do, so a
whole robot stack runs under a namespace (`__ns:=/robot1`: the camera publishes
/robot1/camera/image_raw). Bags hold the names as recorded, fully qualified; readers find a
topic by its relative name in any namespace with `find_topic`. /clock is the one global
name (what use_sim_time nodes listen to). docs/graph.md has the whole graph.

QoS is plain data too (`Qos`: rosbag2's offered_qos_profiles fields, policies by name), so
data/ and robots/ read it without rclpy; `nanobot_ros.nodes.common.qos_profile` turns it into
an rclpy QoSProfile. `compatible_qos` is rosbag2's rule for one profile that matches every
publisher of a topic (the recorder subscribes with it, replay publishes with it).
"""
from dataclasses import dataclass
from typing import Iterable, Optional

import yaml

# rmw's policy numbers, as rosbag2 writes them into offered_qos_profiles.
HISTORY = {'system_default': 0, 'keep_last': 1, 'keep_all': 2, 'unknown': 3}
RELIABILITY = {'system_default': 0, 'reliable': 1, 'best_effort': 2, 'unknown': 3,
               'best_available': 4}
DURABILITY = {'system_default': 0, 'transient_local': 1, 'volatile': 2, 'unknown': 3,
              'best_available': 4}
LIVELINESS = {'system_default': 0, 'automatic': 1, 'manual_by_node': 2, 'manual_by_topic': 3,
              'unknown': 4, 'best_available': 5}


def policy_name(value, table: dict) -> Optional[str]:
    """Return the policy name of `value` (an rmw number or a name) in `table`; None if not one."""
    if isinstance(value, str) and value.lower() in table:
        return value.lower()
    if isinstance(value, int) and not isinstance(value, bool):
        return next((name for name, number in table.items() if number == value), None)
    return None


@dataclass(frozen=True)
class Qos:
    """One QoS profile: rosbag2's offered_qos_profiles fields, durations in ns (0 = default)."""

    reliability: str = 'reliable'
    durability: str = 'volatile'
    depth: int = 10
    history: str = 'keep_last'
    deadline_ns: int = 0
    lifespan_ns: int = 0
    liveliness: str = 'system_default'
    liveliness_lease_duration_ns: int = 0
    avoid_ros_namespace_conventions: bool = False

    def offered(self) -> dict:
        """Return this profile as one rosbag2 offered_qos_profiles entry (rmw numbers)."""
        def duration(ns):
            return {'sec': int(ns // 10**9), 'nsec': int(ns % 10**9)}
        return {'history': HISTORY[self.history], 'depth': self.depth,
                'reliability': RELIABILITY[self.reliability],
                'durability': DURABILITY[self.durability],
                'deadline': duration(self.deadline_ns), 'lifespan': duration(self.lifespan_ns),
                'liveliness': LIVELINESS[self.liveliness],
                'liveliness_lease_duration': duration(self.liveliness_lease_duration_ns),
                'avoid_ros_namespace_conventions': self.avoid_ros_namespace_conventions}

    @classmethod
    def from_policies(cls, policies: dict) -> 'Qos':
        """Return the profile one rosbag2 QoS override entry names.

        The entry is one topic's value in a `--qos-profile-overrides-path` file: {policy:
        value}, durations as {sec, nsec}. KeyError for a value rmw does not know.
        """
        fields_ = {}
        for key, value in policies.items():
            if isinstance(value, dict):  # a duration
                fields_[f'{key}_ns'] = (int(value.get('sec', 0)) * 10**9
                                        + int(value.get('nsec', 0)))
            else:
                fields_[key] = value.lower() if isinstance(value, str) else value
        qos = cls(**fields_)
        qos.offered()  # every value is one rmw knows
        return qos


# Cameras and high-rate sensors: best effort, newest wins (REP 2003's sensor data profile).
SENSOR = Qos(reliability='best_effort', depth=5)
# Commands (actions): every one delivered in order, no history for late joiners.
COMMAND = Qos(depth=10)
# Status and diagnostics: reliable, deep enough that a final report is not lost.
STATUS = Qos(depth=50)
# Rare messages late joiners need (instructions, the JetBot's status): latched, newest only.
LATCHED = Qos(durability='transient_local', depth=1)
# What replay publishes a topic with when its bag recorded no QoS (it also serves best-effort
# subscribers), and the depth of volatile replayed topics.
REPLAY = Qos(depth=100)


@dataclass(frozen=True)
class Topic:
    """A topic of the graph: its relative name, message type and the QoS it is offered with."""

    name: str
    msgtype: str
    qos: Qos

    def fqn(self, namespace: str = '/') -> str:
        """Return the fully qualified name in `namespace` ('/robot1' -> /robot1/<name>)."""
        return resolve(self.name, namespace)


IMAGE = Topic('camera/image_raw', 'sensor_msgs/msg/Image', SENSOR)
CAMERA_INFO = Topic('camera/camera_info', 'sensor_msgs/msg/CameraInfo', SENSOR)
ACTION = Topic('robot/action', 'nanobot_msgs/msg/Action', COMMAND)
ACTION_EXECUTED = Topic('robot/action_executed', 'nanobot_msgs/msg/Action', COMMAND)
# ACTION_EXECUTED's source of a step in which a simulated robot was put down at a new pose (an
# episode's start): the frame after it does not follow from the one before, no transition spans it.
RESET_SOURCE = 'reset'
# A person's next action (Foxglove's client publish, `ros2 topic pub`): replaces a controller's.
ACTION_OVERRIDE = Topic('robot/action_override', 'nanobot_msgs/msg/Action', COMMAND)
INSTRUCTION = Topic('instruction', 'std_msgs/msg/String', LATCHED)
# The learn stack (config/learn.yaml): the teacher's and the kernel's answers to each frame go to
# the arbiter, which forwards the driver's on robot/action; the teacher's answer is also the
# label the trainer learns (DAgger). The arbiter's state as JSON for the live view.
TEACHER_ACTION = Topic('teacher/action', 'nanobot_msgs/msg/Action', COMMAND)
KERNEL_ACTION = Topic('kernel/action', 'nanobot_msgs/msg/Action', COMMAND)
LEARN_STATUS = Topic('learn/status', 'std_msgs/msg/String', STATUS)
# Action.source of a person's action (the live view's override); as a label on teacher/action
# it overrules the scripted teacher's label of the same frame (data/dataset.py).
PERSON_SOURCE = 'override'
TELEMETRY = Topic('robot/telemetry', 'nanobot_msgs/msg/Telemetry', SENSOR)
SURFACE = Topic('robot/surface', 'nanobot_msgs/msg/SurfaceVector', SENSOR)
# The ESP32 bridge's standard views; their reliability is the bridge's `qos_reliability`.
JOINT_STATES = Topic('joint_states', 'sensor_msgs/msg/JointState', SENSOR)
IMU = Topic('imu/data_raw', 'sensor_msgs/msg/Imu', SENSOR)
CMD_VEL = Topic('cmd_vel', 'geometry_msgs/msg/Twist', COMMAND)
JETBOT_MOTORS = Topic('jetbot/motors', 'sensor_msgs/msg/JointState', SENSOR)
JETBOT_STATUS = Topic('jetbot/status', 'std_msgs/msg/String', LATCHED)
# Ground truth of a simulated robot (the room): pose in the room, body speeds.
ODOM = Topic('odom', 'nav_msgs/msg/Odometry', SENSOR)
# The room's walls and objects as JSON (latched): pictures of the path driven draw it.
ROOM_LAYOUT = Topic('room/layout', 'std_msgs/msg/String', LATCHED)
WORLD_MODEL_STATUS = Topic('world_model/status', 'nanobot_msgs/msg/WorldModelStatus', STATUS)
RECONSTRUCTION = Topic('world_model/reconstruction', 'sensor_msgs/msg/Image', SENSOR)
PREDICTIONS = Topic('world_model/predictions', 'sensor_msgs/msg/Image', SENSOR)
# The predictor's last-layer attention from the future-frame tokens, as a heatmap.
ATTENTION = Topic('world_model/attention', 'sensor_msgs/msg/Image', SENSOR)
# Relative too: each robot's reports stay in its namespace (the stack runner listens there).
DIAGNOSTICS = Topic('diagnostics', 'diagnostic_msgs/msg/DiagnosticArray', STATUS)
# Reliable like ros2 bag play's /clock, so no subscriber misses a jump; global by ROS rule.
CLOCK = Topic('/clock', 'rosgraph_msgs/msg/Clock', REPLAY)
SIM_RESET = 'sim/reset'  # std_srvs/Trigger service of the sim

TOPICS = (IMAGE, CAMERA_INFO, ACTION, ACTION_EXECUTED, ACTION_OVERRIDE, INSTRUCTION,
          TEACHER_ACTION, KERNEL_ACTION, LEARN_STATUS, TELEMETRY, SURFACE, JOINT_STATES, IMU,
          CMD_VEL, JETBOT_MOTORS, JETBOT_STATUS, ODOM, ROOM_LAYOUT, WORLD_MODEL_STATUS,
          RECONSTRUCTION, PREDICTIONS, ATTENTION, DIAGNOSTICS, CLOCK)
# What the recorder records unless told otherwise.
RECORDED = (IMAGE, TELEMETRY, SURFACE, ACTION, INSTRUCTION, WORLD_MODEL_STATUS)


def resolve(name: str, namespace: str = '/') -> str:
    """Return `name` fully qualified in `namespace` (an absolute name stays as it is)."""
    if name.startswith('/'):
        return name
    return '/' + '/'.join(p for p in (*namespace.split('/'), *name.split('/')) if p)


def contract_topic(name: str) -> Optional[Topic]:
    """Return the topic of the contract that fully qualified `name` is, in any namespace.

    '/robot1/instruction' is INSTRUCTION; the longest relative name wins, so
    '/robot/action_override' is ACTION_OVERRIDE, not ACTION. None for a name not in TOPICS.
    """
    matches = [t for t in TOPICS if name == t.fqn() or
               (not t.name.startswith('/') and name.endswith('/' + t.name))]
    return max(matches, key=lambda t: len(t.name), default=None)


def find_topic(recorded: Iterable[str], name: str) -> Optional[str]:
    """Return the recorded topic `name` stands for, None if none does.

    An absolute name matches only itself; a relative one matches it in any namespace
    ('camera/image_raw' finds /camera/image_raw and /robot1/camera/image_raw). A relative name
    found in several namespaces is ambiguous: ValueError asks for the full name.
    """
    recorded = list(recorded)
    if name.startswith('/'):
        return name if name in recorded else None
    matches = [t for t in recorded if t == '/' + name or t.endswith('/' + name)]
    if len(matches) > 1:
        raise ValueError(f'topic {name!r} is recorded in several namespaces: {sorted(matches)}; '
                         f'give the full name')
    return matches[0] if matches else None


def compatible_qos(reliabilities, durabilities, depth: int,
                   transient_depth: Optional[int] = None) -> Qos:
    """Return the QoS matching every one of a topic's publishers, rosbag2's rule.

    Policies are rmw numbers or names. Best effort if any publisher is, else reliable;
    transient local (at `transient_depth`, default `depth`) if all are, else volatile.
    """
    durabilities = [policy_name(d, DURABILITY) for d in durabilities]
    transient = bool(durabilities) and all(d == 'transient_local' for d in durabilities)
    best_effort = any(policy_name(r, RELIABILITY) == 'best_effort' for r in reliabilities)
    return Qos(reliability='best_effort' if best_effort else 'reliable',
               durability='transient_local' if transient else 'volatile',
               depth=transient_depth if transient and transient_depth is not None else depth)


def recorded_qos(offered_qos_profiles: str) -> Qos:
    """Return the profile to replay a topic with, from its recorded offered_qos_profiles text.

    compatible_qos of the recorded publishers: transient local with the largest recorded depth
    (what a late subscriber got), volatile at REPLAY's depth. REPLAY when the text holds no
    profile (bags written without QoS) or is not rosbag2's YAML list.
    """
    try:
        profiles = yaml.safe_load(offered_qos_profiles) if offered_qos_profiles else None
    except yaml.YAMLError:
        return REPLAY
    if not profiles or not isinstance(profiles, list) or \
            not all(isinstance(p, dict) for p in profiles):
        return REPLAY
    depths = [p['depth'] for p in profiles if isinstance(p.get('depth'), int) and p['depth'] > 0]
    return compatible_qos([p.get('reliability') for p in profiles],
                          [p.get('durability') for p in profiles],
                          REPLAY.depth, transient_depth=max(depths, default=1))
