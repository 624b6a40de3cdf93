"""config/jetbot.yaml as shipped: sim.yaml's stack with the sim replaced by camera + jetbot.

The motors are the real RPyC server with emulated motors on 127.0.0.1 (the default remote
backend and host), the camera a video file; every other parameter is the file's own.
"""
import json
from pathlib import Path
import subprocess
import sys

from camera_video import write_video
from jetbot_emulator import EmulatedJetBot
from nanobot_ros.data.bags import find_bags
from nanobot_ros.stack_config import node_parameters, stack_nodes
from repo_paths import ROOT

CONFIG = ROOT / 'config' / 'jetbot.yaml'


def test_jetbot_yaml_keeps_the_sim_stack_and_uses_the_guarded_backend():
    assert stack_nodes(CONFIG) == ['recorder', 'camera', 'jetbot', 'world_model']
    jetbot = node_parameters(CONFIG, 'jetbot')
    assert (jetbot['backend'], jetbot['host']) == ('remote', '127.0.0.1')
    assert node_parameters(CONFIG, 'recorder')['robot_type'] == 'jetbot'


def test_jetbot_stack_drives_the_server_and_records(ros_domain, tmp_path):
    robot = EmulatedJetBot(tmp_path).start()
    video = write_video(tmp_path / 'clip.avi', frames=30, width=320, height=180)
    try:
        result = subprocess.run(
            [sys.executable, '-m', 'nanobot_ros.stack', '--config', str(CONFIG),
             '--duration', '20', '--runs', str(tmp_path / 'runs'),
             '--set', f'jetbot.port={robot.port}',
             '--set', f'camera.source={video}', '--set', 'camera.loop=true',
             '--set', f'world_model.checkpoint_dir={tmp_path / "checkpoints"}',
             '--set', 'world_model.wandb_project=""',
             '--set', 'world_model.reconstruction_threshold=1.0'],
            capture_output=True, text=True, timeout=240)
    finally:
        robot.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    summary = json.loads((run_dir / 'summary.json').read_text())
    for name, node in summary['nodes'].items():
        assert node['status'] == 'ok', (name, node)
    sent = summary['world_model']['actions_sent']
    jetbot = summary['nodes']['jetbot']['values']
    assert sent > 0 and jetbot['actions_received'] > 0, summary
    assert jetbot['actions_rejected'] == 0
    # The world model's action 1 reached the motors as the reference's motor_right 0.12 ...
    host_rows = [row for row in robot.rows() if row['source'] == 'host']
    assert any(row['right'] == 0.12 for row in host_rows), host_rows[-5:]
    # ... and the stack left them at 0 when it stopped.
    assert robot.last() == (0.0, 0.0)
    session = Path(summary['session'])
    assert session.parent == run_dir / 'sessions' / 'jetbot'
    assert find_bags(session) and summary['messages_written'] > 30, summary
    assert summary['messages_dropped'] == 0
