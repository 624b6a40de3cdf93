"""Every robots-layer log level reaches the ROS logger at its own severity, for every node.

The robots layer reports through `log(level, text)` with level one of robots.log.LEVELS. The
call sites are read from the source (ast), so a driver that logs 'warn' fails here; each node
that owns a driver is built for real and the callable it handed to its driver is fed every
level, and /rosout must carry each message at the matching rcl_interfaces/Log severity.
"""
import ast

import pytest

from nanobot_ros.robots.log import LEVELS
from repo_paths import ROOT

ROBOTS = ROOT / 'nanobot_ros' / 'robots'
ROS_SEVERITY = {'debug': 10, 'info': 20, 'warning': 30, 'error': 40, 'critical': 50}

# node module, its class, parameters that let it start without hardware, its driver's log
NODES = [
    ('camera', 'CameraNode', ['source:=/nonexistent/video0'], lambda n: n.stream.log),
    ('esp32_bridge', 'Esp32BridgeNode', ['port:=/nonexistent/tty'], lambda n: n.link.log),
    ('jetbot', 'JetBotNode', ['host:=127.0.0.1', 'port:=9'], lambda n: n.driver.log),
]


def robots_log_levels() -> dict:
    """Return {level literal: [file:line, ...]} of every `log('<level>', ...)` in robots/."""
    found = {}
    for path in sorted(ROBOTS.rglob('*.py')):
        for call in ast.walk(ast.parse(path.read_text())):
            if not isinstance(call, ast.Call):
                continue
            name = getattr(call.func, 'attr', getattr(call.func, 'id', None))
            if name == 'log' and call.args and isinstance(call.args[0], ast.Constant):
                found.setdefault(call.args[0].value, []).append(
                    f'{path.relative_to(ROBOTS)}:{call.lineno}')
    return found


def test_the_robots_layer_speaks_one_vocabulary():
    used = robots_log_levels()
    unknown = {level: sites for level, sites in used.items() if level not in LEVELS}
    assert unknown == {}
    assert {'info', 'warning', 'error'} <= set(used)
    assert set(ROS_SEVERITY) == set(LEVELS)


@pytest.mark.parametrize('module, cls, params, driver_log', NODES, ids=[n[0] for n in NODES])
def test_each_level_maps_to_its_ros_severity(ros_domain, module, cls, params, driver_log):
    import importlib

    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.logging import LoggingSeverity
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rcl_interfaces.msg import Log

    context = rclpy.get_default_context()
    rclpy.init(args=['--ros-args'] + [a for p in params for a in ('-p', p)],
               domain_id=ros_domain)
    node = None
    try:
        node = getattr(importlib.import_module(f'nanobot_ros.nodes.{module}'), cls)()
        node.get_logger().set_level(LoggingSeverity.DEBUG)
        received = {}
        node.create_subscription(
            Log, '/rosout', lambda m: received.__setitem__(m.msg, (m.name, m.level)),
            QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        log = driver_log(node)
        texts = {level: f'{module} test event at {level} {i}' for i, level in enumerate(LEVELS)}
        texts['shout'] = f'{module} test event at an unknown level'
        for _ in range(100):
            executor.spin_once(timeout_sec=0.02)  # let the rosout subscription match
        for level, text in texts.items():
            log(level, text)
        for _ in range(250):
            if all(t in received or f"[unknown log level 'shout'] {t}" in received
                   for t in texts.values()):
                break
            executor.spin_once(timeout_sec=0.02)
        node.on_shutdown()  # stop the driver's thread as `run` does
        executor.shutdown()
        name = node.get_logger().name
        for level in LEVELS:
            assert received[texts[level]] == (name, ROS_SEVERITY[level])
        assert received[f"[unknown log level 'shout'] {texts['shout']}"] == (name, 40)
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
