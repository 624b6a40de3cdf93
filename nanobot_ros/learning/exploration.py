"""Uncertainty-driven exploration: try the action whose outcome the model predicts worst.

The uncertainty of action a is the exponential moving average of the world model's observed
prediction error for a: each time a is taken, the prediction made for it before acting is
compared with the frame that followed (mean squared error in patch space), and

    u(a) <- decay * u(a) + (1 - decay) * error        (u(a) = +inf until a was tried once)

The explorer takes argmax_a u(a) (ties broken at random, seeded). An action whose outcome the
model has learned has a small error and so a small u; an action whose outcome it has not
learned keeps a large u and is preferred until the model learns it. The estimate of an action
only changes when it is taken, so a learned action is revisited once the others' errors fall
below its last one. (Known limit, as for every error-driven curiosity: an action whose outcome
is pure noise stays attractive forever.)
"""
import math
from typing import Dict, Optional, Sequence

import numpy as np


class UncertaintyExplorer:
    """Per-action moving average of observed prediction error; selects the largest."""

    def __init__(self, actions: Sequence[int], decay: float = 0.9, seed: int = 0):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f'uncertainty decay must be in [0, 1), got {decay}')
        if not actions:
            raise ValueError('an explorer needs at least one action')
        self.actions = list(actions)
        self.decay = decay
        self.uncertainty: Dict[int, float] = {a: math.inf for a in self.actions}
        self.observations: Dict[int, int] = {a: 0 for a in self.actions}
        self.rng = np.random.default_rng(seed)

    def observe(self, action: int, error: float) -> None:
        """Fold the observed prediction error of `action` into its uncertainty."""
        if not math.isfinite(error):
            return
        previous = self.uncertainty[action]
        self.uncertainty[action] = (error if not math.isfinite(previous)
                                    else self.decay * previous + (1 - self.decay) * error)
        self.observations[action] += 1

    def select(self, observation=None):
        """Select the most uncertain action; return (action, metadata) like every selector."""
        values = np.array([self.uncertainty[a] for a in self.actions])
        best = np.flatnonzero(values == values.max())
        action = self.actions[int(self.rng.choice(best))]
        return action, [{'uncertainty': dict(self.uncertainty)}]

    def state(self) -> dict:
        """Return the explorer as JSON-ready values (for checkpoints); inf is stored as None."""
        return {'uncertainty': {str(a): (u if math.isfinite(u) else None)
                                for a, u in self.uncertainty.items()},
                'observations': {str(a): n for a, n in self.observations.items()},
                'rng': self.rng.bit_generator.state}

    def load_state(self, state: Optional[dict]) -> None:
        """Restore what `state()` returned."""
        if not state:
            return
        for key, value in state['uncertainty'].items():
            self.uncertainty[int(key)] = math.inf if value is None else float(value)
        for key, value in state['observations'].items():
            self.observations[int(key)] = int(value)
        self.rng.bit_generator.state = state['rng']
