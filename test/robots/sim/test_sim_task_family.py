"""The task family in the sim node over DDS: the expert node solves every episode, in order."""
from std_msgs.msg import String

from nanobot_ros.contract import DIAGNOSTICS, INSTRUCTION, STATUS
from nanobot_ros.nodes.common import qos_profile
from nanobot_ros.robots.sim.task_family import task_preset, TaskFamily
from diagnostic_msgs.msg import DiagnosticArray
from test_sim_target_task import sim_status

EPISODES = 8
SEED = 3


def test_expert_node_solves_the_family_with_held_out_phrasings(ros, nodes):
    task = TaskFamily(task_preset('family', phrasings='heldout'))
    expected, two_step = [], 0
    for i in range(EPISODES):
        expected.append(task.reset(SEED + i))
        two_step += len(task.waypoints) == 2
    assert two_step >= 2
    reports, instructions = [], []
    ros.node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(), reports.append,
                                 qos_profile(STATUS))
    deep = qos_profile(INSTRUCTION)
    deep.depth = 50  # the episodes pass faster than the test spins: keep every instruction
    ros.node.create_subscription(String, INSTRUCTION.fqn(), lambda m: instructions.append(m.data),
                                 deep)
    sim = nodes.start('sim', params={'task': 'family', 'phrasings': 'heldout', 'seed': SEED,
                                     'episode_limit': EPISODES, 'frame_rate': 0.0,
                                     'lockstep': True, 'action_timeout': 2.0})
    # No episode advances before the expert acts: start it once the first instruction is here,
    # so the fast episodes cannot run ahead of this subscription's discovery.
    assert ros.spin_until(lambda: len(instructions) >= 1, timeout=30)
    expert = nodes.start('expert', params={'move_pixels': 8})
    # The sim says when it reached its episode limit: wait for that report, not a fixed time.
    assert ros.spin_until(lambda: sim_status(reports)[0].startswith('episode limit reached')
                          and len(instructions) >= EPISODES, timeout=90), sim_status(reports)
    message, values = sim_status(reports)
    assert (values['episodes'], values['successes'], values['failures']) == (EPISODES,
                                                                             EPISODES, 0)
    assert message == f'episode limit reached: {EPISODES}/{EPISODES}'
    assert values['instructions_rejected'] == 0
    # Each episode's instruction once, in order (the one after the last is announced too).
    assert instructions[:EPISODES] == expected
    assert nodes.stop(expert) == 0 and nodes.stop(sim) == 0


def test_a_family_instruction_naming_no_marker_of_the_episode_is_rejected(ros, nodes):
    reports = []
    ros.node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(), reports.append,
                                 qos_profile(STATUS))
    sim = nodes.start('sim', params={'task': 'family', 'seed': SEED, 'frame_rate': 5.0})
    task = TaskFamily(task_preset('family'))
    task.reset(SEED)
    absent = next(c for c in task.config.colors if c not in task.markers)
    publisher = ros.node.create_publisher(String, INSTRUCTION.fqn(), qos_profile(INSTRUCTION))
    assert ros.spin_until(lambda: sim_status(reports)[1].get('frames', 0) > 0, timeout=20)
    publisher.publish(String(data=f'go to the {absent} marker'))
    assert ros.spin_until(
        lambda: sim_status(reports)[1].get('instructions_rejected', 0) == 1, timeout=10)
    assert sim_status(reports)[1]['instruction'] == task.instruction
    assert nodes.stop(sim) == 0
