"""While its reconstruction is worse than the threshold the world model does not act."""
from nanobot_msgs.msg import Action, WorldModelStatus

from nanobot_ros.contract import ACTION, COMMAND, STATUS, WORLD_MODEL_STATUS
from nanobot_ros.nodes.common import qos_profile
from world_model_node_params import small_world_model


def test_gated_world_model_trains_vision_and_sends_no_action(ros, nodes):
    actions, statuses = [], []
    ros.node.create_subscription(Action, ACTION.fqn(), actions.append, qos_profile(COMMAND))
    ros.node.create_subscription(WorldModelStatus, WORLD_MODEL_STATUS.fqn(), statuses.append,
                                 qos_profile(STATUS))
    nodes.start('sim', params={'frame_rate': 30.0, 'action_timeout': 0.2})
    world_model = nodes.start('world_model',
                              params=small_world_model(reconstruction_threshold=1e-9))
    assert ros.spin_until(lambda: len(statuses) >= 8 and
                          statuses[-1].autoencoder_training_step >= 2, timeout=90), \
        nodes.output(world_model)[-3000:]
    assert actions == []
    assert all(s.gated and s.state == 'gated' and s.action == -1 for s in statuses)
    assert statuses[-1].gated_frames >= 8 and statuses[-1].predictor_training_step == 0
    assert statuses[-1].reconstruction_loss > statuses[-1].reconstruction_threshold
