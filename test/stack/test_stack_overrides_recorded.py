"""`--set` overrides land in the run folder's params.yaml: it says what the stack ran with."""
from nanobot_ros.stack import parse_overrides
from nanobot_ros.stack_config import any_namespace_parameters, node_parameters
from repo_paths import ROOT

ROOM = ROOT / 'config' / 'room.yaml'


def test_overrides_replace_the_yaml_values_read_as_ros_reads_them(tmp_path):
    overrides = parse_overrides(['room.reset_every=7', 'world_model.latent_loss_weight=0.5',
                                 'world_model.wandb_project=', 'foxglove.topics=[a, b]'])
    params = any_namespace_parameters(ROOM, tmp_path, overrides)
    room_as_given = node_parameters(ROOM, 'room')
    assert params['/**/room']['ros__parameters']['reset_every'] == 7
    assert params['/**/room']['ros__parameters']['frame_rate'] == room_as_given['frame_rate']
    world_model = params['/**/world_model']['ros__parameters']
    assert world_model['latent_loss_weight'] == 0.5
    assert world_model['wandb_project'] == ''
    assert params['/**/foxglove']['ros__parameters']['topics'] == ['a', 'b']
    assert room_as_given['reset_every'] != 7
    assert any_namespace_parameters(ROOM, tmp_path)['/**/room']['ros__parameters'][
        'reset_every'] == room_as_given['reset_every']
