"""A person's say over the next action (the reference's interactive mode), without rclpy.

A controller node (world model, runner) subscribes to an override topic and offers each
message here; when its next action is due it `take()`s the override instead of its own choice,
publishes it on the action topic like any other action (so the robot executes it, the recorder
records it and the counts count it) and reports `overrides` on /diagnostics. Confirming the
next action is overriding it with the same one.
"""
from typing import Optional, Sequence


class ActionOverride:
    """Holds at most one pending override: the newest wins."""

    def __init__(self, action_space: Sequence[int]):
        self.action_space = list(action_space)
        self.pending: Optional[int] = None
        self.received = 0
        self.rejected = 0
        self.applied = 0

    def offer(self, index: int) -> Optional[str]:
        """Queue `index` as the next action; return why not (None when accepted)."""
        self.received += 1
        if index not in self.action_space:
            self.rejected += 1
            return f'override {index} is not in the action space {self.action_space}'
        self.pending = int(index)
        return None

    def take(self, chosen: Optional[int]) -> Optional[int]:
        """Return the pending override (and clear it), else `chosen`."""
        if self.pending is None:
            return chosen
        action, self.pending = self.pending, None
        self.applied += 1
        return action

    def counts(self) -> dict:
        return {'overrides': self.applied, 'overrides_received': self.received,
                'overrides_rejected': self.rejected}
