"""The sim stacks record by default: summary.json names the bag and its counts."""
import json
from pathlib import Path
import signal
import subprocess
import sys

from bag_fixtures import Diagnostics
from nanobot_ros.contract import ACTION, IMAGE
from nanobot_ros.data.bags import Bag, find_bags
from nanobot_ros.data.dataset import BagDataset
from repo_paths import ROOT


def test_sim_stack_records_into_its_run_folder(ros, tmp_path):
    diagnostics = Diagnostics(ros)

    def recorded_enough():  # for the checks below: over 30 messages, over 10 transitions
        written = diagnostics.recorder(tmp_path).get('topics', {})
        return all(written.get(topic, {}).get('written', 0) > 15
                   for topic in (IMAGE.fqn(), ACTION.fqn()))
    # The stack runs until its recorder reports that many frames and actions written, then stops
    # as on Ctrl-C: how soon the recorder discovers the topics depends on the machine's load (a
    # fixed 5 s run recorded 24 messages on a busy one); --duration only bounds a run that never
    # gets there.
    stack = subprocess.Popen(
        [sys.executable, '-m', 'nanobot_ros.stack', '--config',
         str(ROOT / 'config' / 'sim_runner.yaml'), '--duration', '120', '--runs', str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ros.spin_until(lambda: stack.poll() is not None or recorded_enough(), 110)
    finally:
        stack.send_signal(signal.SIGINT)
        stdout, stderr = stack.communicate(timeout=120)
    assert stack.returncode == 0, stderr[-3000:]
    run_dir = Path(stdout.strip().splitlines()[-1])
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
