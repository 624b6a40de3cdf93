"""The trainer node learns from a bag folder that grows, and exports what the kernel loads."""
import json

from diagnostic_msgs.msg import DiagnosticArray

from nanobot_ros.contract import DIAGNOSTICS, STATUS
from nanobot_ros.policy.onnx_runtime import OnnxPolicy
from nanobot_ros.nodes.common import qos_profile
from trainer_fixtures import demo_bags


def trainer_values(reports):
    for report in reversed(reports):
        for status in report.status:
            if status.hardware_id == 'trainer':
                return {kv.key: json.loads(kv.value) if kv.key != 'state' else kv.value
                        for kv in status.values}
    return {}


def test_trainer_picks_up_new_bags_and_exports(ros, nodes, tmp_path):
    reports = []
    ros.node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(), reports.append,
                                 qos_profile(STATUS))
    data = tmp_path / 'sessions'
    demo_bags(data / 'a', episodes=4)
    export = tmp_path / 'exports' / 'policy.onnx'
    trainer = nodes.start('trainer', params={
        'data_dir': str(data), 'run_dir': str(tmp_path / 'run'), 'export_path': str(export),
        'export_every': 1, 'batch_size': 16, 'head': 'regression'})
    assert ros.spin_until(lambda: trainer_values(reports).get('exports', 0) >= 1, timeout=120)
    first = trainer_values(reports)['samples']
    demo_bags(data / 'b', episodes=4)  # a new split appears while it trains
    assert ros.spin_until(lambda: trainer_values(reports).get('samples', 0) > first,
                          timeout=120)
    assert OnnxPolicy(export).config.head == 'regression'
    assert nodes.stop(trainer) == 0
    assert (tmp_path / 'run' / 'policy' / 'policy.safetensors').exists()
