"""Save and load policies as safetensors whose metadata rebuilds the model from the file alone.

Metadata: policy/format.py's WeightsMetadata ('kind', 'policy_config', 'normalization', then
e.g. the training counters). The normalization statistics are also buffers in the weights; the
JSON copy is for readers that do not run PyTorch. Nothing is unpickled (see checkpoint.py).
"""
from pathlib import Path
from typing import Optional, Tuple

from nanobot_ros.models.checkpoint import (backup_path, CheckpointError, load_checkpoint,
                                           optimizer_from_tensors, prefixed, save_checkpoint,
                                           unprefixed)
from nanobot_ros.policy.format import PolicyFormatError, WeightsMetadata
from nanobot_ros.policy.modeling import Policy, PolicyConfig


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
    metadata = WeightsMetadata(policy.config, policy.normalization_stats(),
                               dict(extra_metadata or {}))
    return save_checkpoint(path, tensors, metadata.to_json(), keep_backup=keep_backup)


def load_policy(path, expected: Optional[PolicyConfig] = None) -> Tuple[Policy, object]:
    """Return (policy rebuilt from the file's config, the Checkpoint) or raise.

    FileNotFoundError when neither the file nor its backup exists; CheckpointError when it is
    unreadable, no policy or another format version; ConfigMismatchError (naming every
    differing key) when `expected` is given and the file's topology differs.
    """
    checkpoint = load_checkpoint(path)
    if checkpoint is None:
        raise FileNotFoundError(f'{path}: no policy checkpoint (nor backup) there')
    try:
        found = WeightsMetadata.from_json(checkpoint.metadata).config
    except PolicyFormatError as error:
        raise CheckpointError(f'{checkpoint.path}: {error}') from None
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
