"""What every nanobot_ros node shares: QoS profiles, parameters, status reports and main().

Every node reports its state as diagnostic_msgs/DiagnosticArray on /diagnostics (what
rqt_robot_monitor and Foxglove show), once a second and once more when it stops, so the stack
runner's summary.json holds each node's last word.
"""
import importlib
import json
import signal
import sys
import threading
from typing import Callable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import rclpy
from rclpy.duration import Duration
from rclpy.exceptions import ParameterException
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy,
                       qos_profile_sensor_data)
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.signals import SignalHandlerOptions

from nanobot_msgs.msg import Action

# Cameras and high-rate sensors: best effort, newest wins (REP 2003's sensor data profile).
SENSOR_QOS = qos_profile_sensor_data
# Commands (actions): every one delivered in order, no history for late joiners.
COMMAND_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
# Status and diagnostics: reliable, deep enough that a final report is not lost.
STATUS_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)

OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR
LEVEL_NAMES = {OK: 'ok', WARN: 'warn', ERROR: 'error', DiagnosticStatus.STALE: 'stale'}


def message_class(msgtype: str):
    """Return the rclpy message class of 'pkg/msg/Type'; ImportError/AttributeError if absent."""
    package, _, name = msgtype.rpartition('/')
    return getattr(importlib.import_module(package.replace('/', '.')), name)


def compatible_qos(reliabilities, durabilities, depth: int,
                   transient_depth: int = None) -> QoSProfile:
    """Return the QoS matching every one of a topic's publishers, rosbag2's rule.

    Best effort if any publisher is, else reliable; transient local (at `transient_depth`,
    default `depth`) if all are, else volatile. The recorder subscribes with it; replay
    publishes with it from the recorded profiles.
    """
    durabilities = list(durabilities)
    transient = bool(durabilities) and all(
        d == DurabilityPolicy.TRANSIENT_LOCAL for d in durabilities)
    best_effort = any(r == ReliabilityPolicy.BEST_EFFORT for r in reliabilities)
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=transient_depth if transient and transient_depth is not None else depth,
        reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if transient else DurabilityPolicy.VOLATILE)


class NanobotNode(Node):
    """A Node that declares documented parameters and reports `status()` on /diagnostics."""

    status_period_s = 1.0

    def __init__(self, name: str, **kwargs):
        super().__init__(name, **kwargs)
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', STATUS_QOS)
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

    def status(self) -> tuple:
        """Return (level, message, {key: value}); nodes override this."""
        return OK, 'running', {}

    def publish_status(self) -> None:
        """Publish the node's status as one DiagnosticStatus named after the node."""
        level, message, values = self.status()
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


def subscribe_override(node: Node, override, topic: str):
    """Offer each Action.index on `topic` to `override` (robots/override.ActionOverride)."""
    def on_override(msg) -> None:
        problem = override.offer(msg.index)
        if problem:
            node.get_logger().warning(problem, throttle_duration_sec=5.0)
    return node.create_subscription(Action, topic, on_override, COMMAND_QOS)


def run(node_factory: Callable[[], NanobotNode], args=None) -> int:
    """Spin the node until SIGINT/SIGTERM, then let it stop cleanly; return the exit code.

    A node whose parameters make no sense raises ValueError in its constructor: the message is
    printed and the process exits with code 2 before anything is published.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
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
    executor = SingleThreadedExecutor()
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
