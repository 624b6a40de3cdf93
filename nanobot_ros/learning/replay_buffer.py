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


def reversed_transition(transition: Transition, inverse: int) -> Transition:
    """Return `transition` played backwards: from its next frame, `inverse` led to its frame."""
    return Transition((transition.next_frame,), (inverse,), transition.frames[-1])


def mean_squared_change(before: np.ndarray, after: np.ndarray) -> float:
    """Return the mean squared difference of two uint8 frames, pixels in [0, 1]."""
    step = after.astype(np.float32) - before
    return float(np.mean(step * step)) / 255.0 ** 2


class TransitionBuffer:
    """A bounded FIFO of transitions with seeded uniform sampling.

    `inverses` ({label: label}) names actions that undo each other: with balanced draws a
    one-frame transition of one, played backwards, is also drawn as one of the other (a left
    turn undone is a right turn), unless the view changed by less than `min_change` (mean
    squared, pixels in [0, 1]): a move a wall blocked would not be blocked backwards.
    """

    def __init__(self, capacity: int, seed: int = 0,
                 inverses: Optional[Mapping[int, int]] = None, min_change: float = 0.0):
        if capacity < 1:
            raise ValueError(f'buffer capacity must be >= 1, got {capacity}')
        self.transitions: deque = deque(maxlen=capacity)
        self.reversible: deque = deque(maxlen=capacity)  # per transition: drawn backwards too
        # Balanced draws' groups, kept as transitions come and go (rebuilt for every draw they
        # cost a tenth of a room learner step): label -> (transition, played backwards),
        # oldest first, so the transition that falls out is first in each group it is in.
        self.groups: Dict[int, deque] = {}
        self.inverses = dict(inverses or {})
        self.min_change = min_change
        self.rng = np.random.default_rng(seed)
        self.added = 0

    def __len__(self) -> int:
        return len(self.transitions)

    def add(self, transition: Transition) -> None:
        """Append a transition (the oldest falls out when full)."""
        if len(transition.frames) != len(transition.actions):
            raise ValueError('a transition needs one action per history frame')
        if len(self.transitions) == self.transitions.maxlen:
            self._leave_groups(self.transitions[0], self.reversible[0])
        label = transition.actions[-1]
        reversible = (len(transition.frames) == 1 and label in self.inverses
                      and mean_squared_change(transition.frames[-1], transition.next_frame)
                      >= self.min_change)
        self.transitions.append(transition)
        self.reversible.append(reversible)
        self.groups.setdefault(label, deque()).append((transition, False))
        if reversible:
            self.groups.setdefault(self.inverses[label], deque()).append((transition, True))
        self.added += 1

    def _leave_groups(self, oldest: Transition, reversible: bool) -> None:
        label = oldest.actions[-1]
        for group_label in (label, self.inverses[label]) if reversible else (label,):
            group = self.groups[group_label]
            group.popleft()
            if not group:
                del self.groups[group_label]

    def sample(self, batch_size: int, newest: int = 1, balanced: bool = False,
               action_weights: Optional[Mapping[int, float]] = None):
        """Return (history (B, T, 3, H, W), actions (B, T), next frames (B, 3, H, W)).

        The `newest` most recent transitions are always in the batch (learn from what was just
        seen), the rest are drawn uniformly from the buffer, or with `balanced` over the
        actions (the last of each transition's actions) present: an action evenly, or with
        probability proportional to `action_weights` (an action it does not name weighs as
        much as an even share), then one of its transitions uniformly (with `inverses`, its
        inverse's reversible transitions played backwards among them).
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
        labels = sorted(self.groups)
        weights = None if action_weights is None else np.array(
            [action_weights.get(label, 1 / len(labels)) for label in labels], dtype=float)
        if weights is None or not weights.sum() > 0:  # none given, or all zero here
            drawn = self.rng.integers(0, len(labels), batch_size - newest)
        else:
            drawn = self.rng.choice(len(labels), batch_size - newest, p=weights / weights.sum())
        for g in drawn:
            group = self.groups[labels[int(g)]]
            transition, backwards = group[int(self.rng.integers(0, len(group)))]
            chosen.append(reversed_transition(transition, labels[int(g)]) if backwards
                          else transition)
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
