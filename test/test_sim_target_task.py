"""The sim's target task driven by the expert node over DDS: every episode succeeds."""
import json

from diagnostic_msgs.msg import DiagnosticArray

from nanobot_ros.nodes.common import STATUS_QOS

TASK = {'targets': 'red,green,blue', 'moves': '2d', 'img_size': 40, 'dot_radius': 3,
        'move_pixels': 8, 'step_budget': 24, 'frame_rate': 0.0, 'lockstep': True}


def sim_values(reports):
    for report in reversed(reports):
        for status in report.status:
            if status.hardware_id == 'sim':
                return {kv.key: json.loads(kv.value) if kv.value[:1] in '0123456789{[-'
                        else kv.value for kv in status.values}
    return {}


def test_expert_reaches_every_instructed_marker(ros, nodes):
    reports = []
    ros.node.create_subscription(DiagnosticArray, '/diagnostics', reports.append, STATUS_QOS)
    sim = nodes.start('sim', params={**TASK, 'seed': 11})
    expert = nodes.start('expert', params={'move_pixels': 8})
    assert ros.spin_until(lambda: sim_values(reports).get('episodes', 0) >= 10, timeout=60)
    values = sim_values(reports)
    assert values['successes'] == values['episodes'] and values['failures'] == 0
    assert nodes.stop(expert) == 0 and nodes.stop(sim) == 0
