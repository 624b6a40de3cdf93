"""What every nanobot_ros node shares: rclpy QoS, parameters, status, the robots' log adapter.

Every node reports its state as diagnostic_msgs/DiagnosticArray on `diagnostics` (relative:
/diagnostics at the root, /robot1/diagnostics in namespace robot1; what rqt_robot_monitor and
Foxglove show), once a second and once more when it stops, so the stack runner's summary.json
holds each node's last word; a node's `summary_figures` (names of its status values, sent as
the value `summary_figures`) are the ones the stack runner lifts into summary.json under the
node's name. The QoS profiles are the graph contract's (nanobot_ros.contract);
`qos_profile` is the one converter to rclpy. The robots layer reports through
`log(level, text)` (robots/log.py); `NanobotNode.robot_log` is the one adapter from it to the
ROS logger.
"""
from dataclasses import fields
import importlib
import json
import signal
import sys
import threading
import time
import typing
from typing import Callable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import rclpy
from rclpy.duration import Duration
from rclpy.exceptions import ParameterException
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, LivelinessPolicy, QoSProfile,
                       ReliabilityPolicy)
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.signals import SignalHandlerOptions
from std_msgs.msg import String
from std_srvs.srv import Trigger

from nanobot_ros import contract
from nanobot_ros.contract import Qos, Topic
from nanobot_ros.defaults import field_default


def qos_profile(spec) -> QoSProfile:
    """Return the rclpy QoSProfile of a contract Qos, or of a contract Topic's Qos."""
    spec = spec.qos if isinstance(spec, Topic) else spec
    return QoSProfile(
        history=HistoryPolicy[spec.history.upper()], depth=spec.depth,
        reliability=ReliabilityPolicy[spec.reliability.upper()],
        durability=DurabilityPolicy[spec.durability.upper()],
        deadline=Duration(nanoseconds=spec.deadline_ns),
        lifespan=Duration(nanoseconds=spec.lifespan_ns),
        liveliness=LivelinessPolicy[spec.liveliness.upper()],
        liveliness_lease_duration=Duration(nanoseconds=spec.liveliness_lease_duration_ns),
        avoid_ros_namespace_conventions=spec.avoid_ros_namespace_conventions)


def qos_spec(profile: QoSProfile) -> Qos:
    """Return an rclpy profile (e.g. what a publisher offers) as a contract Qos."""
    return Qos(reliability=profile.reliability.name.lower(),
               durability=profile.durability.name.lower(), depth=int(profile.depth),
               history=profile.history.name.lower(),
               deadline_ns=profile.deadline.nanoseconds,
               lifespan_ns=profile.lifespan.nanoseconds,
               liveliness=profile.liveliness.name.lower(),
               liveliness_lease_duration_ns=profile.liveliness_lease_duration.nanoseconds,
               avoid_ros_namespace_conventions=bool(profile.avoid_ros_namespace_conventions))


def message_class(msgtype: str):
    """Return the rclpy message class of 'pkg/msg/Type'; ImportError/AttributeError if absent."""
    package, _, name = msgtype.rpartition('/')
    return getattr(importlib.import_module(package.replace('/', '.')), name)


OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR
LEVEL_NAMES = {OK: 'ok', WARN: 'warn', ERROR: 'error', DiagnosticStatus.STALE: 'stale'}
# A sequence field's element type -> its parameter type (declared by type when empty).
ARRAY_TYPES = {int: Parameter.Type.INTEGER_ARRAY, float: Parameter.Type.DOUBLE_ARRAY,
               str: Parameter.Type.STRING_ARRAY, bool: Parameter.Type.BOOL_ARRAY}


class NanobotNode(Node):
    """A Node that declares documented parameters and reports `status()` on diagnostics."""

    status_period_s = 1.0
    summary_figures: tuple = ()  # status values a stack run's summary.json lifts (see above)

    def __init__(self, name: str, **kwargs):
        super().__init__(name, **kwargs)
        self._diagnostics = self.create_publisher(DiagnosticArray, contract.DIAGNOSTICS.name,
                                                  qos_profile(contract.DIAGNOSTICS))
        self._status_timer = self.create_timer(self.status_period_s, self.publish_status)

    def param(self, name: str, default, description: str):
        """Declare parameter `name` with `default` and return its value.

        A float parameter also accepts an integer (`-p frame_rate:=0`), as users type it.
        """
        if isinstance(default, float):
            descriptor = ParameterDescriptor(description=description, dynamic_typing=True)
            value = self.declare_parameter(name, default, descriptor).value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f'parameter {name} must be a number, got {value!r}')
            return float(value)
        descriptor = ParameterDescriptor(description=description)
        return self.declare_parameter(name, default, descriptor).value

    def topic_name(self, name: str) -> str:
        """Return `name` resolved in this node's namespace; ValueError if it is no topic name."""
        try:
            return self.resolve_topic_name(name)
        except RuntimeError as error:  # rclpy's RCLError
            raise ValueError(f'{name!r} is not a topic name: {error}') from None

    def robot_log(self, level: str, text: str) -> None:
        """Log a robots-layer event (`log(level, text)`, robots/log.py) at its ROS severity.

        A level outside robots.log.LEVELS is logged as an error that names it, never dropped.
        """
        # One call site per severity: rclpy's logger refuses a site whose severity changes.
        logger = self.get_logger()
        if level == 'debug':
            logger.debug(text)
        elif level == 'info':
            logger.info(text)
        elif level == 'warning':
            logger.warning(text)
        elif level == 'critical':
            logger.fatal(text)
        else:
            logger.error(text if level == 'error' else f'[unknown log level {level!r}] {text}')

    def declare_config(self, config_class, descriptions: dict, skip=(), dynamic=()) -> dict:
        """Declare one parameter per field of dataclass `config_class`; return {name: value}.

        Each field's default is the parameter's default and `descriptions[name]` (else the
        field's metadata 'description') its description; fields in `skip` are not parameters
        (the node fills them in). A field in `dynamic` accepts any type and is converted to the
        default's type (a `source: 0` in YAML arrives as an integer). Sequences come back as
        lists.
        """
        values = {}
        for f in (f for f in fields(config_class) if f.name not in skip):
            default = field_default(f)
            description = descriptions[f.name] if f.name in descriptions \
                else f.metadata['description']
            if f.name in dynamic:
                descriptor = ParameterDescriptor(description=description,
                                                 dynamic_typing=True)
                value = type(default)(self.declare_parameter(f.name, default, descriptor).value)
            elif isinstance(default, (list, tuple)) and not default:
                # Declared empty it would be a byte array: the annotated array type, unset.
                kind = ARRAY_TYPES[typing.get_args(f.type)[0]]
                value = self.declare_parameter(f.name, kind, ParameterDescriptor(
                    description=description)).value or []
            else:
                value = self.param(f.name, list(default) if isinstance(default, tuple)
                                   else default, description)
            values[f.name] = list(value) if isinstance(default, (list, tuple)) else value
        return values

    def status(self) -> tuple:
        """Return (level, message, {key: value}); nodes override this."""
        return OK, 'running', {}

    def publish_status(self) -> None:
        """Publish the node's status as one DiagnosticStatus named after the node."""
        level, message, values = self.status()
        if self.summary_figures:
            values = {**values, 'summary_figures': list(self.summary_figures)}
        report = DiagnosticArray()
        report.header.stamp = self.get_clock().now().to_msg()
        report.status = [DiagnosticStatus(
            level=level, name=self.get_fully_qualified_name(), message=message,
            hardware_id=self.get_name(),
            values=[KeyValue(key=str(k), value=v if isinstance(v, str) else json.dumps(v))
                    for k, v in values.items()])]
        self._diagnostics.publish(report)

    def on_shutdown(self) -> None:
        """Stop cleanly: publish the final status and wait until subscribers have it."""
        self.publish_status()
        self._diagnostics.wait_for_all_acked(Duration(seconds=1.0))


# How often a lockstep robot's watchdog looks when frames come as fast as answers (frame_rate 0).
WATCHDOG_POLL_S = 0.01


class ActionWatchdog:
    """Whether a simulated robot's commands are fresh; logs once when they go stale or resume.

    `fed()` on every accepted command; `stale_now()` says whether the newest is older than
    `timeout` seconds (or none came yet). `update(stale)` logs the change (at start-up, before
    any command, that is no fault: info) and `problem()` gives the status while stale.
    `effect` says what the robot does then ('the dot stays put').
    """

    def __init__(self, node: NanobotNode, timeout: float, effect: str, stale_status: str):
        self.node, self.timeout = node, timeout
        self.effect, self.stale_status = effect, stale_status
        self.last_command = None
        self.stale = False

    def fed(self) -> None:
        self.last_command = time.monotonic()

    def stale_now(self) -> bool:
        return (self.last_command is None
                or time.monotonic() - self.last_command > self.timeout)

    def update(self, stale: bool) -> None:
        if stale and not self.stale:
            if self.last_command is None:
                self.node.get_logger().info(
                    f'waiting for the first action on '
                    f'{self.node.topic_name(contract.ACTION.name)}: {self.effect}')
            else:
                self.node.get_logger().warning(
                    f'no fresh action for {self.timeout} s: {self.effect}')
        elif self.stale and not stale:
            self.node.get_logger().info('actions resumed')
        self.stale = stale

    def problem(self):
        """Return (level, text) for the node's status while stale, else None."""
        if self.stale and self.last_command is None:
            return OK, 'waiting for the first action'
        if self.stale:
            return WARN, self.stale_status
        return None


class TaskEpisodes:
    """A simulated robot's task episodes: the instruction announced, episodes scored.

    The sim node (the grid's target task and task family) and the room node (the room task)
    hold one. `task` has reset(seed) -> instruction, instruction, episode_seed, steps, reached,
    out_of_steps (and, to take instructions from /instruction, set_instruction(text)). Episode
    i + 1 starts at once from seed episode_seed + 1; with `announce` its instruction goes out on
    `instruction` (latched), standing in for a user, and again whenever the task changes it
    within the episode (the room task's says what is left once the first object is reached);
    after `episode_limit` episodes (0 = never) the robot holds still (`finished`). The reset
    service (contract.SIM_RESET) aborts the running episode. `on_new_episode()` runs after
    each reset (the robot's view changed).
    """

    def __init__(self, node: NanobotNode, task, episode_limit: int, announce: bool,
                 on_new_episode: Callable[[], None] = lambda: None):
        self.node, self.task = node, task
        self.episode_limit, self.announce = episode_limit, announce
        self.on_new_episode = on_new_episode
        self.episodes = self.successes = self.failures = self.resets = 0
        self.instructions_rejected = 0
        self._announced = None
        self.instruction_pub = node.create_publisher(String, contract.INSTRUCTION.name,
                                                     qos_profile(contract.INSTRUCTION))
        if hasattr(task, 'set_instruction'):
            node.create_subscription(String, contract.INSTRUCTION.name, self._on_instruction,
                                     qos_profile(contract.INSTRUCTION))
        node.create_service(Trigger, contract.SIM_RESET, self._on_reset)
        self._announce()

    def _announce(self) -> None:
        if self.announce:
            self._announced = self.task.instruction
            self.instruction_pub.publish(String(data=self._announced))

    def _on_instruction(self, msg) -> None:
        try:
            self.task.set_instruction(msg.data)
            self._announced = self.task.instruction  # it is on the topic already
        except ValueError as error:
            self.instructions_rejected += 1
            self.node.get_logger().warning(str(error), throttle_duration_sec=5.0)

    def _new_episode(self) -> None:
        self.task.reset(self.task.episode_seed + 1)
        self.on_new_episode()
        self._announce()

    def _on_reset(self, request, response):
        self.resets += 1
        self._new_episode()
        response.success = True
        response.message = (f'episode {self.episodes + self.resets} (seed '
                            f'{self.task.episode_seed}): {self.task.instruction}')
        return response

    def score(self) -> None:
        """After a task step: count an episode that ended and start the next one."""
        if not (self.task.reached or self.task.out_of_steps):
            if self.announce and self.task.instruction != self._announced:
                self._announce()
            return
        self.episodes += 1
        if self.task.reached:
            self.successes += 1
        else:
            self.failures += 1
        if self.finished:
            self.node.get_logger().info(f'episode limit {self.episode_limit} reached: '
                                        f'{self.successes} successes; holding')
            return
        self._new_episode()

    @property
    def finished(self) -> bool:
        """Whether the episode_limit ran out (the robot then holds still)."""
        return bool(self.episode_limit and self.episodes >= self.episode_limit)

    def status_values(self) -> dict:
        """Return the episode counters and the running episode, for the node's status."""
        return {'episodes': self.episodes, 'successes': self.successes,
                'failures': self.failures, 'resets': self.resets,
                'success_rate': self.successes / self.episodes if self.episodes else 0.0,
                'instruction': self.task.instruction, 'episode_seed': self.task.episode_seed,
                'episode_steps': self.task.steps,
                'instructions_rejected': self.instructions_rejected}

    def finished_status(self):
        """Return (OK, text) for the node's status once finished, else None."""
        if self.finished:
            return OK, f'episode limit reached: {self.successes}/{self.episodes}'
        return None


def subscribe_override(node: Node, override, topic: str):
    """Offer each Action.index on `topic` to `override` (robots/override.ActionOverride)."""
    def on_override(msg) -> None:
        problem = override.offer(msg.index)
        if problem:
            node.get_logger().warning(problem, throttle_duration_sec=5.0)
    # The class by name: a node without nanobot_msgs (a recorder) must still import this module.
    action = message_class(contract.ACTION_OVERRIDE.msgtype)
    return node.create_subscription(action, topic, on_override, qos_profile(contract.COMMAND))


def run(node_factory: Callable[[], NanobotNode], args=None,
        executor_factory: Callable = SingleThreadedExecutor, startup_errors: tuple = ()) -> int:
    """Spin the node until SIGINT/SIGTERM, then let it stop cleanly; return the exit code.

    A command line rcl cannot parse, or a node whose parameters make no sense (ValueError in its
    constructor): the message is printed and the process exits with code 2 before anything is
    published. So does one that
    raises one of `startup_errors` (something this machine lacks, e.g. a GL context).
    """
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except RuntimeError as error:  # rcl's RCLError: e.g. a `-p name:=value` it cannot parse
        print(f'[ERROR] bad command line: {error}', file=sys.stderr, flush=True)
        return 2
    stop = threading.Event()

    def request_stop(signum, frame):
        stop.set()
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    try:
        node = node_factory()
    except (ValueError, ParameterException) as error:
        print(f'[ERROR] bad parameters: {error}', file=sys.stderr, flush=True)
        rclpy.shutdown()
        return 2
    except startup_errors as error:
        print(f'[ERROR] cannot start: {error}', file=sys.stderr, flush=True)
        rclpy.shutdown()
        return 2
    executor = executor_factory()
    executor.add_node(node)
    try:
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
        node.on_shutdown()
    finally:
        executor.shutdown()
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0
