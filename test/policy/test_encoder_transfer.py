"""The policy's vision encoder started from a world model checkpoint's: loaded, frozen or not."""
import pytest
import torch

from nanobot_ros.learning.world_model import WorldModel, WorldModelConfig
from nanobot_ros.models.checkpoint import save_checkpoint
from nanobot_ros.policy.encoder_transfer import (EncoderMismatchError, load_world_model_encoder,
                                                 world_model_encoder_sizes)
from nanobot_ros.policy.modeling import Policy
from policy_fixtures import tiny_config

# The tiny policy's encoder: 16 px images, patch 8, 16 wide, one block.
SIZES = dict(img_size=16, patch_size=8, embed_dim=16, depth=1)


def world_model_file(folder, **sizes):
    """Write a world model checkpoint as the world model node does; return its path."""
    model = WorldModel(WorldModelConfig.small(**dict(SIZES, **sizes), predictor_depth=1),
                       seed=1)
    return save_checkpoint(folder / 'world_model.safetensors', model.state_tensors(),
                           model.state_metadata()), model


def step(policy: Policy) -> None:
    """One AdamW step of the categorical loss on a fixed random batch."""
    g = torch.Generator().manual_seed(0)
    c = policy.config
    batch = {'images': torch.rand(4, 3, c.image_size, c.image_size, generator=g),
             'text': torch.randint(0, 256, (4, c.max_text_len), generator=g),
             'actions': torch.tensor([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])}
    optimizer = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=1e-2)
    policy.train()
    loss = policy(batch)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def encoder_tensors(policy: Policy) -> dict:
    return {k: v.clone() for k, v in policy.vision.state_dict().items()}


def test_the_world_models_encoder_weights_are_loaded(tmp_path):
    path, model = world_model_file(tmp_path)
    # the policy config fields that size its encoder as the world model's
    sizes = world_model_encoder_sizes(path)
    assert sizes == {'image_size': 16, 'patch_size': 8, 'vision_embd': 16, 'vision_depth': 1}
    torch.manual_seed(0)
    policy = Policy(tiny_config(head='categorical', **sizes))
    report = load_world_model_encoder(path, policy)
    theirs = model.autoencoder.encoder.state_dict()
    assert report['tensors'] == sorted(theirs) and len(theirs) == 16
    for name, tensor in policy.vision.state_dict().items():
        assert torch.equal(tensor, theirs[name]), name
    # the same tokens for the same image: (B, 4 patches, 16)
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        tokens = policy.vision(images)
        assert tokens.shape == (2, 4, 16)
        assert torch.equal(tokens, model.autoencoder.encode(images))
    assert policy.action_logits(images, torch.zeros(2, 8, dtype=torch.long)).shape == (2, 5)


def test_a_frozen_encoder_gets_no_gradient_and_keeps_its_weights(tmp_path):
    path, _ = world_model_file(tmp_path)
    torch.manual_seed(0)
    policy = Policy(tiny_config(head='categorical'))
    assert load_world_model_encoder(path, policy, freeze=True)['frozen']
    assert not any(p.requires_grad for p in policy.vision.parameters())
    before, head_before = encoder_tensors(policy), policy.head[0].weight.clone()
    step(policy)
    assert all(p.grad is None for p in policy.vision.parameters())
    for name, tensor in policy.vision.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert not torch.equal(policy.head[0].weight, head_before)  # the rest learned
    assert policy.vision_proj.weight.requires_grad


def test_an_unfrozen_encoder_trains_on(tmp_path):
    path, _ = world_model_file(tmp_path)
    torch.manual_seed(0)
    policy = Policy(tiny_config(head='categorical'))
    load_world_model_encoder(path, policy, freeze=False)
    assert all(p.requires_grad for p in policy.vision.parameters())
    before = encoder_tensors(policy)
    step(policy)
    assert all(p.grad is not None for p in policy.vision.parameters())
    changed = [k for k, v in policy.vision.state_dict().items() if not torch.equal(v, before[k])]
    assert 'patch_embed.weight' in changed and 'blocks.0.attn.qkv.weight' in changed


def test_other_sizes_are_refused_naming_them(tmp_path):
    path, _ = world_model_file(tmp_path, img_size=32, embed_dim=32)
    policy = Policy(tiny_config(head='categorical'))
    before = encoder_tensors(policy)
    with pytest.raises(EncoderMismatchError) as error:
        load_world_model_encoder(path, policy)
    assert str(error.value) == (
        f"{path}: the world model's encoder does not fit the policy's; refusing to load it: "
        "image_size: policy has 16, world model has 32; vision_embd: policy has 16, world "
        "model has 32. Set the policy config to the world model's sizes (e.g. --set "
        "image_size=...).")
    for name, tensor in policy.vision.state_dict().items():
        assert torch.equal(tensor, before[name]), name


def test_a_policy_checkpoint_is_no_world_model(tmp_path):
    path = save_checkpoint(tmp_path / 'policy.safetensors', {'x': torch.zeros(1)},
                           {'kind': 'nanobot_ros.policy'})
    with pytest.raises(EncoderMismatchError, match="is no world model checkpoint"):
        load_world_model_encoder(path, Policy(tiny_config()))
    with pytest.raises(FileNotFoundError, match='no world model checkpoint'):
        load_world_model_encoder(tmp_path / 'none.safetensors', Policy(tiny_config()))
