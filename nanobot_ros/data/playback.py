"""The replay node's playback clock (pause, resume, seek), without ROS.

Its settings: replay_config.py.

    clock = PlaybackClock(rate=2.0)
    clock.start(0.0)                # pass time 0 s (recorded seconds since the pass began) now
    clock.due(3.0)                  # monotonic time the message at pass time 3 s is due: +1.5 s
    clock.pause(); clock.resume()   # due times move by the time spent paused
    clock.start(10.0)               # a seek: pass time 10 s is due now

Pass time: recorded seconds since the pass began (see nodes/replay.py).
"""
import time
from typing import Optional


class PlaybackClock:
    """When each message of a pass is due: pass time / rate after the start, minus pauses."""

    def __init__(self, rate: float, now=time.monotonic):
        self.rate = rate
        self._now = now
        self._origin = now()  # monotonic time of pass time 0
        self._paused_at: Optional[float] = None

    @property
    def paused(self) -> bool:
        """Return whether the clock stands still."""
        return self._paused_at is not None

    def start(self, position_s: float) -> None:
        """Make pass time `position_s` due now (a start or a seek); a paused clock stays so."""
        now = self._now()
        self._origin = now - position_s / self.rate
        if self._paused_at is not None:
            self._paused_at = now

    def set_rate(self, rate: float) -> None:
        """Play on at `rate` from the pass time due now (a paused clock stays paused)."""
        position = self.position()
        self.rate = rate
        self.start(position)

    def position(self) -> float:
        """Return the pass time that is due now (where a paused clock stopped)."""
        now = self._paused_at if self._paused_at is not None else self._now()
        return (now - self._origin) * self.rate

    def due(self, position_s: float) -> float:
        """Return when (monotonic s) pass time `position_s` is due; paused: not before resume."""
        return self._origin + position_s / self.rate

    def pause(self) -> bool:
        """Stop the clock; False if it was paused already."""
        if self._paused_at is not None:
            return False
        self._paused_at = self._now()
        return True

    def resume(self) -> bool:
        """Run the clock on from where it stopped; False if it was running."""
        if self._paused_at is None:
            return False
        self._origin += self._now() - self._paused_at
        self._paused_at = None
        return True
