"""Plateau detection: patience, min_delta, min_epochs and max_epochs."""
import math

import pytest

from nanobot_ros.learning.plateau import PlateauConfig, PlateauDetector


def test_stops_after_patience_epochs_without_improvement():
    detector = PlateauDetector(PlateauConfig(patience=2, min_delta=0.01, min_epochs=0))
    decisions = [detector.update(loss) for loss in (1.0, 0.5, 0.495, 0.499)]
    assert decisions == [False, False, False, True]
    assert detector.best == 0.5 and detector.best_epoch == 2
    assert 'plateau' in detector.reason


def test_min_epochs_and_max_epochs_bound_training():
    detector = PlateauDetector(PlateauConfig(patience=1, min_delta=0.0, min_epochs=4,
                                             max_epochs=6))
    decisions = [detector.update(1.0) for _ in range(4)]
    assert decisions == [False, False, False, True]
    improving = PlateauDetector(PlateauConfig(patience=1, min_epochs=0, max_epochs=3))
    assert [improving.update(1.0 / (i + 1)) for i in range(3)] == [False, False, True]
    assert improving.reason == 'reached max_epochs 3'


def test_non_finite_loss_never_counts_as_improvement():
    detector = PlateauDetector(PlateauConfig(patience=2, min_epochs=0))
    assert not detector.update(1.0)
    assert not detector.update(math.nan)
    assert detector.update(math.inf)
    assert detector.summary()['best'] == 1.0


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match='patience'):
        PlateauDetector(PlateauConfig(patience=0))
    with pytest.raises(ValueError, match='max_epochs'):
        PlateauDetector(PlateauConfig(min_epochs=5, max_epochs=2))
