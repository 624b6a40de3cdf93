"""`./run.sh sim` runs the world model: summary.json has its figures, the run folder its PNGs."""
import json
from pathlib import Path
import subprocess
import sys

from repo_paths import ROOT


def test_sim_stack_runs_the_world_model(ros_domain, tmp_path):
    checkpoints = tmp_path / 'checkpoints'
    result = subprocess.run(
        [sys.executable, '-m', 'nanobot_ros.stack', '--config', str(ROOT / 'config' / 'sim.yaml'),
         '--duration', '25', '--runs', str(tmp_path / 'runs'),
         '--set', f'world_model.checkpoint_dir={checkpoints}',
         '--set', 'world_model.reconstruction_threshold=1.0',
         # A loaded machine may keep an answer longer than the default 0.5 s watchdog: this
         # test is about the pipeline, so only the DDS start-up race may cost actions.
         '--set', 'sim.action_timeout=5.0',
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
    # Lockstep: the sim got and applied every action but those of the DDS start-up race (an
    # action sent before its subscription matched is lost: COMMAND keeps no history).
    assert figures['actions_sent'] - 3 <= summary['actions'] <= figures['actions_sent'], \
        (figures, summary)
    assert summary['actions_applied'] >= summary['actions'] - 3, summary
    # An action the sim did not apply (late: it stepped idle after action_timeout) is the only
    # way a reported step differs from what was sent: labelled as executed, counted as missed.
    missed = node['values']['answers_missed']
    assert missed <= summary['actions'] - summary['actions_applied'], (missed, summary)
    assert (run_dir / 'world_model_learning_curve.png').stat().st_size > 1000
    assert (run_dir / 'world_model_predictions.png').stat().st_size > 1000
    assert (checkpoints / 'world_model.safetensors').is_file()
    assert list((run_dir / 'wandb').glob('offline-run-*')), 'no offline W&B run'
