"""DAgger's data: a policy drives, the expert labels every frame it saw, both go in the bag.

`nanobot demos --policy P` writes the policy's (greedy) actions on robot/action and, for the
same frame, what the expert would have done on teacher/action; the trainer learns the label.
Checked against an independent replay of each episode: the policy's actions stepped again from
the seed, the expert asked at every state.
"""
from collections import Counter

import pytest

from nanobot_ros.contract import TEACHER_ACTION
from nanobot_ros.data.dataset import BagDataset
from nanobot_ros.policy.demonstrations import write_demonstration_bag
from nanobot_ros.policy.grpo import policy_chooser
from nanobot_ros.robots.tasks import dagger_rollouts, expert_action, task_config
from policy_fixtures import tiny_categorical

SEEDS = [1000, 1001, 1002]


@pytest.mark.parametrize('name', ['family', 'room'])
def test_the_policy_drives_and_the_expert_labels_every_frame(tmp_path, name):
    task = task_config(name, step_budget=12)
    policy = tiny_categorical(task)
    rows = list(dagger_rollouts(task, SEEDS, policy_chooser(policy), batch=2))
    taken = [r[2] for r in rows]
    labels = [r[3] for r in rows]

    # Replay every episode alone from its seed with the actions the policy took.
    replay = task.make_tasks(1)[0]
    expected, position = [], 0
    for seed in SEEDS:
        replay.reset(seed)
        while not (replay.reached or replay.steps >= task.step_budget):
            expected.append(expert_action(replay))
            replay.step(taken[position])
            position += 1
    assert position == len(rows) and labels == expected
    assert taken != labels  # an untrained policy: the labels are not its own actions

    tally = Counter()
    write_demonstration_bag(tmp_path / 'dagger', task, SEEDS, policy=policy, tally=tally)
    assert tally == Counter(zip(taken, labels))
    executed = BagDataset([tmp_path / 'dagger'])
    labelled = BagDataset([tmp_path / 'dagger'], label_topic=TEACHER_ACTION.name)
    # a sample needs the next frame: the bag's last frame is none
    assert [s.action_index for s in executed] == taken[:-1]
    assert [s.action_index for s in labelled] == labels[:-1]
