"""Save and load policies as safetensors whose metadata rebuilds the model from the file alone.

Metadata: {'kind': 'nanobot_policy', 'policy_config': PolicyConfig.to_dict(), 'normalization':
stats, ...training counters}. The normalization statistics are also buffers in the weights; the
JSON copy is for readers that do not run PyTorch. Nothing is unpickled (see checkpoint.py).
"""
from pathlib import Path
from typing import Optional, Tuple

from nanobot_ros.models.checkpoint import (backup_path, CheckpointError, load_checkpoint,
                                           optimizer_from_tensors, prefixed, save_checkpoint,
                                           unprefixed)
from nanobot_ros.policy.modeling import Policy, PolicyConfig

KIND = 'nanobot_policy'


class ConfigMismatchError(ValueError):
    """A checkpoint was written for a different model topology than the one asked for."""


def config_differences(expected: PolicyConfig, found: PolicyConfig) -> list:
    """Return 'key: expected X, file has Y' for every differing config field."""
    a, b = expected.to_dict(), found.to_dict()
    return [f'{k}: expected {a[k]!r}, file has {b[k]!r}' for k in a if a[k] != b[k]]


def save_policy(path, policy: Policy, extra_tensors: Optional[dict] = None,
                extra_metadata: Optional[dict] = None, keep_backup: bool = True) -> Path:
    """Write the policy (and e.g. optimizer tensors) atomically with its config in metadata."""
    tensors = prefixed('model', policy.state_dict())
    tensors.update(extra_tensors or {})
    metadata = {'kind': KIND, 'policy_config': policy.config.to_dict(),
                'normalization': policy.normalization_stats(), **(extra_metadata or {})}
    return save_checkpoint(path, tensors, metadata, keep_backup=keep_backup)


def load_policy(path, expected: Optional[PolicyConfig] = None) -> Tuple[Policy, object]:
    """Return (policy rebuilt from the file's config, the Checkpoint) or raise.

    FileNotFoundError when neither the file nor its backup exists; CheckpointError when it is
    unreadable or no policy; ConfigMismatchError (naming every differing key) when `expected`
    is given and the file's topology differs.
    """
    checkpoint = load_checkpoint(path)
    if checkpoint is None:
        raise FileNotFoundError(f'{path}: no policy checkpoint (nor backup) there')
    if checkpoint.metadata.get('kind') != KIND:
        raise CheckpointError(f'{checkpoint.path}: not a policy checkpoint (kind '
                              f'{checkpoint.metadata.get("kind")!r})')
    found = PolicyConfig.from_dict(checkpoint.metadata['policy_config'])
    if expected is not None:
        differences = config_differences(expected, found)
        if differences:
            raise ConfigMismatchError(
                f'{checkpoint.path} was trained with a different policy config; refusing to '
                f'load it: ' + '; '.join(differences)
                + '. Start a new run directory or use the matching config.')
    policy = Policy(found)
    policy.load_state_dict(unprefixed('model', checkpoint.tensors))
    return policy, checkpoint


def resume_into(path, policy: Policy, optimizer, section: str) -> Optional[dict]:
    """Load a run's checkpoint (or its backup) into `policy` and `optimizer`.

    Return the checkpoint's metadata[section] (the run's counters), or None when there is no
    checkpoint yet; ConfigMismatchError when it was written for another topology.
    """
    path = Path(path)
    if not (path.exists() or backup_path(path).exists()):
        return None
    found, checkpoint = load_policy(path, expected=policy.config)
    policy.load_state_dict(found.state_dict())
    meta = checkpoint.metadata[section]
    optimizer_from_tensors(optimizer, unprefixed('optimizer', checkpoint.tensors),
                           meta['optimizer'])
    return meta
