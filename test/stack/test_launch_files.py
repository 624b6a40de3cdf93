"""Launch files build a launch description (where launch_ros exists: a ROS 2 install)."""
from pathlib import Path
import runpy

import pytest

from nanobot_ros.stack_config import executable_name, stack_nodes
from repo_paths import ROOT

LAUNCH_FILES = sorted((ROOT / 'launch').glob('*.launch.py'))


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_builds_a_description(path):
    pytest.importorskip('launch_ros', reason='launch_ros is not on PyPI: needs a ROS 2 install')
    from launch import LaunchDescription
    description = runpy.run_path(str(path))['generate_launch_description']()
    assert isinstance(description, LaunchDescription)
    assert description.entities


def test_every_stack_config_names_installed_executables():
    from nanobot_ros.stack import node_executable
    configs = [p for p in (ROOT / 'config').glob('*.yaml')]
    assert configs
    for config in configs:
        for name in stack_nodes(config):
            executable = node_executable(executable_name(config, name))
            assert Path(executable).is_file(), f'{config.name}: {name}'


def test_impl_picks_the_kernel_executable(tmp_path):
    config = tmp_path / 'stack.yaml'
    config.write_text('kernel:\n  ros__parameters:\n    impl: rust\nsim:\n  ros__parameters: {}\n')
    assert executable_name(config, 'kernel') == 'nanobot_kernel'
    assert executable_name(config, 'sim') == 'sim'
    config.write_text('kernel:\n  ros__parameters:\n    impl: python\n')
    assert executable_name(config, 'kernel') == 'kernel'
    config.write_text('kernel:\n  ros__parameters:\n    impl: cuda\n')
    with pytest.raises(ValueError, match="no implementation 'cuda'"):
        executable_name(config, 'kernel')
