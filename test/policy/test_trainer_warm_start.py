"""`nanobot train --init`: a run starts from another checkpoint's weights, saying what is new."""
import json

import torch

from nanobot_ros.policy.weights import load_policy
from trainer_fixtures import demo_bags, run, train_command


def test_mean_checkpoint_warm_starts_a_cross_run(tmp_path):
    data = demo_bags(tmp_path / 'demos', episodes=4)
    first = run(train_command(data, tmp_path / 'mean', '--max-steps', '3'))
    assert first.returncode == 0, first.stdout + first.stderr
    init = tmp_path / 'mean' / 'policy.safetensors'
    command = train_command(data, tmp_path / 'cross', '--max-steps', '2', '--init', str(init),
                            '--set', 'text_condition="cross"')
    second = run(command)
    assert second.returncode == 0, second.stdout + second.stderr
    # 45: the policy holds a ViTEncoder, not a whole MAE (9 decoder tensors fewer than before).
    assert (f"warm start from {init}: 45 tensors loaded (config differences: text_condition: "
            "expected 'cross', file has 'mean')") in second.stderr
    assert ('of them zero-initialised (start at zero, so the policy starts computing what the '
            'checkpoint does): text_block.norm1.bias, text_block.norm2.bias, '
            'text_cross.norm.bias, text_cross.out.weight, text_cross.out.bias') in second.stderr
    summary = json.loads((tmp_path / 'cross' / 'summary.json').read_text())
    assert (summary['steps'], summary['resumed_from_step']) == (2, None)
    mean, _ = load_policy(init)
    cross, _ = load_policy(tmp_path / 'cross' / 'policy.safetensors')
    assert cross.config.text_condition == 'cross'
    # the checkpoint's normalization is kept, not refitted
    assert torch.equal(cross.action_norm.high, mean.action_norm.high)
    # Rerun: the run directory's own checkpoint wins over --init (resumable like any run).
    third = run([*command[:command.index('--max-steps') + 1], '4',
                 *command[command.index('--max-steps') + 2:]])
    assert third.returncode == 0, third.stdout + third.stderr
    assert 'warm start' not in third.stderr
    assert f'resumed from {tmp_path / "cross" / "policy.safetensors"}: step 2' in third.stderr


def test_init_of_a_missing_file_is_a_clear_error(tmp_path):
    data = demo_bags(tmp_path / 'demos', episodes=2)
    result = run(train_command(data, tmp_path / 'run', '--max-steps', '1', '--init',
                               str(tmp_path / 'nope.safetensors')))
    assert result.returncode == 1
    assert f'[ERROR] {tmp_path / "nope.safetensors"}: no policy checkpoint' in result.stdout
