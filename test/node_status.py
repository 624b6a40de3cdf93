"""A node's newest status from /diagnostics reports, its values decoded; a task's instructions."""
import json

from diagnostic_msgs.msg import DiagnosticArray
from nanobot_msgs.msg import Action
from std_msgs.msg import String

from nanobot_ros.contract import DIAGNOSTICS, INSTRUCTION, STATUS
from nanobot_ros.nodes.common import qos_profile


def _decoded(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def node_status(reports, hardware_id: str):
    """Return (message, values) of `hardware_id`'s newest status in `reports`, ('', {}) if none.

    Values that are JSON (numbers, lists, objects) are decoded; the rest stay text.
    """
    for report in reversed(reports):
        for status in report.status:
            if status.hardware_id == hardware_id:
                return status.message, {kv.key: _decoded(kv.value) for kv in status.values}
    return '', {}


def watch_task(ros, depth: int = 20):
    """Collect /diagnostics reports and every /instruction text in `ros`'s node; return both.

    `depth`: instructions kept while the test does not spin (episodes may pass faster).
    """
    reports, instructions = [], []
    ros.node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(), reports.append,
                                 qos_profile(STATUS))
    deep = qos_profile(INSTRUCTION)
    deep.depth = depth
    ros.node.create_subscription(String, INSTRUCTION.fqn(), lambda m: instructions.append(m.data),
                                 deep)
    return reports, instructions


def relay_once_instructed(ros, instructions, source, target, accept=None) -> None:
    """Relay actions from `source` to `target` once the first instruction is in `instructions`.

    As the learn stack's arbiter relays them; the ones that come before it are held, then sent,
    so no episode runs ahead of the test's subscriptions (the room's first answer can reach the
    test before its first instruction does: a publisher that has just started is matched to
    each subscriber in its own time). `accept(message)`: which actions to relay (default all).
    """
    relay = ros.node.create_publisher(Action, target.fqn(), qos_profile(target))
    held = []

    def send_held():
        while instructions and held:
            relay.publish(held.pop(0))

    def receive(message):
        if accept is None or accept(message):
            held.append(message)
            send_held()
    ros.node.create_subscription(Action, source.fqn(), receive, qos_profile(source))
    ros.node.create_timer(0.02, send_held)
