"""`./run.sh sim`'s stack runner: nodes as processes, progress, a run folder with summary.json."""
import json
from pathlib import Path
import subprocess
import sys

from repo_paths import ROOT


def test_stack_writes_a_consistent_summary(ros_domain, tmp_path):
    result = subprocess.run(
        [sys.executable, '-m', 'nanobot_ros.stack', '--config',
         str(ROOT / 'config' / 'sim_runner.yaml'),
         '--duration', '6', '--runs', str(tmp_path), '--set', 'runner.selector=alternate'],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path
    summary = json.loads((run_dir / 'summary.json').read_text())
    assert (run_dir / 'config.yaml').is_file() and (run_dir / 'logs' / 'sim.log').is_file()
    assert summary['nodes']['sim']['status'] == 'ok'
    assert summary['nodes']['runner']['status'] == 'ok'
    assert summary['nodes']['runner']['values']['selector'] == 'alternate'
    assert summary['frames'] > 30
    # The runner stops before the sim, so every action it sent reached the sim; all but the
    # few that answered frames of the start-up race were applied (lockstep).
    runner = summary['nodes']['runner']['values']
    assert summary['actions'] == runner['action_count']
    assert summary['actions'] - 3 <= summary['actions_applied'] <= summary['actions']
    assert sum(summary['action_counts'].values()) == summary['actions_applied']
    assert abs(summary['action_counts']['0'] - summary['action_counts']['1']) <= 1
    assert summary['frames_per_s'] > 5
    # The rate is over the time the sim published, which outlasts --duration by the shutdown.
    assert 6 * 0.8 < summary['publishing_s'] < 6 + 30, summary
    assert 0 < summary['observed']['frames'] <= summary['frames']
    # Every run ends with its report (test_report.py checks what is in it).
    assert f'[stack] report: {run_dir / "report.html"}' in result.stderr
    report = (run_dir / 'report.md').read_text()
    assert f'| frames | {summary["frames"]} |' in report
    assert '| runner | ok | 0 | ok | running |' in report
