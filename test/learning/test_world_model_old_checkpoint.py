"""A world model checkpoint from before the ViTEncoder split (encoder keys at the top) loads."""
import torch

from nanobot_ros.learning.world_model import WorldModel
from tiny_world_model import dot_frame, tiny_config


def test_encoder_keys_at_the_autoencoders_top_load_into_its_encoder():
    saved = WorldModel(tiny_config(), seed=1)
    tensors = saved.state_tensors()
    old = {name.replace('autoencoder.encoder.', 'autoencoder.'): t for name, t in tensors.items()}
    assert 'autoencoder.patch_embed.weight' in old and 'autoencoder.encoder.patch_embed.weight' \
        in tensors
    restored = WorldModel(tiny_config(), seed=2)
    restored.load_state(old, saved.state_metadata())
    frames = restored.to_tensor([dot_frame(5), dot_frame(20)])
    with torch.no_grad():
        assert torch.equal(restored.autoencoder.encode(frames), saved.autoencoder.encode(frames))
        assert torch.equal(restored.autoencoder(frames)[0], saved.autoencoder(frames)[0])
