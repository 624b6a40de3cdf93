"""The room robot in a stack over DDS: room + runner (+ recorder) for some 10 frames.

The runner answers every frame with 'forward' (action 1, the room's table row 1: both motors
0.4 for 0.2 s); the room steps in lockstep, so each answered frame moves the robot 4 cm until
it reaches a wall. The recorder keeps odom and the room's layout for the run report.
"""
import json
import math
from pathlib import Path

import yaml

from bag_fixtures import Diagnostics
from nanobot_ros.contract import ACTION, IMAGE, ODOM, ROOM_LAYOUT
from nanobot_ros.data.bags import Bag, find_bags
from nanobot_ros.explorer.sessions import list_sessions, Session
from nanobot_ros.stack_config import node_parameters, stack_nodes
from repo_paths import ROOT
from stack_run import run_stack_until


def test_room_yaml_is_the_jetbot_stack_with_the_room_robot():
    config = ROOT / 'config' / 'room.yaml'
    assert stack_nodes(config) == ['recorder', 'foxglove', 'room', 'world_model']
    world_model = node_parameters(config, 'world_model')
    assert world_model['actions'] == [0, 1, 2, 3, 4] and world_model['img_size'] == 64
    assert node_parameters(config, 'room')['img_size'] == 64
    assert node_parameters(config, 'recorder')['robot_type'] == 'room'


def test_room_and_runner_drive_forward_and_record(ros, tmp_path):
    config = tmp_path / 'room_runner.yaml'
    config.write_text(yaml.safe_dump({
        'recorder': {'ros__parameters': {'robot_type': 'room', 'topics': [
            'camera/image_raw', 'robot/action', 'robot/action_executed', 'odom',
            'room/layout']}},
        'room': {'ros__parameters': {'frame_rate': 10.0, 'seed': 2, 'shadow_size': 0}},
        'runner': {'ros__parameters': {'selector': 'always_move'}}}))
    diagnostics = Diagnostics(ros)

    def ran_enough():  # for the checks below: 10 frames, 5 answered ones and the path recorded
        written = diagnostics.recorder(tmp_path).get('topics', {})
        return diagnostics.values('room').get('frames', 0) >= 10 and all(
            written.get(topic.fqn(), {}).get('written', 0) >= count
            for topic, count in ((IMAGE, 6), (ACTION, 6), (ODOM, 6), (ROOM_LAYOUT, 1)))
    # The stack runs until the room and the recorder report that much, not for a fixed time:
    # on a busy machine start-up (MuJoCo, the GL context) and discovery take a varying share.
    result = run_stack_until(ros, ['--config', str(config), '--runs', str(tmp_path / 'runs')],
                             ran_enough)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    summary = json.loads((run_dir / 'summary.json').read_text())
    for name, node in summary['nodes'].items():
        assert node['status'] == 'ok', (name, node)
    room = summary['nodes']['room']['values']
    assert room['frames'] >= 10 and room['actions_rejected'] == 0, room
    assert room['action_counts'] == {'1': room['actions_applied']}, room

    bag = Bag(find_bags(Path(summary['session']))[0])
    poses = [(m.pose.pose.position.x, m.pose.pose.position.y)
             for m in map(bag.decode, bag.records([ODOM.fqn()]))]
    layout = json.loads(bag.decode(next(bag.records([ROOM_LAYOUT.fqn()]))).data)
    assert layout['room_size'] == [2.0, 2.0] and len(layout['objects']) == 6
    travelled = math.dist(poses[0], poses[-1])
    steps = room['actions_applied']
    # 4 cm per forward step until a wall or an object stops it; never more
    assert 0.03 < travelled <= 0.041 * steps, (travelled, steps)
    # the run report draws that path over the room
    assert (run_dir / 'room_path.png').stat().st_size > 1000
    assert 'room_path.png' in (run_dir / 'report.md').read_text()

    # the session explorer opens the room session: frames answered by 'forward'
    sessions = run_dir / 'sessions'
    listed = list_sessions(sessions)
    assert [s['robot_type'] for s in listed] == ['room']
    session = Session(sessions, listed[0]['id'])
    assert len(session) >= 5 and set(session.describe()['actions']) == {1}
