"""Room demonstrations: bags with the JetBot's actions, the room's action indices learned.

The expert's bags hold motor values; a categorical head trained on them indexes the room's five
actions, and its export says which motor values each index is.
"""
import json

import numpy as np
import onnx

from nanobot_ros.policy.demonstrations import write_demonstration_bag
from nanobot_ros.policy.export import export_policy
from nanobot_ros.policy.training import PolicyTrainer, TrainerConfig
from nanobot_ros.robots.room.task import expert_rollouts, RoomTaskConfig
from nanobot_ros.robots.room.world import ACTION_VECTORS
from nanobot_ros.robots.tasks import task_actions, task_config
from nanobot_ros.data.dataset import BagDataset
from policy_fixtures import tiny_config


def test_room_bags_hold_motor_values_and_train_the_room_action_indices(tmp_path):
    config = task_config('room')
    assert isinstance(config, RoomTaskConfig)
    # a transition needs the next frame: the bag's last frame is no sample
    expert = [action for _, _, action in expert_rollouts(config, [1000, 1001])][:-1]
    write_demonstration_bag(tmp_path / 'demos', config, [1000, 1001])
    samples = list(BagDataset([tmp_path / 'demos']))
    assert [s.action_index for s in samples] == expert and set(expert) >= {0, 1}
    assert samples[0].action_names == ('motor_left', 'motor_right')
    np.testing.assert_allclose([s.action_values for s in samples],
                               [ACTION_VECTORS[a] for a in expert], atol=1e-6)
    trainer = PolicyTrainer(TrainerConfig(
        data=[str(tmp_path / 'demos')], run_dir=str(tmp_path / 'run'),
        policy=tiny_config(head='categorical', image_size=16),
        discrete_actions=task_actions(config)[2], max_steps=2, batch_size=8, wandb=False,
        progress=False))
    trainer.poll_data()
    batch = trainer.buffer.batch(range(len(trainer.buffer)))
    assert trainer.policy.action_index(batch['actions']).tolist() == expert
    path = export_policy(trainer.policy, tmp_path / 'policy.onnx')
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    np.testing.assert_allclose(json.loads(props['nanobot.discrete_actions']), ACTION_VECTORS,
                               atol=1e-6)  # float32 weights
