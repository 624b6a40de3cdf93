"""replay publishes each topic with the QoS it was recorded with (ros2 bag play's rule)."""
from bag_fixtures import Diagnostics, START_NS
import yaml

from nanobot_ros import contract
from nanobot_ros.contract import INSTRUCTION, REPLAY
from nanobot_ros.data.bag_writer import BagWriter
from nanobot_ros.data.bags import Bag, make_typestore
from nanobot_ros.nodes.common import qos_profile
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy
from std_msgs.msg import String


def recorded_qos(text):
    """Return what replay publishes a topic with: the contract's rule, as an rclpy profile."""
    return qos_profile(contract.recorded_qos(text))


def profiles_text(*profiles) -> str:
    return yaml.safe_dump([dict(REPLAY.offered(), **p) for p in profiles])


def test_recorded_qos_follows_the_recorded_publishers():
    transient = recorded_qos(profiles_text({'durability': 1, 'depth': 3}))
    assert (transient.reliability, transient.durability, transient.depth) == (
        ReliabilityPolicy.RELIABLE, DurabilityPolicy.TRANSIENT_LOCAL, 3)
    by_name = recorded_qos(profiles_text({'reliability': 'best_effort',
                                          'durability': 'transient_local'}))
    assert by_name.reliability == ReliabilityPolicy.BEST_EFFORT
    assert by_name.durability == DurabilityPolicy.TRANSIENT_LOCAL
    # One best-effort publisher makes it best effort; one volatile one makes it volatile.
    mixed = recorded_qos(profiles_text({'durability': 1}, {'reliability': 2, 'durability': 2}))
    assert (mixed.reliability, mixed.durability, mixed.depth) == (
        ReliabilityPolicy.BEST_EFFORT, DurabilityPolicy.VOLATILE, qos_profile(REPLAY).depth)
    for nothing_usable in ('', '[]', "''", 'not: [a list', '- 3'):
        assert recorded_qos(nothing_usable) == qos_profile(REPLAY), nothing_usable


def test_a_late_transient_local_subscriber_gets_the_replayed_instruction(ros, nodes, tmp_path):
    store = make_typestore()
    with BagWriter(tmp_path / 'bag', typestore=store) as bag:
        bag.add_topic(INSTRUCTION.fqn(), 'std_msgs/msg/String', [INSTRUCTION.qos.offered()])
        bag.write_message(INSTRUCTION.fqn(), START_NS, store.types['std_msgs/msg/String'](
            data='go to the red marker'))
    recorded = Bag(tmp_path / 'bag').topics[INSTRUCTION.fqn()].offered_qos
    assert 'durability: transient_local' in recorded
    diagnostics = Diagnostics(ros)
    replay = nodes.start('replay', params={'bags': f"['{tmp_path / 'bag'}']"})
    assert ros.spin_until(lambda: diagnostics.values('replay').get('done'), 30), \
        nodes.output(replay)
    # Subscribed only after the replay finished: a volatile publisher would give it nothing.
    texts = []
    ros.node.create_subscription(String, INSTRUCTION.fqn(), lambda m: texts.append(m.data),
                                 qos_profile(INSTRUCTION))
    assert ros.spin_until(lambda: texts, 10), nodes.output(replay)
    assert nodes.stop(replay) == 0, nodes.output(replay)
    assert texts == ['go to the red marker']
