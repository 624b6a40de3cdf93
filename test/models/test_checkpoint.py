"""safetensors checkpoints: round trip with optimizer, rolling backup, corrupt primary."""
import logging

import pytest
import torch

from nanobot_ros.models.checkpoint import (backup_path, CheckpointError, load_checkpoint,
                                           optimizer_from_tensors, optimizer_to_tensors,
                                           prefixed, resolve_learning_rate, save_checkpoint,
                                           unprefixed)


def _trained_model_and_optimizer(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.8, 0.99))
    for _ in range(3):
        loss = model(torch.randn(5, 4)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model, optimizer


def _save(path, model, optimizer, step):
    optim_tensors, optim_meta = optimizer_to_tensors(optimizer)
    tensors = {**prefixed('model', model.state_dict()), **prefixed('optim', optim_tensors)}
    return save_checkpoint(path, tensors, {'step': step, 'optim': optim_meta})


def test_round_trip_restores_weights_optimizer_and_metadata(tmp_path):
    model, optimizer = _trained_model_and_optimizer()
    path = _save(tmp_path / 'wm.safetensors', model, optimizer, 3)
    loaded = load_checkpoint(path)
    assert loaded.metadata['step'] == 3 and not loaded.from_backup
    fresh, fresh_optimizer = _trained_model_and_optimizer(seed=1)
    fresh.load_state_dict(unprefixed('model', loaded.tensors))
    optimizer_from_tensors(fresh_optimizer, unprefixed('optim', loaded.tensors),
                           loaded.metadata['optim'])
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)
    # The restored optimizer takes the same next step as the original one.
    batch = torch.randn(5, 4)
    for m, o in ((model, optimizer), (fresh, fresh_optimizer)):
        loss = m(batch).pow(2).mean()
        o.zero_grad()
        loss.backward()
        o.step()
    for a, b in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(a, b)
    assert fresh_optimizer.param_groups[0]['betas'] == (0.8, 0.99)
    assert not (tmp_path / 'wm.safetensors.tmp').exists()


def test_previous_primary_becomes_the_backup(tmp_path):
    path = tmp_path / 'wm.safetensors'
    save_checkpoint(path, {'w': torch.zeros(2)}, {'step': 1})
    assert not backup_path(path).exists()
    save_checkpoint(path, {'w': torch.ones(2)}, {'step': 2})
    assert backup_path(path).name == 'wm_backup.safetensors'
    assert load_checkpoint(backup_path(path)).metadata['step'] == 1
    assert load_checkpoint(path).metadata['step'] == 2


def test_corrupt_primary_falls_back_to_backup_with_a_warning(tmp_path, caplog):
    path = tmp_path / 'wm.safetensors'
    save_checkpoint(path, {'w': torch.zeros(3)}, {'step': 1})
    save_checkpoint(path, {'w': torch.ones(3)}, {'step': 2})
    path.write_bytes(path.read_bytes()[:40])  # a torn write
    with caplog.at_level(logging.WARNING):
        loaded = load_checkpoint(path)
    assert loaded.from_backup and loaded.metadata['step'] == 1
    assert torch.equal(loaded.tensors['w'], torch.zeros(3))
    assert 'loaded backup' in caplog.text
    # Saving over a corrupt primary must not push it into the good backup.
    save_checkpoint(path, {'w': torch.full((3,), 2.0)}, {'step': 3})
    assert load_checkpoint(backup_path(path)).metadata['step'] == 1


def test_missing_files_mean_fresh_start_and_garbage_is_an_error(tmp_path):
    path = tmp_path / 'wm.safetensors'
    assert load_checkpoint(path) is None
    path.write_bytes(b'\x80\x04not a safetensors file')
    with pytest.raises(CheckpointError, match='not a readable safetensors'):
        load_checkpoint(path)


def test_learning_rate_precedence_explicit_then_saved_then_config():
    model, optimizer = _trained_model_and_optimizer()
    optimizer.param_groups[0]['lr'] = 5e-4  # as restored from a checkpoint
    assert resolve_learning_rate(optimizer, 2e-3, 1e-3, restored=True) == (2e-3, 'explicit')
    optimizer.param_groups[0]['lr'] = 5e-4
    assert resolve_learning_rate(optimizer, None, 1e-3, restored=True) == (5e-4, 'checkpoint')
    assert resolve_learning_rate(optimizer, 0.0, 1e-3, restored=False) == (1e-3, 'config')
    assert optimizer.param_groups[0]['lr'] == 1e-3
