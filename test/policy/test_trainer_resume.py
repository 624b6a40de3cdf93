"""A trainer killed mid-epoch resumes at its checkpoint and finishes the same schedule."""
import json
import math
import subprocess
import time

from nanobot_ros.models.checkpoint import load_checkpoint
from trainer_fixtures import demo_bags, run, train_command


def test_killed_mid_epoch_resumes(tmp_path):
    data = demo_bags(tmp_path / 'demos', episodes=60)
    run_dir = tmp_path / 'run'
    command = train_command(data, run_dir, '--batch-size', '8', '--checkpoint-every', '2',
                            '--max-epochs', '2')
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    killed_at = None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and first.poll() is None:
        checkpoint = (run_dir / 'policy.safetensors').exists() and \
            load_checkpoint(run_dir / 'policy.safetensors')
        if checkpoint and checkpoint.metadata['training']['position'] > 0:
            first.kill()  # SIGKILL: no chance to save anything more
            killed_at = checkpoint.metadata['training']
            break
        time.sleep(0.02)
    first.wait(timeout=30)
    assert killed_at is not None, 'the trainer finished before a mid-epoch checkpoint'

    second = run(command)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f'resumed from {run_dir / "policy.safetensors"}' in second.stderr
    summary = json.loads((run_dir / 'summary.json').read_text())
    assert summary['resumed_from_step'] >= killed_at['step'] > 0
    batches_per_epoch = math.ceil(summary['samples'] / 8)
    assert summary['steps'] == 2 * batches_per_epoch and summary['epochs'] == 2
    # The run ends with its report (test_report.py checks what is in one).
    assert f'report: {run_dir / "report.html"}' in second.stdout
    report = (run_dir / 'report.md').read_text()
    assert '| epochs | 2 |' in report and '| sampler | steps | max abs difference |' in report
