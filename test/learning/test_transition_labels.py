"""Every rule that labels a world model transition with what the robot did, without ROS."""
import pytest

from nanobot_ros.contract import RESET_SOURCE
from nanobot_ros.learning.transition_labels import LabelConfig, REPORT_MEMORY, Step, \
    TransitionLabeller


def labeller(**config) -> TransitionLabeller:
    return TransitionLabeller([0, 1], idle_action=0, config=LabelConfig(**config))


def step(key=1, stamp=10.0, sent=1, sent_at=10.05) -> Step:
    return Step(key, stamp, sent, sent_at)


# -- a robot that never reports its steps: judged from the sending side --------------------

def test_silent_robot_nothing_sent_is_the_idle_action():
    rules = labeller()
    assert rules.label(step(sent=None), next_stamp=10.1).action == 0
    assert rules.counters() == {'executed_reports': 0, 'unreported_steps': 0,
                                'robot_resets': 0, 'executed_rejected': 0, 'answers_missed': 0,
                                'discarded_too_close': 0, 'discarded_too_late': 0}


def test_silent_robot_nothing_sent_is_idle_however_late_the_next_frame():
    assert labeller().label(step(sent=None), next_stamp=99.0).action == 0


def test_silent_robot_action_sent_in_time_is_the_label():
    rules = labeller()
    label = rules.label(step(sent=1, sent_at=10.05), next_stamp=10.1)
    assert label.action == 1 and label.reason == 'sent'
    assert rules.answers_missed == 0


def test_silent_robot_action_sent_after_the_next_frame_is_idle_and_a_miss():
    rules = labeller()
    label = rules.label(step(sent=1, sent_at=10.2), next_stamp=10.1)
    assert label.action == 0
    assert rules.answers_missed == 1


def test_silent_robot_action_sent_at_the_very_stamp_is_too_close_to_call():
    rules = labeller()
    assert rules.label(step(sent=1, sent_at=10.1), next_stamp=10.1).action is None
    assert rules.discarded_too_close == 1 and rules.answers_missed == 0


def test_silent_robot_delivery_margin_discards_near_misses():
    rules = labeller(delivery_margin=0.02)
    assert rules.label(step(sent=1, sent_at=10.09), next_stamp=10.1).action is None
    assert rules.label(step(sent=1, sent_at=10.07), next_stamp=10.1).action == 1
    assert rules.discarded_too_close == 1


def test_silent_robot_next_frame_later_than_max_transition_gap_is_discarded():
    rules = labeller(max_transition_gap=0.45)
    assert rules.label(step(sent=1, stamp=10.0, sent_at=10.05), next_stamp=10.5).action is None
    assert rules.discarded_too_late == 1
    assert rules.label(step(sent=1, stamp=10.0, sent_at=10.05), next_stamp=10.45).action == 1


# -- a robot that reports its steps ---------------------------------------------------------

def test_reported_action_is_the_label_even_when_another_was_sent():
    rules = labeller()
    rules.report(7, 0)
    label = rules.label(step(key=7, sent=1), next_stamp=10.1)
    assert label.action == 0 and label.reason == 'reported'
    assert rules.answers_missed == 1 and rules.executed_reports == 1


def test_reported_action_matching_what_was_sent_is_no_miss():
    rules = labeller()
    rules.report(7, 1)
    assert rules.label(step(key=7, sent=1), next_stamp=10.1).action == 1
    assert rules.answers_missed == 0


def test_reported_idle_step_with_nothing_sent():
    rules = labeller()
    rules.report(7, 0)
    assert rules.label(step(key=7, sent=None), next_stamp=10.1).action == 0
    assert rules.answers_missed == 0


def test_reports_override_the_timing_rules():
    rules = labeller(max_transition_gap=0.1)
    rules.report(7, 1)
    assert rules.label(step(key=7, sent=1, sent_at=20.0), next_stamp=30.0).action == 1


def test_once_the_robot_reports_an_unreported_step_is_discarded():
    rules = labeller()
    rules.report(7, 1)
    assert rules.label(step(key=7), next_stamp=10.1).action == 1
    assert rules.label(step(key=8), next_stamp=10.2).action is None
    assert rules.unreported_steps == 1
    # A report is used once: the same step cannot be labelled twice.
    assert rules.label(step(key=7), next_stamp=10.3).action is None
    assert rules.unreported_steps == 2


def test_a_reported_action_outside_the_action_space_is_discarded():
    rules = labeller()
    rules.report(7, 5)
    label = rules.label(step(key=7), next_stamp=10.1)
    assert label.action is None and 'not in the action space' in label.reason
    assert rules.executed_rejected == 1


def test_a_step_the_robot_was_put_down_elsewhere_in_is_discarded_not_rejected():
    rules = labeller()
    rules.report(7, -1, RESET_SOURCE)
    label = rules.label(step(key=7), next_stamp=10.1)
    assert label == (None, 'the robot was put down elsewhere')
    assert (rules.robot_resets, rules.executed_rejected, rules.answers_missed) == (1, 0, 0)


def test_only_the_newest_reports_are_kept():
    rules = labeller()
    for key in range(REPORT_MEMORY + 1):
        rules.report(key, 1)
    assert rules.label(step(key=0), next_stamp=1.0).action is None
    assert rules.label(step(key=REPORT_MEMORY), next_stamp=1.0).action == 1
    assert rules.executed_reports == REPORT_MEMORY + 1


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match='max_transition_gap'):
        labeller(max_transition_gap=0.0)
    with pytest.raises(ValueError, match='delivery_margin'):
        labeller(delivery_margin=-1.0)
    with pytest.raises(ValueError, match='idle_action'):
        TransitionLabeller([1, 2], idle_action=0)
