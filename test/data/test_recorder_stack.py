"""The sim stacks record by default: summary.json names the bag and its counts."""
import json
from pathlib import Path

from bag_fixtures import Diagnostics
from nanobot_ros.contract import ACTION, IMAGE
from nanobot_ros.data.bags import Bag, find_bags
from nanobot_ros.data.dataset import BagDataset
from repo_paths import ROOT
from stack_run import run_stack_until


def test_sim_stack_records_into_its_run_folder(ros, tmp_path):
    diagnostics = Diagnostics(ros)

    def recorded_enough():  # for the checks below: over 30 messages, over 10 transitions
        written = diagnostics.recorder(tmp_path).get('topics', {})
        return all(written.get(topic, {}).get('written', 0) > 15
                   for topic in (IMAGE.fqn(), ACTION.fqn()))
    # The stack runs until its recorder reports that many frames and actions written: how soon
    # it discovers the topics depends on the machine's load (a fixed 5 s run recorded 24
    # messages on a busy one).
    result = run_stack_until(ros, ['--config', str(ROOT / 'config' / 'sim_runner.yaml'),
                                   '--runs', str(tmp_path)], recorded_enough)
    assert result.returncode == 0, result.stderr[-3000:]
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
