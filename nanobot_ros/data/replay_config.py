"""The replay node's settings: what to play and how (nodes/replay.py; its clock: playback.py)."""
from dataclasses import dataclass, field
import re
from typing import Dict, List

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
