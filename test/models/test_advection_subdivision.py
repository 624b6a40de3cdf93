"""With advection_subdivision s each patch's token moves its s x s sub-patches on their own."""
import pytest
import torch

from nanobot_ros.learning.world_model import WorldModel, WorldModelConfig
from nanobot_ros.models.advection import advect, AdvectionShape, sub_patch_logits
from nanobot_ros.models.predictor import PredictorConfig

SHAPE = AdvectionShape(radius_x=2, radius_y=1)
K = SHAPE.logits_per_patch  # 5 x taps + 3 y taps + the mask's
ONE_HOT = 50.0
CONFIG = dict(img_size=16, patch_size=8, embed_dim=16, depth=1, predictor_depth=1,
              num_actions=3, advection_x=2, advection_y=1, advection_subdivision=2)


def test_sub_patches_land_row_major_on_the_finer_grid():
    # 2 x 2 patches, each with 2 x 2 sub-patches; logit 0 of each says (patch, sub-patch).
    logits = torch.zeros(1, 4, 4 * K)
    for patch in range(4):
        for part in range(4):
            logits[0, patch, part * K] = 10 * patch + part
    fine = sub_patch_logits(logits, 2)
    assert fine.shape == (1, 16, K)
    # Fine cell (row, col) of the 4 x 4 grid is patch (row // 2, col // 2)'s sub-patch
    # (row % 2, col % 2).
    assert fine[0, :, 0].reshape(4, 4).tolist() == [[0, 1, 10, 11], [2, 3, 12, 13],
                                                    [20, 21, 30, 31], [22, 23, 32, 33]]


def test_one_sub_patch_moves_and_the_rest_stay():
    images = torch.rand(1, 3, 8, 8)
    logits = torch.zeros(1, 1, 4, K)  # one 8 px patch, its four 4 px sub-patches
    logits[..., SHAPE.radius_x] = ONE_HOT                      # x tap 0
    logits[..., 2 * SHAPE.radius_x + 1 + SHAPE.radius_y] = ONE_HOT  # y tap 0
    logits[0, 0, 1, SHAPE.radius_x] = 0.0
    logits[0, 0, 1, SHAPE.radius_x + 2] = ONE_HOT  # top right: output(x) = input(x + 2)
    moved, _ = advect(images, sub_patch_logits(logits.reshape(1, 1, 4 * K), 2), SHAPE)
    assert torch.equal(moved[:, :, :4, 4:6], images[:, :, :4, 6:8])
    assert torch.equal(moved[:, :, :4, 6:], images[:, :, :4, 7:].expand(-1, -1, -1, 2))
    assert torch.equal(moved[:, :, :, :4], images[:, :, :, :4])
    assert torch.equal(moved[:, :, 4:], images[:, :, 4:])


def test_a_fresh_model_starts_every_sub_patch_at_no_displacement():
    world_model = WorldModel(WorldModelConfig.small(**CONFIG), seed=0)
    images = torch.rand(2, 3, 16, 16)
    features = world_model.autoencoder.encode(images)[:, None]
    _, motion, _ = world_model.predictor.forward_motion(features, torch.tensor([[0], [2]]))
    # 2 x 2 patches of 8 px, each four sub-patches of 4 px: 16 kernel pairs a frame.
    assert motion.shape == (2, 16, K)
    assert torch.equal(motion, motion[:1, :1].expand_as(motion))
    assert int(motion[0, 0, :5].argmax()) == SHAPE.radius_x
    assert int(motion[0, 0, 5:8].argmax()) == SHAPE.radius_y


def test_a_checkpoint_keeps_its_subdivision_and_an_old_one_has_none():
    config = WorldModelConfig.small(**CONFIG)
    assert WorldModelConfig.from_dict(config.to_dict()).predictor.advection_subdivision == 2
    saved = config.predictor.to_dict()
    del saved['advection_subdivision']  # written before sub-patches existed
    assert PredictorConfig.from_dict(saved).advection_subdivision == 1


def test_a_subdivision_below_one_is_refused():
    with pytest.raises(ValueError, match=r'^advection_subdivision must be >= 1, got 0$'):
        PredictorConfig(advection_subdivision=0).validate()


def test_a_subdivision_that_does_not_divide_the_patch_is_refused():
    with pytest.raises(ValueError, match=r'^advection_subdivision 3 must divide patch_size 8$'):
        WorldModelConfig.small(**{**CONFIG, 'advection_subdivision': 3}).validate()
