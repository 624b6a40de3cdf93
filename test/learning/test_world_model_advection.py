"""With advection the world model's prediction is the last frame's pixels, moved.

The patch loss trains the kernels; their weights survive a save and load.
"""
import torch

from nanobot_ros.learning.world_model import WorldModel, WorldModelConfig
from nanobot_ros.models.vit import patchify

CONFIG = dict(img_size=16, patch_size=8, embed_dim=16, depth=1, predictor_depth=1,
              num_actions=3, advection_x=2, advection_y=1)
ONE_HOT = 50.0


def model() -> WorldModel:
    return WorldModel(WorldModelConfig.small(**CONFIG), seed=0)


def test_a_pure_shift_kernel_predicts_the_shifted_last_frame():
    world_model = model()
    head = world_model.predictor.motion_head
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        head.bias[2 + 1] = ONE_HOT         # x tap +1: output(x) = input(x + 1)
        head.bias[5 + 1] = ONE_HOT         # y tap 0
        head.bias[-1] = ONE_HOT            # mask 1: the moved pixels only
    images = torch.rand(2, 3, 16, 16)
    features = world_model.autoencoder.encode(images)[:, None]
    predicted, heads = world_model.predict_patches(features, torch.tensor([[0], [2]]), images)
    shifted = torch.cat([images[..., 1:], images[..., -1:]], dim=-1)
    assert torch.allclose(predicted, patchify(shifted, 8), atol=1e-6)
    assert heads.shape == (2, 4, 4, 16)


def test_the_patch_loss_trains_the_kernels():
    world_model = model()
    before = world_model.predictor.motion_head.weight.detach().clone()
    history = torch.rand(4, 1, 3, 16, 16)
    world_model.train_step(history, torch.tensor([[0], [1], [2], [1]]),
                           torch.roll(history[:, 0], 3, dims=-1))
    assert not torch.equal(world_model.predictor.motion_head.weight, before)


def test_the_kernels_survive_save_and_load():
    trained, fresh = model(), model()
    history = torch.rand(4, 1, 3, 16, 16)
    trained.train_step(history, torch.tensor([[0], [1], [2], [1]]), history[:, 0])
    fresh.load_state(trained.state_tensors(), trained.state_metadata())
    assert torch.equal(fresh.predictor.motion_head.weight, trained.predictor.motion_head.weight)
