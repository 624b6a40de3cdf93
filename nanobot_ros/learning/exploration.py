"""Uncertainty-driven exploration: take the action whose outcome the model is least sure of.

The uncertainty of action a in the current state is measured at decision time, from the model
as it is now: the predictor has several output heads on one shared transformer, each trained
on its own bootstrap resample of every batch (`models/losses.py`), and

    u(a) = mean over tokens and channels of Var_heads[ predicted next-frame token | frame, a ]

Heads agree where the data they were trained on pins the answer down, and disagree about
outcomes they have not learned: an action never taken, a state never seen, or an action whose
predictions drifted while the shared layers learned other things. Because u is recomputed for
every frame from the current weights, a learned action is revisited as soon as its predictions
become doubtful again, without having to be taken first (an error-driven estimate only changes
when its action is taken, so an action learned early is never tried again).

The explorer takes argmax_a u(a), ties broken at random (seeded); with `epsilon` > 0 it takes a
uniformly random action that often instead.
"""
from typing import Dict, Optional, Sequence

import numpy as np


class UncertaintyExplorer:
    """Selects the action with the largest current uncertainty."""

    def __init__(self, actions: Sequence[int], epsilon: float = 0.0, seed: int = 0):
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f'epsilon must be in [0, 1], got {epsilon}')
        if not actions:
            raise ValueError('an explorer needs at least one action')
        self.actions = list(actions)
        self.epsilon = epsilon
        self.selections: Dict[int, int] = {a: 0 for a in self.actions}
        self.rng = np.random.default_rng(seed)

    def select(self, uncertainty: Sequence[float]):
        """Return (action, metadata) for per-action uncertainties in action order."""
        values = np.asarray(uncertainty, dtype=float)
        if values.shape != (len(self.actions),) or not np.all(np.isfinite(values)):
            raise ValueError(f'need one finite uncertainty per action {self.actions}, got '
                             f'{list(uncertainty)}')
        if self.epsilon and self.rng.random() < self.epsilon:
            action = self.actions[int(self.rng.integers(len(self.actions)))]
        else:
            best = np.flatnonzero(values == values.max())
            action = self.actions[int(self.rng.choice(best))]
        self.selections[action] += 1
        return action, [{'uncertainty': dict(zip(self.actions, values.tolist()))}]

    def state(self) -> dict:
        """Return the explorer as JSON-ready values (for checkpoints)."""
        return {'selections': {str(a): n for a, n in self.selections.items()},
                'rng': self.rng.bit_generator.state}

    def load_state(self, state: Optional[dict]) -> None:
        """Restore what `state()` returned."""
        if not state:
            return
        for key, value in state['selections'].items():
            self.selections[int(key)] = int(value)
        self.rng.bit_generator.state = state['rng']
