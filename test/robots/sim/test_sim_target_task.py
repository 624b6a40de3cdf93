"""The sim's target task driven by the expert node over DDS: every episode succeeds."""

from diagnostic_msgs.msg import DiagnosticArray
from std_srvs.srv import Trigger

from nanobot_ros.contract import DIAGNOSTICS, STATUS
from nanobot_ros.nodes.common import qos_profile
from node_status import node_status

TASK = {'targets': 'red,green,blue', 'moves': '2d', 'img_size': 40, 'dot_radius': 3,
        'move_pixels': 8, 'step_budget': 12, 'frame_rate': 0.0, 'lockstep': True}


def sim_status(reports):
    return node_status(reports, 'sim')


def test_expert_reaches_every_instructed_marker(ros, nodes):
    reports = []
    ros.node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(), reports.append,
                                 qos_profile(STATUS))
    sim = nodes.start('sim', params={**TASK, 'seed': 11, 'episode_limit': 10})
    reset = ros.node.create_client(Trigger, '/sim/reset')
    assert reset.wait_for_service(timeout_sec=20)
    future = reset.call_async(Trigger.Request())
    assert ros.spin_until(future.done, timeout=10)
    assert future.result().success and 'go to the' in future.result().message
    expert = nodes.start('expert', params={'move_pixels': 8})
    # The sim says when it reached its episode limit: wait for that report, not a fixed time.
    assert ros.spin_until(lambda: sim_status(reports)[0].startswith('episode limit reached'),
                          timeout=60), sim_status(reports)
    message, values = sim_status(reports)
    assert values['episodes'] == 10 and values['successes'] == 10 and values['failures'] == 0
    assert values['resets'] == 1 and message == 'episode limit reached: 10/10'
    assert nodes.stop(expert) == 0 and nodes.stop(sim) == 0
