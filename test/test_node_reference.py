"""Every node declares its config dataclasses' defaults, and docs/nodes.md is current.

All nodes run for real (one process each, with their defaults, in one private domain); their
parameters are read through the ROS parameter services and their topics from the graph
(nanobot_ros.introspection.py, the same code `./run.sh nanobot docs` runs).
"""
from pathlib import Path

import pytest

from nanobot_ros.data.playback import ReplayConfig
from nanobot_ros.data.recording import RecorderConfig, RecorderSetup
from nanobot_ros.defaults import config_defaults
from nanobot_ros.learning.adaptive_loop import LoopConfig
from nanobot_ros.learning.hierarchy import HierarchyConfig
from nanobot_ros.learning.online import OnlineConfig
from nanobot_ros.learning.transition_labels import LabelConfig
from nanobot_ros.learning.world_model import WorldModelSize
from nanobot_ros.live_view import LiveViewConfig
from nanobot_ros.introspection import introspect, node_names, render, START_PARAMETERS
from nanobot_ros.policy.continual import ContinualConfig
from nanobot_ros.policy.serving import EagerServingConfig, OnnxServingConfig, ServingConfig
from nanobot_ros.robots.camera_capture import CameraCalibration, CameraConfig
from nanobot_ros.robots.esp32.emulator import EmulatorConfig
from nanobot_ros.robots.esp32.settings import BridgeConfig
from nanobot_ros.robots.jetbot.motors import MotorLimits, MotorLink
from nanobot_ros.robots.room.robot import RoomRobotConfig
from nanobot_ros.robots.room.world import RoomConfig, RoomMotorLimits
from nanobot_ros.robots.sim.robot import SimConfig
from nanobot_ros.robots.sim.selectors import RunnerConfig, SelectorConfig
from nanobot_ros.robots.sim.target_task import ExpertConfig
from nanobot_ros.robots.sim.toroidal_dot import ToroidalDotConfig

REFERENCE = Path(__file__).resolve().parents[1] / 'docs' / 'nodes.md'
# node -> the dataclasses its parameters come from, each with the fields that are no parameter.
NODE_CONFIGS = {
    'camera': [(CameraConfig, ()), (CameraCalibration, ())],
    'esp32_bridge': [(BridgeConfig, ())],
    'esp32_emulator': [(EmulatorConfig, ())],
    'expert': [(ExpertConfig, ())],
    'foxglove': [(LiveViewConfig, ())],
    'jetbot': [(MotorLink, ()), (MotorLimits, ())],
    'kernel': [(ServingConfig, ()), (OnnxServingConfig, ())],
    'policy': [(ServingConfig, ()), (EagerServingConfig, ())],
    'recorder': [(RecorderSetup, ()), (RecorderConfig, ('root', 'metadata'))],
    'replay': [(ReplayConfig, ())],
    'room': [(RoomConfig, ()), (RoomMotorLimits, ()), (RoomRobotConfig, ())],
    'runner': [(SelectorConfig, ()), (RunnerConfig, ())],
    'sim': [(ToroidalDotConfig, ()), (SimConfig, ())],
    'trainer': [(ContinualConfig, ())],
    'world_model': [(OnlineConfig, ()), (WorldModelSize, ()), (SelectorConfig, ('selector',)),
                    (LoopConfig, ('newest_in_batch', 'train_steps_per_frame',
                                  'detailed_metrics_interval', 'online_window',
                                  'ignore_actions')), (LabelConfig, ()),
                    (HierarchyConfig, ())],
}


def _plain(value):
    return list(value) if isinstance(value, (list, tuple)) else value


@pytest.fixture(scope='module')
def reports(module_ros_domain, tmp_path_factory):
    """Start every node once for the module; return what it declares."""
    return introspect(module_ros_domain, tmp_path_factory.mktemp('nodes'), node_names())


def test_each_declared_default_is_its_dataclass_default(reports):
    assert sorted(NODE_CONFIGS) == node_names()
    for node, configs in NODE_CONFIGS.items():
        expected = {}
        for config, skip in configs:
            expected.update({k: _plain(v) for k, v in config_defaults(config, skip).items()})
        given = START_PARAMETERS.get(node, {})
        declared = {name: _plain(p.value) for name, p in reports[node].parameters.items()
                    if name not in given}
        assert declared == {k: v for k, v in expected.items() if k not in given}, node


def test_committed_node_reference_is_current(reports):
    assert REFERENCE.read_text() == render(reports), (
        'docs/nodes.md is not what the nodes declare: regenerate it with '
        '`./run.sh nanobot docs` and commit it')
