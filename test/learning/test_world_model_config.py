"""Which configuration changes a world model checkpoint survives."""
import pytest
import torch

from nanobot_ros.learning.world_model import WorldModel
from tiny_world_model import tiny_config


def test_checkpoint_loads_under_other_mask_ratios_but_not_other_sizes():
    saved = WorldModel(tiny_config(mask_ratio_min=0.3, mask_ratio_max=0.85))
    resumed = WorldModel(tiny_config())
    resumed.load_state(saved.state_tensors(), saved.state_metadata())
    # The running config's training mask ratios apply; they shape no weight.
    assert resumed.config.vit.mask_ratio_max == 0.0
    other = WorldModel(tiny_config(max_history=2))
    with pytest.raises(ValueError, match='different model configuration'):
        other.load_state(saved.state_tensors(), saved.state_metadata())


def test_unmasked_joint_step_targets_the_next_frames_tokens_and_predictor_adam_beta2():
    model = WorldModel(tiny_config())
    assert model.config.vit.mask_ratio_max == 0.0
    assert model.predictor_optimizer.param_groups[0]['betas'] == (0.9, 0.95)
    assert model.autoencoder_optimizer.param_groups[0]['betas'] == (0.9, 0.999)
    next_frames = torch.rand(2, 3, 32, 32)
    loss, ratio, latent = model._autoencoder_loss(next_frames)
    assert ratio == 0.0
    # The tokens the autoencoder step computed are exactly what encoding the frames gives.
    assert torch.equal(latent, model.autoencoder.encode(next_frames))
    masked = WorldModel(tiny_config(mask_ratio_min=0.5, mask_ratio_max=0.5))
    assert masked._autoencoder_loss(next_frames)[2] is None
