"""What the robot did in a step: the label of a world model transition, or why there is none.

A transition is (frame, action, next frame). The action is what the robot did between the two
frames, which is not always what the world model sent:

- A robot that reports its steps (the sim, replay in mode robot: /robot/action_executed, one
  report per step stamped with the frame the step started from) says so itself. The report is
  the label; once any report came, a step without one is discarded (its outcome is unknown),
  and so is a report of an action outside the action space, and a step in which the robot was
  put down elsewhere (source RESET_SOURCE: a simulated robot's new episode).
- A robot that never reports (a driver without the topic) is judged from the sender's side: the
  action sent, or the idle action when nothing was sent; idle too when the action was sent
  only after the robot published the next frame (it stepped without it); discarded when that is
  too close to call (`delivery_margin`), or when an action was sent and the next frame came
  more than `max_transition_gap` after the frame it answered (the robot's watchdog may have
  stepped too).

Either way a step that did not do what was sent counts as an answer missed. Pure: no ROS here;
the node feeds it reports and steps, the unit tests drive every branch directly.
"""
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Hashable, NamedTuple, Optional, Sequence

from nanobot_ros.contract import RESET_SOURCE

# Reports kept (newest): a report is used when the frame after its step comes, so only the
# last few matter; the rest are reports of frames the world model never saw (dropped, rejected).
REPORT_MEMORY = 64


@dataclass
class LabelConfig:
    """Timing rules for robots that do not report their steps."""

    max_transition_gap: float = field(default=0.45, metadata={'description': (
        'discard a transition with an action sent whose next frame came more than this many '
        'seconds after the frame it answered (the robot\'s watchdog may have stepped too)')})
    delivery_margin: float = field(default=0.0, metadata={'description': (
        'discard a transition whose next frame was stamped less than this many seconds after '
        'the action was sent (too close to call)')})

    def validate(self) -> None:
        """Raise ValueError naming the first setting that makes no sense."""
        if not self.max_transition_gap > 0:
            raise ValueError(f'max_transition_gap must be > 0, got {self.max_transition_gap}')
        if self.delivery_margin < 0:
            raise ValueError(f'delivery_margin must be >= 0, got {self.delivery_margin}')


@dataclass(frozen=True)
class Step:
    """One step as the world model saw it: the frame it answered and what it sent when."""

    key: Hashable        # the frame's stamp as the robot's reports carry it
    stamp: float         # the frame's stamp, seconds
    sent: Optional[int]  # action sent, None = nothing sent
    sent_at: float       # clock reading just before sending, seconds


class Label(NamedTuple):
    """The action the step did (None = discard the transition) and why."""

    action: Optional[int]
    reason: str


class TransitionLabeller:
    """Turns steps and the robot's reports into transition labels; counts every outcome."""

    def __init__(self, actions: Sequence[int], idle_action: int,
                 config: LabelConfig = LabelConfig()):
        config.validate()
        if idle_action not in actions:
            raise ValueError(f'idle_action {idle_action} is not in actions {list(actions)}')
        self.actions = list(actions)
        self.idle_action = idle_action
        self.config = config
        self.reports: OrderedDict = OrderedDict()  # step key -> executed action
        self.executed_reports = 0
        self.unreported_steps = 0
        self.robot_resets = 0
        self.executed_rejected = 0
        self.answers_missed = 0
        self.discarded_too_close = 0
        self.discarded_too_late = 0

    def report(self, key: Hashable, action: int, source: str = '') -> None:
        """Record that the robot did `action` (`source`: its report's) in the step from `key`."""
        self.executed_reports += 1
        self.reports[key] = RESET_SOURCE if source == RESET_SOURCE else action
        while len(self.reports) > REPORT_MEMORY:
            self.reports.popitem(last=False)

    def label(self, step: Step, next_stamp: float) -> Label:
        """Label the step that ended with the frame stamped `next_stamp` (seconds)."""
        if self.executed_reports:
            return self._reported(step)
        if step.sent is None:
            return Label(self.idle_action, 'nothing sent: idle')
        if step.sent_at > next_stamp:
            self.answers_missed += 1
            return Label(self.idle_action, 'sent after the robot stepped: idle')
        if step.sent_at >= next_stamp - self.config.delivery_margin:
            self.discarded_too_close += 1
            return Label(None, 'sent too close to the next frame to tell')
        if next_stamp - step.stamp > self.config.max_transition_gap:
            self.discarded_too_late += 1
            return Label(None, 'next frame later than max_transition_gap')
        return Label(step.sent, 'sent')

    def _reported(self, step: Step) -> Label:
        executed = self.reports.pop(step.key, None)
        if executed is None:
            self.unreported_steps += 1
            return Label(None, 'the robot reported no action for this step')
        if executed == RESET_SOURCE:
            self.robot_resets += 1
            return Label(None, 'the robot was put down elsewhere')
        if executed not in self.actions:
            self.executed_rejected += 1
            return Label(None, f'the robot reports action {executed}, not in the action space '
                               f'{self.actions}')
        if step.sent is not None and executed != step.sent:
            self.answers_missed += 1
        return Label(executed, 'reported')

    def counters(self) -> dict:
        """Return every outcome counted so far (for the node's status)."""
        return {'executed_reports': self.executed_reports,
                'unreported_steps': self.unreported_steps,
                'robot_resets': self.robot_resets,
                'executed_rejected': self.executed_rejected,
                'answers_missed': self.answers_missed,
                'discarded_too_close': self.discarded_too_close,
                'discarded_too_late': self.discarded_too_late}
