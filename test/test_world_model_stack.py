"""`./run.sh sim` runs the world model: summary.json has its figures, the run folder its PNGs."""
import json
from pathlib import Path
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[1]


def test_sim_stack_runs_the_world_model(ros_domain, tmp_path):
    checkpoints = tmp_path / 'checkpoints'
    result = subprocess.run(
        [sys.executable, '-m', 'nanobot_ros.stack', '--config', str(ROOT / 'config' / 'sim.yaml'),
         '--duration', '25', '--runs', str(tmp_path / 'runs'),
         '--set', f'world_model.checkpoint_dir={checkpoints}',
         '--set', 'world_model.reconstruction_threshold=1.0',
         '--set', 'foxglove.port=0'],  # 8765 may be another stack's
        capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    summary = json.loads((run_dir / 'summary.json').read_text())
    node = summary['nodes']['world_model']
    assert node['status'] == 'ok', node
    figures = summary['world_model']
    assert figures['actions_sent'] > 0 and figures['predictor_training_step'] > 0, figures
    assert figures['frames_rejected'] == 0
    assert summary['actions'] == figures['actions_sent']
    # Lockstep: the sim applied every action but those of the DDS start-up race.
    assert summary['actions_applied'] >= summary['actions'] - 3, summary
    assert node['values']['answers_missed'] == 0  # every transition labelled as applied
    assert (run_dir / 'world_model_learning_curve.png').stat().st_size > 1000
    assert (run_dir / 'world_model_predictions.png').stat().st_size > 1000
    assert (checkpoints / 'world_model.safetensors').is_file()
    assert list((run_dir / 'wandb').glob('offline-run-*')), 'no offline W&B run'
