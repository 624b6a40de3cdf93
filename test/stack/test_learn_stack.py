"""The learn stack over DDS: the teacher drives, an export passes, the kernel takes over.

config/learn.yaml (the sim's target task), config/learn_family.yaml (the task family, its
categorical policy) and config/learn_room.yaml (the room: its task, the room node's expert as
the teacher, the room-sized policy) as they are, with a bar every export passes
(handover_success 0) and 3-second splits, so the hand-over comes within seconds of the first
export: the trainer picks up the recorder's closed splits in the stack, the arbiter hands
over, the kernel's answers drive the robot, and the teacher's labels keep being recorded
beside them with their source.
"""
import json
from pathlib import Path
import signal
import subprocess
import sys

import pytest

from nanobot_ros.contract import ACTION, LEARN_STATUS, TEACHER_ACTION
from nanobot_ros.data.bags import Bag, find_bags
from nanobot_ros.nodes.common import qos_profile
from repo_paths import ROOT
from nanobot_msgs.msg import Action
from std_msgs.msg import String


@pytest.mark.parametrize('config', ['learn.yaml', 'learn_family.yaml', 'learn_room.yaml'])
def test_the_kernel_takes_over_once_an_export_passes(ros, tmp_path, config):
    status, driven = {}, []
    ros.node.create_subscription(String, LEARN_STATUS.fqn(),
                                 lambda msg: status.update(json.loads(msg.data)),
                                 qos_profile(LEARN_STATUS))
    # The model's own answers (a loaded machine also gets the kernel's safe stops for stale
    # frames, 'kernel:safe:...', which the arbiter forwards too).
    ros.node.create_subscription(Action, ACTION.fqn(),
                                 lambda msg: driven.append(msg.source == 'kernel'),
                                 qos_profile(ACTION))
    sets = ['recorder.split_duration_s=3.0', 'arbiter.handover_success=0.0',
            'arbiter.handback_success=0.0', 'arbiter.eval_episodes=3', 'foxglove.port=0']
    stack = subprocess.Popen(
        [sys.executable, '-m', 'nanobot_ros.stack', '--config', str(ROOT / 'config' / config),
         '--duration', '300', '--runs', str(tmp_path)] + [a for s in sets for a in ('--set', s)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        drove = ros.spin_until(lambda: sum(driven) >= 25, 100)
    finally:
        stack.send_signal(signal.SIGINT)
        out, err = stack.communicate(timeout=120)
    assert drove, (status, err[-3000:])
    assert status['driver'] == 'kernel' and status['handovers'] == 1, status
    assert status['teacher_episodes'] + status['kernel_episodes'] >= 1, status

    run_dir = Path(out.strip().splitlines()[-1])
    summary = json.loads((run_dir / 'summary.json').read_text())
    arbiter, trainer = summary['arbiter'], summary['trainer']
    # Every node stopped cleanly: the arbiter, stopped while it evaluated a newer export in
    # the room, once crashed at exit (test/nodes/test_arbiter_stops_mid_evaluation.py).
    exits = {name: node['exit_code'] for name, node in summary['nodes'].items()}
    assert exits == dict.fromkeys(exits, 0), exits
    assert arbiter['driver'] == 'kernel' and arbiter['handover_s'] > 0, arbiter
    assert arbiter['evaluations'] >= 1 and arbiter['evaluated_version'] >= 1, arbiter
    assert trainer['exports'] >= 1 and trainer['step'] >= 1 and trainer['first_data_s'] > 0
    assert (run_dir / 'learn_success.png').is_file()

    # After the hand-over each frame has the kernel's executed action and the teacher's label.
    executed, labels = {}, {}
    for split in find_bags(run_dir / 'sessions'):
        bag = Bag(split)
        for record in bag.records([ACTION.fqn(), TEACHER_ACTION.fqn()]):
            msg = bag.decode(record)
            stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
            (executed if record.topic == ACTION.fqn() else labels)[stamp] = msg.source
    # 'kernel' is a model's answer ('kernel:safe:<reason>' a stop): it serves the run's export.
    by_kernel = [s for s, source in executed.items() if source == 'kernel']
    assert len(by_kernel) >= 20, set(executed.values())
    assert all(labels.get(s) == 'expert' for s in by_kernel), set(labels.values())
    # Before it, the teacher's own answers drove.
    assert any(source == 'expert' for source in executed.values())
