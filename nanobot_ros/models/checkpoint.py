"""Checkpoints as safetensors files that carry their own config, with a rolling backup.

A checkpoint is one `.safetensors` file: tensors (model weights, optimizer moments) plus JSON
metadata (model config, training counters, optimizer hyper-parameters) in the safetensors
header. Nothing is ever unpickled: loading parses a JSON header and raw tensor bytes, so a file
from anywhere is safe to open (`torch.load` is never used).

Saving is atomic and keeps one older copy, as the reference's rolling backup does:
  1. write `<name>.safetensors.tmp`, fsync it;
  2. if a valid `<name>.safetensors` exists, rename it to `<name>_backup.safetensors`;
  3. rename the temp file to `<name>.safetensors`, fsync the directory.
A crash at any point leaves a readable primary or a readable backup. `load_checkpoint` falls
back to the backup, with a warning, when the primary is missing or corrupt.
"""
from dataclasses import dataclass
import json
import logging
import os
from pathlib import Path
from typing import Dict, Optional, Tuple

from safetensors import SafetensorError, safe_open
from safetensors.torch import load as load_bytes, save as save_bytes
import torch

from nanobot_ros.durable import fsync_folder, write_synced

FORMAT = 'nanobot_ros.checkpoint/1'
BACKUP_SUFFIX = '_backup'

log = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    """Neither the primary checkpoint nor its backup could be read."""


@dataclass
class Checkpoint:
    """What `load_checkpoint` returns: tensors, metadata and which file they came from."""

    tensors: Dict[str, torch.Tensor]
    metadata: dict
    path: Path
    from_backup: bool


def backup_path(path) -> Path:
    """Return `<dir>/<name>_backup.safetensors` for `<dir>/<name>.safetensors`."""
    path = Path(path)
    return path.with_name(path.stem + BACKUP_SUFFIX + path.suffix)


def is_valid(path) -> bool:
    """Return whether `path` is a readable nanobot_ros checkpoint (header and every tensor)."""
    try:
        _read(Path(path))
    except (OSError, CheckpointError):
        return False
    return True


def save_checkpoint(path, tensors: Dict[str, torch.Tensor], metadata: dict,
                    keep_backup: bool = True) -> Path:
    """Write `tensors` and JSON-serialisable `metadata` to `path` atomically; return `path`.

    With `keep_backup` the previous primary (when it is valid) becomes the backup first; a
    corrupt primary is discarded so it never replaces a good backup.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Clone into contiguous CPU memory: safetensors refuses views that share storage.
    payload = {name: t.detach().to('cpu').contiguous().clone() for name, t in tensors.items()}
    header = {'format': FORMAT, 'metadata': json.dumps(metadata, sort_keys=True)}
    data = save_bytes(payload, metadata=header)
    temp = path.with_name(path.name + '.tmp')
    write_synced(temp, data)
    if keep_backup and path.exists():
        if is_valid(path):
            os.replace(path, backup_path(path))
        else:
            log.warning('checkpoint %s is corrupt: not rotating it into the backup', path)
    os.replace(temp, path)
    fsync_folder(path.parent)
    return path


def _read(path: Path) -> Tuple[Dict[str, torch.Tensor], dict]:
    try:
        with safe_open(str(path), framework='pt') as handle:
            header = handle.metadata() or {}
        tensors = load_bytes(path.read_bytes())
    except (SafetensorError, ValueError, RuntimeError) as error:
        raise CheckpointError(f'{path}: not a readable safetensors file ({error})') from None
    if header.get('format') != FORMAT:
        raise CheckpointError(f'{path}: not a {FORMAT} file (format {header.get("format")!r})')
    try:
        metadata = json.loads(header.get('metadata', '{}'))
    except ValueError as error:
        raise CheckpointError(f'{path}: metadata is not JSON ({error})') from None
    return tensors, metadata


def load_checkpoint(path) -> Optional[Checkpoint]:
    """Load `path`, or its backup with a warning when the primary is missing or corrupt.

    Returns None when neither file exists (a fresh start); raises CheckpointError when files
    exist but none is readable.
    """
    path = Path(path)
    backup = backup_path(path)
    errors = []
    for candidate, is_backup in ((path, False), (backup, True)):
        if not candidate.exists():
            continue
        try:
            tensors, metadata = _read(candidate)
        except CheckpointError as error:
            errors.append(str(error))
            continue
        if is_backup and errors:
            log.warning('primary checkpoint unusable (%s); loaded backup %s', errors[0],
                        candidate)
        elif is_backup:
            log.warning('primary checkpoint %s missing; loaded backup %s', path, candidate)
        return Checkpoint(tensors, metadata, candidate, is_backup)
    if errors:
        raise CheckpointError('; '.join(errors))
    return None


def prefixed(prefix: str, tensors: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Return `{prefix + '.' + name: tensor}` so several state dicts share one file."""
    return {f'{prefix}.{name}': t for name, t in tensors.items()}


def unprefixed(prefix: str, tensors: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Return the tensors stored under `prefix` (by `prefixed`), with the prefix removed."""
    start = prefix + '.'
    return {name[len(start):]: t for name, t in tensors.items() if name.startswith(start)}


TensorDict = Dict[str, torch.Tensor]


def optimizer_to_tensors(optimizer: torch.optim.Optimizer) -> Tuple[TensorDict, dict]:
    """Split an optimizer's state into tensors ('state.<param>.<key>') and JSON metadata."""
    state_dict = optimizer.state_dict()
    tensors, scalars = {}, {}
    for param_id, state in state_dict['state'].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f'state.{param_id}.{key}'] = value
            else:
                scalars[f'{param_id}.{key}'] = value
    groups = [{k: list(v) if isinstance(v, tuple) else v for k, v in group.items()}
              for group in state_dict['param_groups']]
    return tensors, {'param_groups': groups, 'scalars': scalars}


def optimizer_from_tensors(optimizer: torch.optim.Optimizer, tensors: Dict[str, torch.Tensor],
                           metadata: dict) -> None:
    """Restore what `optimizer_to_tensors` split (raises ValueError when it does not fit)."""
    state: Dict[int, dict] = {}
    for name, value in tensors.items():
        _, param_id, key = name.split('.', 2)
        state.setdefault(int(param_id), {})[key] = value
    for name, value in metadata.get('scalars', {}).items():
        param_id, key = name.split('.', 1)
        state.setdefault(int(param_id), {})[key] = value
    groups = []
    for group in metadata['param_groups']:
        group = dict(group)
        if 'betas' in group:
            group['betas'] = tuple(group['betas'])
        groups.append(group)
    optimizer.load_state_dict({'state': state, 'param_groups': groups})


def resolve_learning_rate(optimizer: torch.optim.Optimizer, explicit: Optional[float],
                          config_default: float, restored: bool) -> Tuple[float, str]:
    """Set the optimizer's learning rate by the reference's precedence; return (lr, source).

    1. an explicit value (e.g. a node parameter > 0) overrides everything;
    2. else the rate saved with the optimizer state, when one was restored;
    3. else the config default.
    """
    if explicit is not None and explicit > 0:
        lr, source = float(explicit), 'explicit'
    elif restored:
        lr, source = float(optimizer.param_groups[0]['lr']), 'checkpoint'
    else:
        lr, source = float(config_default), 'config'
    for group in optimizer.param_groups:
        group['lr'] = lr
    return lr, source
