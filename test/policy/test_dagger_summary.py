"""What `nanobot demos --policy` says after a DAgger round: agreement and the top confusions."""
from collections import Counter

from nanobot_ros.cli import demos
from nanobot_ros.policy.demonstrations import dagger_summary
from nanobot_ros.policy.grpo import policy_chooser
from nanobot_ros.policy.weights import save_policy
from nanobot_ros.robots.tasks import dagger_rollouts, task_config
from policy_fixtures import tiny_categorical

NAMES = ('stop', 'forward', 'backward', 'left', 'right')


def test_counts_agreement_and_names_the_most_frequent_disagreements_first():
    # (action taken, expert's label): 6 + 3 agreed; stop for left 5, forward for stop 2 and
    # right for left 2 (a tie: ordered by the action taken), left for forward 1.
    tally = Counter({(1, 1): 6, (3, 3): 3, (0, 3): 5, (4, 3): 2, (1, 0): 2, (3, 1): 1})
    assert dagger_summary(tally, NAMES) == (
        "the policy took the expert's action on 9 of 19 frames (47.4 %); most often instead: "
        'stop for left (5), forward for stop (2), right for left (2)')


def test_a_policy_that_always_agrees_has_no_disagreements_to_name():
    assert dagger_summary(Counter({(0, 0): 4}), NAMES) == \
        "the policy took the expert's action on 4 of 4 frames (100.0 %)"


def test_the_command_ends_with_the_summary_of_the_room_frames_it_recorded(tmp_path, capsys):
    room = task_config('room')
    policy = tiny_categorical(room)
    save_policy(tmp_path / 'policy.safetensors', policy)
    assert demos.main([str(tmp_path / 'dagger'), '--task', 'room', '--episodes', '2',
                       '--split', '2', '--policy', str(tmp_path / 'policy.safetensors')]) == 0
    # The same episodes again, tallied here: the room's action names, every frame counted.
    rows = list(dagger_rollouts(room, [1000, 1001], policy_chooser(policy)))
    expected = dagger_summary(Counter((taken, label) for _, _, taken, label in rows), NAMES)
    assert capsys.readouterr().out.splitlines()[-1] == expected
