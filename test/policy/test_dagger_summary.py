"""What `nanobot demos --policy` says after a DAgger round: agreement and the top confusions."""
from collections import Counter

from nanobot_ros.policy.demonstrations import dagger_summary

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
