"""A policy file written before the `head` field and the ViTEncoder split still loads.

Such files name the head with two booleans (robotics_use_diffusion, robotics_categorical; no
n_actions) and carry a whole MAE under `vision.` (its decoder's tensors too).
"""
import pytest
import torch

from nanobot_ros.models.checkpoint import prefixed, save_checkpoint
from nanobot_ros.models.vit import MaskedAutoencoderViT
from nanobot_ros.policy.configuration import PolicyConfig
from nanobot_ros.policy.format import WEIGHTS_KIND
from nanobot_ros.policy.weights import load_policy
from policy_fixtures import perturbed, tiny_config, tiny_policy


def old_config(head: str) -> dict:
    """Return `tiny_config(head=head)` as a file before the head field spelled it."""
    values = tiny_config(head=head).to_dict()
    del values['head'], values['n_actions']
    return {**values, 'robotics_use_diffusion': head == 'diffusion',
            'robotics_categorical': head == 'categorical'}


def test_the_two_old_booleans_name_the_head():
    for head in ('regression', 'diffusion', 'categorical'):
        assert PolicyConfig.from_dict(old_config(head)) == tiny_config(head=head)
    both = {**old_config('diffusion'), 'robotics_categorical': True}
    with pytest.raises(ValueError, match='names two action heads'):
        PolicyConfig.from_dict(both)
    with pytest.raises(ValueError, match=r"unknown policy config keys \['robotics_categorical'\]"):
        PolicyConfig.from_dict({**tiny_config().to_dict(), 'robotics_categorical': True})
    with pytest.raises(ValueError, match="head must be one of regression, diffusion, "
                                         "categorical, got 'flow'"):
        tiny_config(head='flow').validate()


def test_an_old_categorical_checkpoint_with_a_whole_mae_loads_and_acts_the_same(tmp_path):
    policy = perturbed(tiny_policy(head='categorical'), 1)
    decoder = {f'vision.{name}': tensor for name, tensor in
               MaskedAutoencoderViT(policy.config.vit_config()).state_dict().items()
               if not name.startswith('encoder.')}
    assert {'vision.mask_token', 'vision.decoder_embed.weight'} <= set(decoder)
    path = save_checkpoint(tmp_path / 'old.safetensors',
                           prefixed('model', {**policy.state_dict(), **decoder}),
                           {'kind': WEIGHTS_KIND, 'policy_config': old_config('categorical'),
                            'normalization': policy.normalization_stats()})
    loaded, _ = load_policy(path)
    assert loaded.config == policy.config and loaded.config.n_actions == 5
    images, text = torch.rand(6, 3, 16, 16), torch.randint(0, 256, (6, 8))
    with torch.no_grad():
        assert torch.equal(loaded.eval().action_logits(images, text),
                           policy.action_logits(images, text))
