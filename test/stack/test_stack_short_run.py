"""A stack run shorter than its nodes' start-up stops them only once it heard each one.

On a busy machine discovery takes seconds, and a node the stack's monitor has not heard when
the run ends would be 'failed: no report' in summary.json though it ran fine. The stack waits
for every running node's first report (at most 30 s) before stopping them: a 0.1 s run, shorter
than any node's start-up, still ends with every node ok and its report.
"""
import json
from pathlib import Path
import subprocess
import sys


def test_a_run_shorter_than_start_up_waits_for_each_node_report(ros_domain, tmp_path):
    config = tmp_path / 'stack.yaml'
    config.write_text('sim:\n  ros__parameters:\n    frame_rate: 5.0\n'
                      'runner:\n  ros__parameters: {}\n')
    result = subprocess.run(
        [sys.executable, '-m', 'nanobot_ros.stack', '--config', str(config), '--duration', '0.1',
         '--runs', str(tmp_path / 'runs')], capture_output=True, text=True, timeout=120)
    assert '[stack] waiting up to 30 s for the first report of sim, runner\n' in result.stderr, \
        result.stderr
    assert result.returncode == 0, result.stderr
    summary = json.loads((Path(result.stdout.strip().splitlines()[-1]) / 'summary.json')
                         .read_text())
    # ok: exit code 0 and a report of level ok or warn (never heard: level 'none', failed).
    assert {name: (node['status'], node['exit_code']) for name, node in summary['nodes'].items()} \
        == {'sim': ('ok', 0), 'runner': ('ok', 0)}, summary['nodes']
    assert summary['duration_s'] < 1, summary
