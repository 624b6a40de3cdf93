"""A small world model overfits a fixed two-frame transition, differently per action."""
import torch

from nanobot_ros.learning.world_model import WorldModel
from tiny_world_model import dot_frame, tiny_config


def test_overfits_a_fixed_transition_for_each_action():
    model = WorldModel(tiny_config(), seed=0)
    before, moved = dot_frame(6), dot_frame(20)
    # Action 0 keeps the frame, action 1 moves the dot: two transitions from the same frame.
    history = model.to_tensor([before, before])[:, None]
    actions = torch.tensor([[0], [1]])
    next_frames = model.to_tensor([before, moved])
    first = None
    for _ in range(250):
        metrics = model.train_step(history, actions, next_frames)
        first = first if first is not None else metrics['predictor_patch_loss']
    assert metrics['predictor_patch_loss'] < 0.1 * first
    assert metrics['predictor_explained_variance'] > 0.9
    predicted, _ = model.predict_all([before], [], [0, 1])
    target = model.autoencoder.patchify(next_frames)
    assert ((predicted - target) ** 2).mean() < ((predicted.flip(0) - target) ** 2).mean() / 4
