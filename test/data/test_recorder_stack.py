"""The sim stacks record by default: summary.json names the bag and its counts."""
import json
from pathlib import Path
import subprocess
import sys

from nanobot_ros.data.bags import Bag, find_bags
from nanobot_ros.data.dataset import BagDataset
from repo_paths import ROOT


def test_sim_stack_records_into_its_run_folder(ros_domain, tmp_path):
    result = subprocess.run(
        [sys.executable, '-m', 'nanobot_ros.stack', '--config',
         str(ROOT / 'config' / 'sim_runner.yaml'), '--duration', '5', '--runs', str(tmp_path)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    summary = json.loads((run_dir / 'summary.json').read_text())
    recorder = summary['nodes']['recorder']
    assert recorder['status'] == 'ok', recorder
    session = Path(summary['session'])
    assert session.parent == run_dir / 'sessions' / 'toroidal_dot'
    assert summary['messages_written'] == recorder['values']['messages_written'] > 30, summary
    assert summary['messages_dropped'] == 0, summary
    [split] = find_bags(session)
    assert summary['bags'] == [str(split)]
    assert Bag(split).message_count == summary['messages_written']
    data = BagDataset(session)
    assert len(data) > 10 and not data.skipped, (len(data), data.skipped, summary)
    assert data[0].observation.shape == (224, 224, 3)
    # The stack's own config travels with the session.
    assert 'move_pixels' in data.bags[0].custom_data['nanobot.config']
