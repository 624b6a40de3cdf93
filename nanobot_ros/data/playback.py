"""The replay node's settings: which bags, which topics, how fast, and as what (play / robot)."""
from dataclasses import dataclass, field
from typing import List

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

    def __post_init__(self):
        if self.rate <= 0:
            raise ValueError(f'rate must be > 0, got {self.rate}')
        if self.start_offset_s < 0:
            raise ValueError(f'start_offset_s must be >= 0, got {self.start_offset_s}')
        if self.mode not in ('play', 'robot'):
            raise ValueError(f'mode must be play or robot, got {self.mode!r}')
        if not [p for p in self.bags if p]:
            raise ValueError('bags is empty: give bag directories or folders of bags')
