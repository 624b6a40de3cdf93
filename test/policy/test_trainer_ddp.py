"""`nanobot train` runs unchanged under torchrun: 2 CPU processes, DDP on gloo."""
import json
import sys

from nanobot_ros.policy.weights import load_policy
from trainer_fixtures import demo_bags, run, train_command


def test_torchrun_two_processes(tmp_path):
    data = demo_bags(tmp_path / 'demos', episodes=10)
    run_dir = tmp_path / 'run'
    launcher = [sys.executable, '-m', 'torch.distributed.run', '--standalone',
                '--nproc_per_node', '2']
    result = run(train_command(data, run_dir, '--max-epochs', '1', '--batch-size', '8',
                               launcher=launcher))
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((run_dir / 'summary.json').read_text())
    assert summary['world_size'] == 2 and summary['steps'] > 0
    policy, checkpoint = load_policy(run_dir / 'policy.safetensors')
    assert checkpoint.metadata['training']['world_size'] == 2
    assert policy.config.n_embd == 16
