"""A node's newest status from /diagnostics reports, its values decoded."""
import json

from diagnostic_msgs.msg import DiagnosticArray
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
