"""A person's say over the next action (the reference's interactive mode), without rclpy.

A controller node (world model, runner) subscribes to an override topic and offers each
message here; when its next action is due it `take()`s the override instead of its own choice,
publishes it on the action topic like any other action (so the robot executes it, the recorder
records it and the counts count it) and reports `overrides` on /diagnostics. Confirming the
next action is overriding it with the same one.

A one-shot override is not lost to a late answer: a controller that hears the robot's reports
(robot/action_executed) takes the override for a frame and passes each report to `executed()`;
when the robot reports doing something else for that frame (its watchdog stepped before the
answer came), the override waits for the next frame again, unless a newer one replaced it.
"""
from typing import Hashable, Optional, Sequence


class ActionOverride:
    """Holds at most one pending override: the newest wins."""

    def __init__(self, action_space: Sequence[int]):
        self.action_space = list(action_space)
        self.pending: Optional[int] = None
        self.in_flight: Optional[tuple] = None  # (frame, action) sent, not yet reported
        self.received = 0
        self.rejected = 0
        self.applied = 0
        self.retried = 0

    def offer(self, index: int) -> Optional[str]:
        """Queue `index` as the next action; return why not (None when accepted)."""
        self.received += 1
        if index not in self.action_space:
            self.rejected += 1
            return f'override {index} is not in the action space {self.action_space}'
        self.pending = int(index)
        return None

    def take(self, chosen: Optional[int], frame: Optional[Hashable] = None) -> Optional[int]:
        """Return the pending override (and clear it), else `chosen`.

        With `frame` (the key of the frame it answers) the override is kept in flight until
        `executed()` hears what the robot did in that frame.
        """
        if self.pending is None:
            return chosen
        action, self.pending = self.pending, None
        self.applied += 1
        if frame is not None:
            self.in_flight = (frame, action)
        return action

    def executed(self, frame: Hashable, action: int) -> None:
        """Hear the robot's report: it did `action` in the step from `frame`.

        An override in flight for `frame` that the robot did not do is pending again (a newer
        override, already pending, wins).
        """
        if self.in_flight is None or self.in_flight[0] != frame:
            return
        _, sent = self.in_flight
        self.in_flight = None
        if action != sent:
            self.applied -= 1
            self.retried += 1
            if self.pending is None:
                self.pending = sent

    def counts(self) -> dict:
        return {'overrides': self.applied, 'overrides_received': self.received,
                'overrides_rejected': self.rejected, 'overrides_retried': self.retried}
