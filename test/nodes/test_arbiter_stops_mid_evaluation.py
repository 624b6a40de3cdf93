"""The arbiter stopped while it evaluates a room export exits 0 and still writes its history.

The evaluation renders the room on a thread of its own; left running at interpreter exit, its
GL context crashed the process (SIGSEGV, exit -11) in the room's learn stack.
"""
import json

from nanobot_ros.contract import LEARN_STATUS
from nanobot_ros.nodes.common import qos_profile
from nanobot_ros.policy.export import export_policy
from nanobot_ros.robots.tasks import task_config
from policy_fixtures import tiny_categorical
from std_msgs.msg import String


def test_stopping_mid_evaluation_exits_cleanly(ros, nodes, tmp_path):
    export = export_policy(tiny_categorical(task_config('room')), tmp_path / 'policy.onnx')
    reports = []
    ros.node.create_subscription(String, LEARN_STATUS.fqn(),
                                 lambda msg: reports.append(json.loads(msg.data)),
                                 qos_profile(LEARN_STATUS))
    # 200 room episodes take minutes here; the export exists from the start, so the first
    # report comes after the evaluation thread started.
    arbiter = nodes.start('arbiter', params={'task': 'room', 'export_path': str(export),
                                             'eval_episodes': 200, 'run_dir': str(tmp_path)})
    assert ros.spin_until(lambda: reports, 60), nodes.output(arbiter)
    ros.spin_until(lambda: False, 2.0)  # a few batched steps into the evaluation
    assert nodes.stop(arbiter, timeout=30) == 0, nodes.output(arbiter)
    assert reports[-1]['evaluations'] == 0
    history = json.loads((tmp_path / 'learn_history.json').read_text())
    assert history['evaluations'] == []
