"""A person's override (interactive mode) replaces the runner's next action, once."""
import json

from diagnostic_msgs.msg import DiagnosticArray
from nanobot_msgs.msg import Action

from nanobot_ros.data.convert import make_action
from nanobot_ros.contract import (ACTION, ACTION_EXECUTED, ACTION_OVERRIDE, COMMAND, DIAGNOSTICS,
                                  STATUS)
from nanobot_ros.nodes.common import qos_profile


def test_the_runner_sends_the_override_and_the_sim_executes_it(ros, nodes):
    commanded, executed, reports = [], [], []
    ros.node.create_subscription(Action, ACTION.fqn(), commanded.append, qos_profile(COMMAND))
    ros.node.create_subscription(Action, ACTION_EXECUTED.fqn(), executed.append,
                                 qos_profile(COMMAND))
    ros.node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(), reports.append,
                                 qos_profile(STATUS))
    override = ros.node.create_publisher(Action, ACTION_OVERRIDE.fqn(), qos_profile(COMMAND))
    nodes.start('sim', params={'frame_rate': 30.0})
    nodes.start('runner', params={'selector': 'always_stay'})
    # Every subscription matched (the sim's report too) before the override goes out.
    assert ros.spin_until(lambda: len(commanded) >= 5 and len(executed) >= 5
                          and override.get_subscription_count(), timeout=60)
    override.publish(make_action(index=7, source='test'))  # not in the action space
    override.publish(make_action(index=1, source='test'))
    assert ros.spin_until(lambda: any(a.source == 'override' for a in commanded), timeout=20)
    sent = next(a for a in commanded if a.source == 'override')
    assert ros.spin_until(lambda: any(e.header.stamp == sent.header.stamp for e in executed),
                          timeout=20), ([(e.header.stamp, e.source) for e in executed[-5:]],
                                        sent.header.stamp, len(executed))

    def override_counts():
        runner = [s for r in reports for s in r.status if s.hardware_id == 'runner']
        return {kv.key: json.loads(kv.value) for kv in (runner[-1].values if runner else ())
                if kv.key.startswith('over')}
    # A runner report that has seen both overrides; then five more actions of its own.
    assert ros.spin_until(lambda: override_counts().get('overrides_received') == 2, 20), \
        override_counts()
    after = len(commanded)
    assert ros.spin_until(lambda: len(commanded) >= after + 5, 20)
    assert sent.index == 1 and [a.index for a in commanded if a.source == 'override'] == [1]
    assert all(a.index == 0 for a in commanded if a.source == 'runner')
    step = next(e for e in executed if e.header.stamp == sent.header.stamp)
    assert (step.index, step.source) == (1, 'override')
    assert override_counts() == {'overrides': 1, 'overrides_received': 2,
                                 'overrides_rejected': 1, 'overrides_retried': 0}
