"""Action statistics the reference's RobotRunner keeps: distribution, intervals, count."""
from collections import Counter
import time

import numpy as np


class ActionStatistics:
    """Counts actions and the wall-clock intervals between them."""

    def __init__(self, clock=time.monotonic, max_intervals: int = 10000):
        self._clock = clock
        self._last = None
        self._intervals = []
        self._max_intervals = max_intervals
        self.counts = Counter()

    @property
    def count(self) -> int:
        """Return how many actions were recorded."""
        return sum(self.counts.values())

    def record(self, action) -> None:
        """Count `action` and the interval since the previous one."""
        now = self._clock()
        if self._last is not None:
            self._intervals.append(now - self._last)
            # Bounded memory: keep the most recent intervals only.
            if len(self._intervals) > self._max_intervals:
                del self._intervals[:len(self._intervals) - self._max_intervals]
        self._last = now
        self.counts[action] += 1

    def summary(self) -> dict:
        """Return the reference's action_timing/* figures (seconds) and the distribution."""
        total = self.count
        result = {
            'action_count': total,
            'action_counts': {str(k): v for k, v in sorted(self.counts.items())},
            'action_distribution': {str(k): v / total for k, v in sorted(self.counts.items())},
        }
        if self._intervals:
            intervals = np.asarray(self._intervals)
            result.update({
                'mean_interval': float(intervals.mean()),
                'median_interval': float(np.median(intervals)),
                'min_interval': float(intervals.min()),
                'max_interval': float(intervals.max()),
                'std_interval': float(intervals.std()),
            })
        return result
