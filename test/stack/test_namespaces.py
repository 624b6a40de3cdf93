"""Whole stacks under ROS namespaces: two sims on one domain stay apart and record their own."""
import json
from pathlib import Path

from bag_fixtures import Diagnostics, write_session_bag
from nanobot_ros.contract import ACTION, ACTION_EXECUTED, COMMAND, IMAGE, SENSOR
from nanobot_ros.data.bags import Bag, find_bags
from nanobot_ros.data.dataset import BagDataset
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Action
from repo_paths import ROOT
from sensor_msgs.msg import Image
from stack_run import run_stacks_until

# Each robot's runner sends only its own action: cross-talk would show in the other's counts.
SELECTORS = {'robot1': 'always_move', 'robot2': 'always_stay'}
ACTIONS = {'robot1': '1', 'robot2': '0'}


def test_two_sim_stacks_in_two_namespaces_stay_apart(ros, tmp_path):
    diagnostics = {namespace: Diagnostics(ros, f'/{namespace}') for namespace in SELECTORS}

    def recorded_enough():  # for the checks below: over 20 messages, over 10 transitions
        for namespace, heard in diagnostics.items():
            written = heard.recorder(tmp_path / namespace).get('topics', {})
            if not all(written.get(topic.fqn(f'/{namespace}'), {}).get('written', 0) > 15
                       for topic in (IMAGE, ACTION)):
                return False
        return True
    # The stacks run until both recorders report that many frames and actions written: how
    # soon six nodes start and discover each other depends on the machine's load.
    stacks = run_stacks_until(ros, [
        ['--config', str(ROOT / 'config' / 'sim_runner.yaml'), '--namespace', namespace,
         '--runs', str(tmp_path / namespace), '--set', f'runner.selector={selector}',
         '--set', 'sim.img_size=32', '--set', 'sim.move_pixels=4', '--set', 'sim.dot_radius=2']
        for namespace, selector in SELECTORS.items()], recorded_enough)
    for namespace, result in zip(SELECTORS, stacks):
        assert result.returncode == 0, result.stderr[-3000:]
        run_dir = Path(result.stdout.strip().splitlines()[-1])
        assert run_dir.parent == tmp_path / namespace
        summary = json.loads((run_dir / 'summary.json').read_text())
        runner = summary['nodes']['runner']['values']
        assert runner['selector'] == SELECTORS[namespace]  # its own runner's report
        # Every action this sim received came from its own runner, and only its action.
        assert summary['actions'] == runner['action_count'] > 10, summary
        assert list(summary['action_counts']) == [ACTIONS[namespace]], summary
        assert 0 < summary['observed']['frames'] <= summary['frames']
        # Its own recorder's report (the diagnostics stayed in the namespace), its own bag.
        session = Path(summary['session'])
        assert session.parent == run_dir / 'sessions' / 'toroidal_dot'
        [split] = find_bags(session)
        bag = Bag(split)
        assert sorted(bag.topics) == [f'/{namespace}/camera/image_raw',
                                      f'/{namespace}/robot/action']
        assert bag.message_count == summary['messages_written'] > 20, summary
        assert bag.topics[ACTION.fqn(f'/{namespace}')].count <= runner['action_count']
        assert bag.topics[IMAGE.fqn(f'/{namespace}')].count <= summary['frames']
        data = BagDataset(session)
        assert len(data) > 10 and not data.skipped
        assert {data[i].action_index for i in range(len(data))} == {int(ACTIONS[namespace])}
        assert data[0].observation.shape == (32, 32, 3)


def test_replay_plays_a_namespaced_bag_by_relative_names(ros, nodes, tmp_path):
    write_session_bag(tmp_path / 'bag', steps=10, namespace='/robot1')
    actions = []
    ros.node.create_subscription(Action, ACTION.fqn('/robot1'), actions.append,
                                 qos_profile(COMMAND))
    diagnostics = Diagnostics(ros)
    replay = nodes.start('replay', params={
        'bags': f"['{tmp_path / 'bag'}']", 'topics': f"['{ACTION.name}']",
        'action_filter': 'index=1', 'wait_for_subscribers': f"['{ACTION.name}']"})
    assert ros.spin_until(lambda: diagnostics.values('replay').get('done'), 30), \
        nodes.output(replay)
    assert ros.spin_until(lambda: len(actions) >= 5, 10), actions
    assert nodes.stop(replay) == 0, nodes.output(replay)
    # Played under the recorded name; the filter found the action topic by its relative name.
    assert [a.index for a in actions] == [1] * 5
    assert diagnostics.values('replay')['filtered'] == 5


def test_replay_stands_in_for_a_robot_in_its_namespace(ros, nodes, tmp_path):
    write_session_bag(tmp_path / 'bag', steps=10, namespace='/robot1')
    frames, executed = [], []
    ros.node.create_subscription(Image, IMAGE.fqn('/robot2'), frames.append, qos_profile(SENSOR))
    ros.node.create_subscription(Action, ACTION_EXECUTED.fqn('/robot2'), executed.append,
                                 qos_profile(COMMAND))
    replay = nodes.start('replay', '-r', '__ns:=/robot2', params={
        'bags': f"['{tmp_path / 'bag'}']", 'mode': 'robot', 'rate': 4.0,
        'wait_for_subscribers': f"['{IMAGE.name}', '{ACTION_EXECUTED.name}']"})
    assert ros.spin_until(lambda: len(executed) >= 9 and len(frames) >= 10, 30), \
        nodes.output(replay)
    assert nodes.stop(replay) == 0, nodes.output(replay)
    # The bag recorded in robot1 drives robot2: every transition, frames included.
    assert [a.index for a in executed] == [i % 2 for i in range(9)]
    assert len(frames) == 10
