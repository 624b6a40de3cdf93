"""`nanobot grpo` under torchrun (2 CPU processes, gloo) computes what one process does."""
import json
import sys

import torch

from nanobot_ros.policy.weights import load_policy, save_policy
from policy_fixtures import tiny_policy
from trainer_fixtures import run


def grpo_command(init, run_dir, launcher=()) -> list:
    """`nanobot grpo` on the 'targets' task (5 x 5 cells, 12 steps): 2 iterations of 4 groups."""
    return [*launcher, *([] if launcher else [sys.executable]), '-m', 'nanobot_ros.cli', 'grpo',
            str(init), '--run-dir', str(run_dir), '--task', 'targets', '--start-states', '4',
            '--group-size', '4', '--minibatches', '2', '--max-iterations', '2', '--lr', '3e-3',
            '--kl-coef', '0.05', '--no-wandb', '--no-progress']


def test_two_processes_take_the_same_steps_as_one(tmp_path):
    policy = tiny_policy(head='categorical', image_size=24, max_text_len=24)
    with torch.no_grad():  # mostly 'stay': episodes of several lengths, some failing
        policy.head[-1].bias[0] = 1.0
    save_policy(tmp_path / 'bc.safetensors', policy)
    one = run(grpo_command(tmp_path / 'bc.safetensors', tmp_path / 'one'))
    assert one.returncode == 0, one.stdout + one.stderr
    launcher = [sys.executable, '-m', 'torch.distributed.run', '--standalone',
                '--nproc_per_node', '2']
    two = run(grpo_command(tmp_path / 'bc.safetensors', tmp_path / 'two', launcher))
    assert two.returncode == 0, two.stdout + two.stderr
    summaries = [json.loads((tmp_path / name / 'summary.json').read_text())
                 for name in ('one', 'two')]
    assert [s['world_size'] for s in summaries] == [1, 2]
    assert summaries[0]['env_steps'] == summaries[1]['env_steps']  # the same episodes
    (a, meta_a), (b, meta_b) = [load_policy(tmp_path / name / 'grpo.safetensors')
                                for name in ('one', 'two')]
    history_a, history_b = meta_a.metadata['grpo']['history'], meta_b.metadata['grpo']['history']
    assert [h['success'] for h in history_a] == [h['success'] for h in history_b]
    assert all(h['kept_steps'] > 0 and h['kl'] > 0 for h in history_a[1:])
    moved = max(float((p - q).abs().max())
                for p, q in zip(a.state_dict().values(), policy.state_dict().values()))
    assert moved > 1e-2
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        if name.endswith('attn.qkv.bias'):  # the key bias: see key_bias_free
            p, q = key_bias_free(p), key_bias_free(q)
        assert float((p - q).abs().max()) <= 1e-6, name  # stated tolerance; measured <= 1.2e-7


def key_bias_free(qkv_bias: torch.Tensor) -> torch.Tensor:
    """Return the query and value thirds of a qkv bias.

    The key bias adds the same number to every score of a query, which the softmax cancels: its
    gradient is zero but for rounding, and AdamW divides that rounding by its own size, so the
    two runs move it by lr-sized steps of unrelated sign (measured: 4.7e-4 apart at lr 3e-3).
    """
    third = len(qkv_bias) // 3
    return torch.cat([qkv_bias[:third], qkv_bias[2 * third:]])
