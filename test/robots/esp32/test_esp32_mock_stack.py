"""The mock ESP32 stack (config/esp32_mock.yaml) runs: emulator + bridge + recorder."""
import json
from pathlib import Path

from bag_fixtures import Diagnostics
from nanobot_ros.data.bags import find_bags
from repo_paths import ROOT
from stack_run import run_stack_until


def test_mock_stack_runs_and_reports(ros, tmp_path):
    link = tmp_path / 'ttyESP32'
    diagnostics = Diagnostics(ros)

    def ran_enough():  # what the checks below count, as the nodes report it while running
        return (diagnostics.values('esp32_bridge').get('telemetry_published', 0) > 100
                and diagnostics.values('esp32_emulator').get('heartbeats_received', 0) > 10
                and diagnostics.recorder(tmp_path).get('messages_written', 0) > 300)
    # The stack runs until the nodes report that much, not for a fixed time: on a busy machine
    # start-up and discovery take a varying share of any fixed one.
    result = run_stack_until(ros, ['--config', str(ROOT / 'config' / 'esp32_mock.yaml'),
                                   '--runs', str(tmp_path / 'runs'),
                                   '--set', f'esp32_emulator.link={link}',
                                   '--set', f'esp32_bridge.port={link}'], ran_enough)
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    summary = json.loads((run_dir / 'summary.json').read_text())
    bridge = summary['nodes']['esp32_bridge']
    assert bridge['exit_code'] == 0 and bridge['status'] == 'ok', bridge
    assert bridge['values']['telemetry_published'] > 100
    assert bridge['values']['frames_bad'] == 0
    emulator = summary['nodes']['esp32_emulator']
    assert emulator['exit_code'] == 0
    assert emulator['values']['heartbeats_received'] > 10
    # The recorder keeps the run: telemetry, joint states and IMU at the emulator's 200 Hz.
    recorder = summary['nodes']['recorder']
    assert recorder['status'] == 'ok', recorder
    session = Path(summary['session'])
    assert session.parent == run_dir / 'sessions' / 'esp32'
    assert find_bags(session) and summary['messages_written'] > 300, summary
    assert summary['messages_dropped'] == 0
