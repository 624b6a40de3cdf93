"""Start a policy's vision encoder from a world model's: what curiosity learned, reused.

The world model's MAE and the policy hold the same `ViTEncoder` (models/vit.py), so a world
model checkpoint (the world model node's `<checkpoint_dir>/world_model.safetensors`, written
with no task labels) can give the policy its patch embedding, blocks and norm:

    report = load_world_model_encoder('saved/checkpoints/room/world_model.safetensors',
                                      policy, freeze=True)

The sizes must be the same (the policy's image_size, patch_size, vision_embd, vision_depth
against the world model's img_size, patch_size, embed_dim, depth); a mismatch is refused with
every differing size named, never loaded partly. `freeze=True` stops the encoder's gradients
(requires_grad off), so training moves only the rest of the policy and the encoder stays what
the world model learned; freeze before the optimizer is built (it takes only trainable
parameters). The trainer's `encoder_from` / `freeze_encoder` (`nanobot train --encoder-from
PATH [--freeze-encoder]`) call these.
"""
from dataclasses import asdict

from nanobot_ros.models.checkpoint import load_checkpoint, unprefixed
from nanobot_ros.models.vit import MaskedAutoencoderViT, ViTConfig
from nanobot_ros.policy.modeling import Policy

WORLD_MODEL_KIND = 'nanobot_ros.world_model'
# The encoder sizes that shape weights, and the PolicyConfig field each comes from.
# in_chans, num_heads and mlp_ratio are fixed in the policy (PolicyConfig.vit_config).
POLICY_FIELDS = {'img_size': 'image_size', 'patch_size': 'patch_size',
                 'embed_dim': 'vision_embd', 'depth': 'vision_depth',
                 'in_chans': 'encoder in_chans', 'num_heads': 'encoder num_heads',
                 'mlp_ratio': 'encoder mlp_ratio'}


class EncoderMismatchError(ValueError):
    """The world model's encoder has other sizes than the policy's (or there is none)."""


def load_world_model_encoder(path, policy: Policy, freeze: bool = False) -> dict:
    """Copy the world model checkpoint's encoder into `policy.vision`; return a report.

    FileNotFoundError when neither the file nor its backup exists; EncoderMismatchError when
    it is no world model checkpoint, the policy has no vision, or the sizes differ. The
    report: 'path' (the file read, maybe the backup), 'tensors' (names loaded), 'frozen'.
    """
    checkpoint = _world_model_checkpoint(path)
    if not policy.config.use_vision:
        raise EncoderMismatchError(f'{path}: the policy has no vision encoder (use_vision '
                                   'false)')
    theirs = ViTConfig.from_dict(checkpoint.metadata['config']['vit'])
    differences = [f'{POLICY_FIELDS[k]}: policy has {v!r}, world model has {getattr(theirs, k)!r}'
                   for k, v in _weight_sizes(policy.vision.config).items()
                   if getattr(theirs, k) != v]
    if differences:
        raise EncoderMismatchError(
            f'{checkpoint.path}: the world model\'s encoder does not fit the policy\'s; '
            'refusing to load it: ' + '; '.join(differences)
            + '. Set the policy config to the world model\'s sizes (e.g. --set image_size=...).')
    # Through the whole MAE: its load hooks read every key layout a world model has written.
    autoencoder = MaskedAutoencoderViT(theirs)
    autoencoder.load_state_dict(unprefixed('autoencoder', checkpoint.tensors))
    weights = autoencoder.encoder.state_dict()
    policy.vision.load_state_dict(weights)
    if freeze:
        freeze_encoder(policy)
    return {'path': str(checkpoint.path), 'tensors': sorted(weights), 'frozen': freeze}


def world_model_encoder_sizes(path) -> dict:
    """Return the PolicyConfig fields that give a policy the encoder of the world model at `path`.

    E.g. {'image_size': 64, 'patch_size': 16, 'vision_embd': 64, 'vision_depth': 2}; the
    encoder's other sizes (channels, heads, MLP ratio) are the policy's fixed ones.
    """
    theirs = asdict(ViTConfig.from_dict(_world_model_checkpoint(path).metadata['config']['vit']))
    return {field: theirs[key] for key, field in POLICY_FIELDS.items()
            if not field.startswith('encoder ')}


def freeze_encoder(policy: Policy) -> None:
    """Stop gradients into the policy's vision encoder (its projection still learns)."""
    if not policy.config.use_vision:
        raise EncoderMismatchError('the policy has no vision encoder to freeze (use_vision '
                                   'false)')
    policy.vision.requires_grad_(False)


def _weight_sizes(config: ViTConfig) -> dict:
    values = asdict(config)
    return {k: values[k] for k in POLICY_FIELDS}


def _world_model_checkpoint(path):
    checkpoint = load_checkpoint(path)
    if checkpoint is None:
        raise FileNotFoundError(f'{path}: no world model checkpoint (nor backup) there')
    if checkpoint.metadata.get('model') != WORLD_MODEL_KIND:
        raise EncoderMismatchError(f'{checkpoint.path} is no world model checkpoint (its '
                                   f'metadata says model={checkpoint.metadata.get("model")!r})')
    return checkpoint
