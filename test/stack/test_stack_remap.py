"""A stack YAML's `remap` list and `{run_dir}`: remappings for the node, the run's own folder."""

import pytest

from nanobot_ros.stack import node_command
from nanobot_ros.stack_config import any_namespace_parameters, node_remappings
from repo_paths import ROOT

LEARN = ROOT / 'config' / 'learn.yaml'


def test_remap_is_a_remapping_and_run_dir_the_runs_folder(tmp_path):
    assert node_remappings(LEARN, 'kernel') == {'robot/action': 'kernel/action'}
    assert node_remappings(LEARN, 'expert') == {'robot/action': 'teacher/action'}
    assert node_remappings(LEARN, 'sim') == {}
    params = any_namespace_parameters(LEARN, tmp_path)
    # No node is handed `remap` as a parameter.
    assert all('remap' not in body['ros__parameters'] for body in params.values())
    assert params['/**/kernel']['ros__parameters']['model_path'] == \
        params['/**/trainer']['ros__parameters']['export_path'] == \
        f'{tmp_path}/exports/policy.onnx'
    assert params['/**/trainer']['ros__parameters']['data_dir'] == f'{tmp_path}/sessions'
    command = node_command('kernel', remap=node_remappings(LEARN, 'kernel'))
    assert command[-2:] == ['-r', 'robot/action:=kernel/action']


def test_a_malformed_remap_is_refused(tmp_path):
    config = tmp_path / 'stack.yaml'
    config.write_text("sim:\n  ros__parameters:\n    remap: ['robot/action']\n")
    with pytest.raises(ValueError, match="remap 'robot/action' is not from:=to"):
        node_remappings(config, 'sim')
