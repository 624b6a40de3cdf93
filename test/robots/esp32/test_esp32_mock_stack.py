"""The mock ESP32 stack (config/esp32_mock.yaml) runs: emulator + bridge + recorder."""
import json
from pathlib import Path

from nanobot_ros import stack
from nanobot_ros.data.bags import find_bags
from repo_paths import ROOT


def test_mock_stack_runs_and_reports(ros_domain, tmp_path, capsys):
    link = tmp_path / 'ttyESP32'
    stack.main(['--config', str(ROOT / 'config' / 'esp32_mock.yaml'), '--duration', '4',
                '--runs', str(tmp_path / 'runs'),
                '--set', f'esp32_emulator.link={link}', '--set', f'esp32_bridge.port={link}'])
    run_dir = Path(capsys.readouterr().out.strip().splitlines()[-1])
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
