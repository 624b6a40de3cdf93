"""Transitions the world model trains on: (last T frames, actions, next frame), newest kept.

Frames are uint8 arrays shared between transitions (frame k is the next frame of transition
k-1 and a history frame of transition k), so a buffer of n transitions holds about n frames.
"""
from collections import deque
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
import torch

from nanobot_ros.models.vit import images_to_tensor


@dataclass(frozen=True)
class Transition:
    """T frames (oldest first), the T actions taken after each, and the frame that followed."""

    frames: Tuple[np.ndarray, ...]
    actions: Tuple[int, ...]
    next_frame: np.ndarray


class TransitionBuffer:
    """A bounded FIFO of transitions with seeded uniform sampling."""

    def __init__(self, capacity: int, seed: int = 0):
        if capacity < 1:
            raise ValueError(f'buffer capacity must be >= 1, got {capacity}')
        self.transitions: deque = deque(maxlen=capacity)
        self.rng = np.random.default_rng(seed)
        self.added = 0

    def __len__(self) -> int:
        return len(self.transitions)

    def add(self, transition: Transition) -> None:
        """Append a transition (the oldest falls out when full)."""
        if len(transition.frames) != len(transition.actions):
            raise ValueError('a transition needs one action per history frame')
        self.transitions.append(transition)
        self.added += 1

    def sample(self, batch_size: int, newest: int = 1, balanced: bool = False):
        """Return (history (B, T, 3, H, W), actions (B, T), next frames (B, 3, H, W)).

        The `newest` most recent transitions are always in the batch (learn from what was just
        seen), the rest are drawn uniformly from the buffer, or with `balanced` evenly over the
        actions (the last of each transition's actions) present: an action uniformly, then one
        of its transitions uniformly.
        """
        items = self._pick(batch_size, newest, balanced)
        history = torch.stack([images_to_tensor(np.stack(t.frames)) for t in items])
        actions = torch.tensor([t.actions for t in items], dtype=torch.long)
        next_frames = images_to_tensor(np.stack([t.next_frame for t in items]))
        return history, actions, next_frames

    def sample_frames(self, batch_size: int) -> torch.Tensor:
        """Return next frames of random transitions (B, 3, H, W) for autoencoder training."""
        return images_to_tensor(np.stack([t.next_frame for t in self._pick(batch_size, 1)]))

    def _pick(self, batch_size: int, newest: int, balanced: bool = False) -> List[Transition]:
        if not self.transitions:
            raise ValueError('the buffer is empty')
        n = len(self.transitions)
        newest = min(newest, batch_size, n)
        chosen = [self.transitions[n - 1 - i] for i in range(newest)]
        if not balanced:
            rest = self.rng.integers(0, n, batch_size - newest)
            return chosen + [self.transitions[int(i)] for i in rest]
        by_action: dict = {}
        for transition in self.transitions:
            by_action.setdefault(transition.actions[-1], []).append(transition)
        groups = list(by_action.values())
        for g in self.rng.integers(0, len(groups), batch_size - newest):
            group = groups[int(g)]
            chosen.append(group[int(self.rng.integers(0, len(group)))])
        return chosen

    def recent(self, count: int) -> List[Transition]:
        """Return the newest `count` transitions, oldest first."""
        return list(self.transitions)[-count:] if count > 0 else []
