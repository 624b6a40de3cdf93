"""The graph contract: one home per topic name and QoS profile; namespaced bags read alike."""
import re
import subprocess
import sys

import numpy as np
import pytest

from bag_fixtures import write_session_bag
from nanobot_ros import contract
from nanobot_ros.contract import (ACTION, compatible_qos, find_topic, IMAGE, INSTRUCTION, Qos,
                                  recorded_qos, resolve, TELEMETRY)
from nanobot_ros.data.bags import Bag
from nanobot_ros.data.dataset import BagDataset
from nanobot_ros.data.parquet import export_parquet
from nanobot_ros.stack_config import any_namespace_parameters, namespace_path, stack_nodes
from repo_paths import ROOT

PACKAGE = ROOT / 'nanobot_ros'
SOURCES = sorted(PACKAGE.rglob('*.py'))


def quoted(name: str) -> re.Pattern:
    return re.compile(r'''(['"])''' + re.escape(name) + r'\1')


def test_each_topic_name_is_spelled_in_the_contract_only():
    names = [t.name for t in contract.TOPICS] + [contract.SIM_RESET]
    for name in names:
        # The absolute form anywhere; the relative form where it cannot be a dict key
        # ('instruction' is also an observation field).
        forms = {'/' + name.lstrip('/')} | ({name} if '/' in name.strip('/') else set())
        elsewhere = sorted(str(p.relative_to(ROOT)) for p in SOURCES
                           if p.name != 'contract.py'
                           and any(quoted(form).search(p.read_text()) for form in forms))
        assert elsewhere == [], (name, elsewhere)
        assert quoted(name).search((PACKAGE / 'contract.py').read_text()), name


def test_qos_profiles_are_defined_in_the_contract_only():
    for path in SOURCES:
        text = path.read_text()
        where = str(path.relative_to(ROOT))
        if where == 'nanobot_ros/nodes/common.py':  # the converter to rclpy and back
            continue
        if where != 'nanobot_ros/contract.py':
            assert not re.search(r'\bQos\(', text), where
        assert not re.search(r'\bQoSProfile\(|\bqos_profile_\w+|Policy\.[A-Z]', text), where


def test_the_rclpy_profiles_are_the_contracts():
    from rclpy.qos import (DurabilityPolicy, QoSProfile, qos_profile_sensor_data,
                           ReliabilityPolicy)
    from nanobot_ros.nodes.common import qos_profile, qos_spec
    assert qos_profile(contract.SENSOR) == qos_profile_sensor_data
    assert qos_profile(INSTRUCTION) == QoSProfile(
        depth=1, reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL)
    for spec in (contract.SENSOR, contract.COMMAND, contract.STATUS, contract.LATCHED,
                 contract.REPLAY):
        assert qos_spec(qos_profile(spec)) == spec
    assert contract.LATCHED.offered() == {
        'history': 1, 'depth': 1, 'reliability': 1, 'durability': 1,
        'deadline': {'sec': 0, 'nsec': 0}, 'lifespan': {'sec': 0, 'nsec': 0}, 'liveliness': 0,
        'liveliness_lease_duration': {'sec': 0, 'nsec': 0},
        'avoid_ros_namespace_conventions': False}


def test_compatible_qos_is_rosbag2s_rule():
    assert compatible_qos([1, 'best_effort'], [1, 1], 100, transient_depth=3) == Qos(
        reliability='best_effort', durability='transient_local', depth=3)
    assert compatible_qos([1], [1, 2], 100) == Qos(depth=100)
    assert compatible_qos([], [], 7) == Qos(depth=7)
    assert recorded_qos('not: [a list') == contract.REPLAY


def test_names_resolve_in_a_namespace():
    assert IMAGE.fqn() == '/camera/image_raw'
    assert IMAGE.fqn('/robot1') == IMAGE.fqn('robot1/') == '/robot1/camera/image_raw'
    assert resolve('instruction', '/fleet/robot1') == '/fleet/robot1/instruction'
    assert contract.CLOCK.fqn('/robot1') == '/clock'
    recorded = ['/robot1/camera/image_raw', '/robot1/robot/action', '/clock']
    assert find_topic(recorded, IMAGE.name) == '/robot1/camera/image_raw'
    assert find_topic(recorded, 'image_raw') == '/robot1/camera/image_raw'
    assert find_topic(recorded, IMAGE.fqn()) is None  # absolute: only itself
    assert find_topic(recorded, 'era/image_raw') is None  # whole name segments only
    assert find_topic(recorded, INSTRUCTION.name) is None
    with pytest.raises(ValueError, match='several namespaces'):
        find_topic([*recorded, '/robot2/camera/image_raw'], IMAGE.name)


def test_stack_parameters_reach_the_nodes_in_any_namespace():
    config = ROOT / 'config' / 'sim_runner.yaml'
    keyed = any_namespace_parameters(config)
    assert list(keyed) == [f'/**/{name}' for name in stack_nodes(config)]
    assert keyed['/**/sim']['ros__parameters']['move_pixels'] == 27
    assert namespace_path('robot1') == namespace_path('/robot1') == '/robot1'
    assert namespace_path('') == '/'
    for bad in ('robot 1', '1robot', 'a//b'):
        with pytest.raises(ValueError, match='not a ROS namespace'):
            namespace_path(bad)


def test_readers_find_the_topics_of_a_namespaced_bag(tmp_path):
    write_session_bag(tmp_path / 'root', steps=10)
    write_session_bag(tmp_path / 'robot1', steps=10, namespace='/robot1')
    assert sorted(Bag(tmp_path / 'robot1').topics) == sorted(
        t.fqn('/robot1') for t in (IMAGE, ACTION, TELEMETRY, INSTRUCTION))
    root, namespaced = BagDataset(tmp_path / 'root'), BagDataset(tmp_path / 'robot1')
    assert len(namespaced) == len(root) == 9 and not namespaced.skipped
    for a, b in zip(root, namespaced):
        assert np.array_equal(a.observation, b.observation)
        assert np.array_equal(a.next_observation, b.next_observation)
        assert (a.action_index, a.instruction, a.telemetry.tolist()) == (
            b.action_index, b.instruction, b.telemetry.tolist())
    assert namespaced[3].instruction == 'move right'
    # An absolute name matches only itself.
    assert len(BagDataset(tmp_path / 'robot1', image_topic=IMAGE.fqn())) == 0
    exported = export_parquet(tmp_path / 'robot1', tmp_path / 'parquet')
    assert sorted(exported) == sorted(t.fqn('/robot1') for t in (ACTION, TELEMETRY, INSTRUCTION))
    assert exported[TELEMETRY.fqn('/robot1')].name == 'robot1__robot__telemetry.parquet'


def test_a_bag_of_two_namespaces_is_skipped_with_the_reason(tmp_path):
    from nanobot_ros.data.bag_writer import BagWriter
    from nanobot_ros.data.bags import make_typestore
    store = make_typestore()
    with BagWriter(tmp_path / 'bag', typestore=store) as bag:
        for namespace in ('/robot1', '/robot2'):
            bag.add_topic(IMAGE.fqn(namespace), IMAGE.msgtype)
    data = BagDataset(tmp_path / 'bag')
    assert len(data) == 0
    assert 'several namespaces' in data.skipped[str(tmp_path / 'bag')]


def test_the_contract_and_its_readers_import_without_rclpy():
    modules = ['nanobot_ros.contract', 'nanobot_ros.stack_config', 'nanobot_ros.data.dataset',
               'nanobot_ros.data.parquet', 'nanobot_ros.policy.demonstrations']
    code = (f'import importlib, sys\nfor name in {modules!r}:\n    importlib.import_module(name)\n'
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rclpy'))\n")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'


def test_the_rust_kernel_uses_the_contracts_names_and_profiles():
    # kernel/src/node.rs cannot import contract.py: what it spells must equal it.
    source = (ROOT / 'kernel' / 'src' / 'node.rs').read_text()
    profiles = {'SENSOR_QOS': contract.SENSOR, 'COMMAND_QOS': contract.COMMAND,
                'STATUS_QOS': contract.STATUS, 'INSTRUCTION_QOS': contract.LATCHED}
    by_name = {t.name: t for t in contract.TOPICS}
    used = re.findall(r'(?:create_publisher|subscribe)::<[^>]+>\("([^"]+)", (\w+)\)', source)
    assert {name for name, _ in used} == {'robot/action', 'diagnostics', 'camera/image_raw',
                                          'instruction', 'robot/telemetry', 'robot/surface'}
    for name, profile in used:
        assert by_name[name].qos == profiles[profile], name
    # The profiles themselves: depth, reliability and durability as the contract's.
    consts = dict(re.findall(r'const (\w+_QOS): QosProfile = (.+);', source))
    assert consts['SENSOR_QOS'] == 'QosProfile::sensor_data()'  # rmw's: best effort, depth 5
    for const, qos in profiles.items():
        if const != 'SENSOR_QOS':
            expected = (f'QosProfile::default().keep_last({qos.depth}).reliable().'
                        + ('transient_local()' if qos.durability == 'transient_local'
                           else 'volatile()'))
            assert consts[const] == expected, const
