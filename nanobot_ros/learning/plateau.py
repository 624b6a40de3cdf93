"""Plateau detection for training that repeats epochs until the loss stops improving.

The reference's continuous replay: run epochs until the loss has not improved by more than
`min_delta` for `patience` epochs (but never stop before `min_epochs`), or `max_epochs` is
reached. The world model's replay and the policy trainer share this.
"""
from dataclasses import dataclass, field
import math
from typing import List, Optional


@dataclass
class PlateauConfig:
    """When to stop: patience, minimum improvement, and epoch bounds."""

    patience: int = 5
    min_delta: float = 1e-4
    min_epochs: int = 3
    max_epochs: int = 100

    def validate(self) -> None:
        """Raise ValueError naming the first setting that makes no sense."""
        if self.patience < 1:
            raise ValueError(f'patience must be >= 1, got {self.patience}')
        if self.min_delta < 0:
            raise ValueError(f'min_delta must be >= 0, got {self.min_delta}')
        if self.min_epochs < 0:
            raise ValueError(f'min_epochs must be >= 0, got {self.min_epochs}')
        if self.max_epochs < max(1, self.min_epochs):
            raise ValueError(f'max_epochs must be >= max(1, min_epochs), got '
                             f'{self.max_epochs}')


@dataclass
class PlateauDetector:
    """Feed one loss per epoch to `update`; it answers whether to stop, `reason` says why."""

    config: PlateauConfig = field(default_factory=PlateauConfig)
    history: List[float] = field(default_factory=list)
    best: float = math.inf
    best_epoch: Optional[int] = None
    epochs_without_improvement: int = 0
    reason: str = ''

    def __post_init__(self):
        self.config.validate()

    @property
    def epochs(self) -> int:
        return len(self.history)

    def update(self, loss: float) -> bool:
        """Record an epoch's loss; return True when training should stop.

        A non-finite loss is recorded but never counts as an improvement.
        """
        loss = float(loss)
        self.history.append(loss)
        if math.isfinite(loss) and loss < self.best - self.config.min_delta:
            self.best, self.best_epoch = loss, self.epochs
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        if self.epochs >= self.config.max_epochs:
            self.reason = f'reached max_epochs {self.config.max_epochs}'
            return True
        if (self.epochs >= self.config.min_epochs
                and self.epochs_without_improvement >= self.config.patience):
            self.reason = (f'plateau: no improvement > {self.config.min_delta:g} for '
                           f'{self.config.patience} epochs (best {self.best:.6g} at epoch '
                           f'{self.best_epoch})')
            return True
        return False

    def summary(self) -> dict:
        """Return the loss history and the stopping decision, JSON-ready."""
        return {'epochs': self.epochs, 'best': self.best if math.isfinite(self.best) else None,
                'best_epoch': self.best_epoch, 'history': list(self.history),
                'stopped': bool(self.reason), 'reason': self.reason}
