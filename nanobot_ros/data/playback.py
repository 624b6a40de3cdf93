"""The replay node's settings and its playback clock (pause, resume, seek), without ROS.

    clock = PlaybackClock(rate=2.0)
    clock.start(0.0)                # pass time 0 s (recorded seconds since the pass began) now
    clock.due(3.0)                  # monotonic time the message at pass time 3 s is due: +1.5 s
    clock.pause(); clock.resume()   # due times move by the time spent paused
    clock.start(10.0)               # a seek: pass time 10 s is due now

Pass time: recorded seconds since the pass began (see nodes/replay.py).
"""
from dataclasses import dataclass, field
import re
import time
from typing import Dict, List, Optional

from nanobot_ros.contract import ACTION, ACTION_EXECUTED, IMAGE


@dataclass
class ReplayConfig:
    """What to play and how; [''] in a list parameter means "none given" (ROS needs a type)."""

    bags: List[str] = field(default_factory=lambda: [''])
    rate: float = 1.0                # speed factor on the recorded timing
    loop: bool = False
    start_offset_s: float = 0.0      # skip this many seconds of each pass
    topics: List[str] = field(default_factory=lambda: [''])   # [''] = all
    action_filter: str = ''          # play only matching actions, e.g. motor_right=0.12
    action_topic: str = ACTION.name  # relative names match in any namespace
    mode: str = 'play'               # play (like ros2 bag play) or robot
    delay_s: float = 0.0
    wait_for_subscribers: List[str] = field(default_factory=lambda: [''])
    image_topic: str = IMAGE.name
    executed_topic: str = ACTION_EXECUTED.name
    clock: bool = False
    remap: List[str] = field(default_factory=lambda: [''])  # '/from:=/to'; [''] = none
    duration_s: float = 0.0          # play this many recorded seconds of each pass; 0 = all
    start_paused: bool = False
    seek_s: float = -1.0             # set while playing: go on from this pass time; -1 = none
    exclude_regex: str = ''          # mode play: not the topics this matches ('' = none)
    qos_overrides_path: str = ''     # mode play: YAML {topic: {reliability: ..., ...}}

    def __post_init__(self):
        if self.rate <= 0:
            raise ValueError(f'rate must be > 0, got {self.rate}')
        if self.start_offset_s < 0:
            raise ValueError(f'start_offset_s must be >= 0, got {self.start_offset_s}')
        if self.mode not in ('play', 'robot'):
            raise ValueError(f'mode must be play or robot, got {self.mode!r}')
        if not [p for p in self.bags if p]:
            raise ValueError('bags is empty: give bag directories or folders of bags')
        try:
            re.compile(self.exclude_regex)
        except re.error as error:
            raise ValueError(f'exclude_regex {self.exclude_regex!r} is not a regular '
                             f'expression: {error}') from None
        if self.duration_s < 0:
            raise ValueError(f'duration_s must be >= 0 (0 = all), got {self.duration_s}')
        self.remappings()

    def remappings(self) -> Dict[str, str]:
        """Return {recorded topic: published topic} from `remap` ('/from:=/to', as -m does)."""
        pairs = {}
        for rule in (r for r in self.remap if r):
            source, separator, target = rule.partition(':=')
            if not separator or not source or not target:
                raise ValueError(f'remap {rule!r} is not /from:=/to')
            pairs[source] = target
        return pairs


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
