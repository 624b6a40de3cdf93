"""Continuous replay: the world model trains on a recorded session until the loss plateaus."""
import json

from bag_fixtures import write_session_bag
from nanobot_ros.cli.world_model_replay import main
from nanobot_ros.models.checkpoint import load_checkpoint

FRESH_16PX = ['--img-size', '16', '--patch-size', '8', '--embed-dim', '32', '--depth', '1',
              '--predictor-depth', '1', '--batch-size', '2', '--reconstruction-threshold', '1']


def test_replay_until_plateau_then_resume(tmp_path, capsys):
    bag = write_session_bag(tmp_path / 'session', steps=8)
    checkpoints = tmp_path / 'checkpoints'
    args = [str(bag), '--checkpoint-dir', str(checkpoints), '--patience', '1',
            '--min-delta', '10', '--min-epochs', '2', '--max-epochs', '5', *FRESH_16PX]
    assert main(args) == 0
    out = capsys.readouterr().out
    summary = json.loads(out.strip().splitlines()[-1])
    # min_delta 10 means no epoch ever improves enough: stop right at min_epochs.
    assert summary['epochs'] == 2 and summary['stopped'] and 'plateau' in summary['reason']
    assert 'epoch 1: predictor_training_loss' in out and 'loss history: ' in out
    first_steps = summary['predictor_training_step']
    assert first_steps == 2 * 7  # 7 transitions per epoch, one learner step each
    assert load_checkpoint(checkpoints / 'world_model.safetensors').metadata[
        'predictor_training_step'] == first_steps

    # The second run resumes the checkpoint (its configuration wins over the arguments).
    assert main([*args, '--max-epochs', '2', '--patch-size', '4']) == 0
    resumed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert resumed['predictor_training_step'] == first_steps + 2 * 7


def test_action_filter_and_missing_sessions(tmp_path, capsys):
    bag = write_session_bag(tmp_path / 'session', steps=8)
    args = ['--checkpoint-dir', str(tmp_path / 'ck'), '--max-epochs', '1', '--min-epochs', '1',
            *FRESH_16PX]
    assert main([str(bag), '--filter-action', 'index=1', *args]) == 0
    out = capsys.readouterr().out
    assert '3 samples' in out.splitlines()[0]  # odd steps 1, 3, 5 (7 has no next frame)
    assert main([str(tmp_path / 'nothing'), *args]) == 2
    assert 'does not exist' in capsys.readouterr().err
