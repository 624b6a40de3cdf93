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
    tensors = unprefixed('model', checkpoint.tensors)
    # A categorical head's action vectors are weights: the file's, whatever their number.
    policy = (Policy(found, tensors['action_vectors']) if 'action_vectors' in tensors
              else Policy(found))
    policy.load_state_dict(tensors)
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


def warm_start(path, policy: Policy) -> dict:
    """Copy a checkpoint's model weights into `policy`, whose config may differ; return a report.

    Every tensor of the file must have a place of the same shape in `policy` (else
    ConfigMismatchError naming them); tensors of `policy` the file lacks (e.g. the cross path of
    `text_condition: cross` warm-started from a 'mean' checkpoint) keep their init. The report:
    'loaded', 'missing' and 'zero_init' (the missing ones whose init is all zeros, which keep
    the policy computing what the checkpoint's did) tensor names, and the config 'differences'.
    """
    found, checkpoint = load_policy(path)
    theirs, ours = found.state_dict(), policy.state_dict()
    wrong = [f'{k} {tuple(v.shape)} (policy has {tuple(ours[k].shape) if k in ours else "none"})'
             for k, v in theirs.items() if k not in ours or ours[k].shape != v.shape]
    if wrong:
        raise ConfigMismatchError(f'{checkpoint.path}: tensors with no place in this policy: '
                                  + '; '.join(wrong))
    missing = [k for k in ours if k not in theirs]
    policy.load_state_dict(theirs, strict=False)
    return {'loaded': sorted(theirs), 'missing': missing,
            'zero_init': [k for k in missing if not ours[k].any()],
            'differences': config_differences(policy.config, found.config)}
