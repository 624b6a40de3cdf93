"""Transitions the world model trains on: (last T frames, actions, next frame), newest kept.

Frames are uint8 arrays shared between transitions (frame k is the next frame of transition
k-1 and a history frame of transition k), so a buffer of n transitions holds about n frames.
"""
from collections import deque
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

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

    def sample(self, batch_size: int, newest: int = 1, balanced: bool = False,
               action_weights: Optional[Mapping[int, float]] = None):
        """Return (history (B, T, 3, H, W), actions (B, T), next frames (B, 3, H, W)).

        The `newest` most recent transitions are always in the batch (learn from what was just
        seen), the rest are drawn uniformly from the buffer, or with `balanced` over the
        actions (the last of each transition's actions) present: an action evenly, or with
        probability proportional to `action_weights` (an action it does not name weighs as
        much as an even share), then one of its transitions uniformly.
        """
        items = self._pick(batch_size, newest, balanced, action_weights)
        history = torch.stack([images_to_tensor(np.stack(t.frames)) for t in items])
        actions = torch.tensor([t.actions for t in items], dtype=torch.long)
        next_frames = images_to_tensor(np.stack([t.next_frame for t in items]))
        return history, actions, next_frames

    def sample_frames(self, batch_size: int) -> torch.Tensor:
        """Return next frames of random transitions (B, 3, H, W) for autoencoder training."""
        return images_to_tensor(np.stack([t.next_frame for t in self._pick(batch_size, 1)]))

    def _pick(self, batch_size: int, newest: int, balanced: bool = False,
              action_weights: Optional[Mapping[int, float]] = None) -> List[Transition]:
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
        weights = None if action_weights is None else np.array(
            [action_weights.get(action, 1 / len(groups)) for action in by_action], dtype=float)
        if weights is None or not weights.sum() > 0:  # none given, or all zero here
            drawn = self.rng.integers(0, len(groups), batch_size - newest)
        else:
            drawn = self.rng.choice(len(groups), batch_size - newest, p=weights / weights.sum())
        for g in drawn:
            group = groups[int(g)]
            chosen.append(group[int(self.rng.integers(0, len(group)))])
        return chosen

    def recent(self, count: int) -> List[Transition]:
        """Return the newest `count` transitions, oldest first."""
        return list(self.transitions)[-count:] if count > 0 else []


class ActionErrors:
    """Each action's running prediction error, and the replay weights it gives.

    Balanced replay spends as many learner steps on `stop`, whose next frame the model
    predicts almost exactly within minutes, as on a turn it still blurs. Like prioritised
    replay (Schaul et al., 2016), but per action rather than per transition (a transition's
    error is known only when it is drawn; an action's is known every step): `error_share` of
    the draws go to the actions in proportion to their running error, the rest evenly, so no
    action is ever starved.
    """

    def __init__(self, actions: Sequence[int], error_share: float, decay: float = 0.98):
        self.actions = tuple(actions)
        self.error_share = error_share
        self.decay = decay  # per step in which the action was drawn: a memory of ~50 steps
        self.errors: Dict[int, float] = {}

    def update(self, errors: Mapping[int, float]) -> None:
        """Fold one learner step's mean squared error per action drawn into the running ones."""
        for action, error in errors.items():
            old = self.errors.get(action)
            self.errors[action] = error if old is None else (
                self.decay * old + (1 - self.decay) * error)

    def weights(self) -> Optional[Dict[int, float]]:
        """Return {action: share of replay draws}, or None for even draws.

        Even until every action has a running error (a fresh buffer, or no share).
        """
        if not self.error_share or any(a not in self.errors for a in self.actions):
            return None
        total = sum(self.errors[a] for a in self.actions)
        even = 1 / len(self.actions)
        if not total > 0:
            return {a: even for a in self.actions}
        return {a: (1 - self.error_share) * even + self.error_share * self.errors[a] / total
                for a in self.actions}
