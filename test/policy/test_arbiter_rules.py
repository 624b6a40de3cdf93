"""The arbiter's rules: the teacher drives until an export passes, the kernel until it fails."""
import pytest

from nanobot_ros.policy.handover import Arbiter, ArbiterConfig, KERNEL, TEACHER


def arbiter(**overrides) -> Arbiter:
    values = dict(handover_success=0.9, handback_success=0.6, goal_success=0.9, window=10)
    values.update(overrides)
    return Arbiter(ArbiterConfig(**values))


def test_the_teacher_drives_until_an_export_passes_the_evaluation():
    a = arbiter()
    assert a.driver == TEACHER and a.forwards(TEACHER) and not a.forwards(KERNEL)
    a.episodes_ended(5.0, 4, 4)
    a.evaluated(10.0, 120, 0.89)
    assert a.driver == TEACHER and a.handover_s is None
    a.evaluated(20.0, 240, 0.9)
    assert a.driver == KERNEL and a.forwards(KERNEL) and not a.forwards(TEACHER)
    assert (a.handover_s, a.handovers) == (20.0, 1)
    # The teacher's episodes were its own: none is the kernel's.
    assert a.figures()['teacher_episodes'] == 4 and a.figures()['kernel_episodes'] == 0
    assert a.evaluations == [(10.0, 120, 0.89), (20.0, 240, 0.9)]


def test_the_teacher_takes_back_a_kernel_failing_over_a_whole_window():
    a = arbiter()
    a.evaluated(1.0, 1, 0.95)
    a.episodes_ended(2.0, 9, 0)  # nine failures: less than a window, the kernel keeps driving
    assert a.driver == KERNEL and a.kernel_success() is None
    a.episodes_ended(3.0, 1, 1)  # a window of 10: 1 success, 10 % < 60 %
    assert a.driver == TEACHER and a.handbacks == 1
    assert a.kernel_success() == pytest.approx(0.1)
    # Episodes now count for the teacher; only a newer passing export hands over again.
    a.episodes_ended(4.0, 5, 5)
    assert a.figures()['teacher_episodes'] == 5 and a.driver == TEACHER
    a.evaluated(5.0, 2, 0.5)
    assert a.driver == TEACHER
    a.evaluated(6.0, 3, 0.93)
    assert a.driver == KERNEL and a.handovers == 2 and a.handover_s == 1.0
    # The window counts again from the new hand-over: 9 more failures do not hand back yet.
    a.episodes_ended(7.0, 9, 0)
    assert a.driver == KERNEL


def test_a_kernel_at_the_handback_bar_keeps_driving_and_the_goal_is_timed():
    a = arbiter(handback_success=0.6)
    a.evaluated(1.0, 1, 0.95)
    a.episodes_ended(2.0, 10, 6)
    assert a.driver == KERNEL and a.kernel_success() == pytest.approx(0.6)
    assert a.kernel_goal_s is None
    # A report's failures count first: the window drops 3 of the 4 failures for 3 successes.
    a.episodes_ended(3.0, 3, 3)
    assert a.kernel_success() == pytest.approx(0.9) and a.kernel_goal_s == 3.0
    a.episodes_ended(4.0, 10, 10)
    assert a.kernel_goal_s == 3.0 and a.figures()['kernel_success'] == 1.0


def test_settings_that_make_no_sense_are_refused():
    with pytest.raises(ValueError, match='handback_success'):
        ArbiterConfig(handover_success=0.5, handback_success=0.7).validate()
    with pytest.raises(ValueError, match='eval_seed'):
        ArbiterConfig(eval_seed=1000).validate()
    with pytest.raises(ValueError, match="unknown task 'chess'"):
        ArbiterConfig(task='chess').validate()
    with pytest.raises(ValueError, match='window'):
        ArbiterConfig(window=0).validate()
