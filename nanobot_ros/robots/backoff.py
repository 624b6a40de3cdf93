"""Exponential backoff for reconnecting to devices that fail or disappear.

A driver that loses its camera or robot must neither give up nor hammer the device in a tight
crash loop: it waits `initial` seconds, then twice as long after each failed attempt, never more
than `maximum`, and starts over once an attempt succeeds.
"""
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays between reconnection attempts: initial, initial * factor, ..., capped at maximum."""

    initial: float = 0.2
    maximum: float = 5.0
    factor: float = 2.0
    failures: int = field(default=0, init=False)

    def __post_init__(self):
        if self.initial <= 0 or self.maximum < self.initial or self.factor < 1:
            raise ValueError(f'backoff needs 0 < initial <= maximum and factor >= 1, got '
                             f'initial {self.initial}, maximum {self.maximum}, '
                             f'factor {self.factor}')

    def next_delay(self) -> float:
        """Count one failed attempt and return how long to wait before the next one."""
        delay = min(self.maximum, self.initial * self.factor ** min(self.failures, 64))
        self.failures += 1
        return delay

    def reset(self) -> None:
        """Start over after a successful attempt."""
        self.failures = 0
