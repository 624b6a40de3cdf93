"""The world_model node creates hierarchy levels, shows, reports and saves them.

It refuses a checkpoint with more levels than it allows.
"""
from sensor_msgs.msg import Image

from bag_fixtures import Diagnostics
from nanobot_ros.contract import PREDICTIONS, SENSOR
from nanobot_ros.models.checkpoint import load_checkpoint
from nanobot_ros.nodes.common import qos_profile
from world_model_node_params import small_world_model

TILE = 18 + 224  # label bar + frame
GAP = 4


def test_levels_are_created_shown_reported_and_saved(ros, nodes, tmp_path):
    grids = []
    ros.node.create_subscription(Image, PREDICTIONS.fqn(), grids.append, qos_profile(SENSOR))
    diagnostics = Diagnostics(ros)
    sim = nodes.start('sim', params={'frame_rate': 30.0, 'seed': 1})
    # Any R² counts as reliable after one fresh prediction: level 1 comes with the first acted
    # step, level 2 once level 1 has predicted one macro transition.
    checkpoints = tmp_path / 'checkpoints'
    world_model = nodes.start('world_model', params=small_world_model(
        checkpoint_dir=str(checkpoints), log_interval=4, level_creation_r2=-1e9,
        level_creation_window=1))

    def two_levels():
        assert world_model.poll() is None, nodes.output(world_model)[-3000:]
        values = diagnostics.values('world_model')
        return (values.get('hierarchy/levels') == 2 and grids
                and grids[-1].height == 3 * TILE + 2 * GAP)
    assert ros.spin_until(two_levels, timeout=90), nodes.output(world_model)[-3000:]
    # Rows: current | decoded | 2 actions; level 1's 4 macro-actions; level 2's 16 (widest).
    assert grids[-1].width == 16 * 224 + 15 * GAP
    assert ros.spin_until(lambda: diagnostics.values('world_model').get(
        'prediction_errors/level_2') is not None, 30)
    values = diagnostics.values('world_model')
    for k in (0, 1, 2):
        assert values[f'prediction_errors/level_{k}'] >= 0, values
    assert values['hierarchy/level_1_macro_selections'] >= 0
    assert nodes.stop(world_model, timeout=40) == 0
    saved = load_checkpoint(checkpoints / 'world_model.safetensors')
    assert saved.metadata['hierarchy']['levels'] == 2
    assert any(name.startswith('hierarchy.level_2.') for name in saved.tensors)

    fewer = nodes.start('world_model', params=small_world_model(
        checkpoint_dir=str(checkpoints), hierarchy_levels=1))
    assert fewer.wait(60) == 2
    assert 'checkpoint has 2 hierarchy levels, this configuration allows 1' in \
        nodes.output(fewer)
    nodes.stop(sim)
