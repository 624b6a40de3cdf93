"""Uncertainty-driven exploration: prefer the actions whose outcome the model is least sure of.

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

The explorer scores each action by its uncertainty relative to the most uncertain one,

    score(a) = u(a) / max_b u(b)        (in [0, 1]; u shrinks by orders of magnitude as the
                                         model learns, the score does not)

and takes argmax score (ties at random, seeded), or with a `temperature` T > 0 samples action a
with probability proportional to exp(score(a) / T). Argmax starves an action the heads agree
about early (a bootstrap ensemble trained on a handful of samples agrees about them: every head
sees the same few) and follows the same few paths through the world; sampling keeps every
action's probability at least exp(-1/T) / A (A actions) while the most doubtful are the most
likely, and a learned action whose predictions become doubtful gets back the largest share at
once. With `epsilon` > 0 the explorer takes a uniformly random action that often instead
(1 = a uniformly random selector).

With `relative`, u(a) is first divided by its own running mean (an exponential average over
the last ~`RELATIVE_WINDOW` frames), so an action is chosen when its outcome here is more
doubtful than usual for that action. Some actions are always the most uncertain in absolute
terms: a turn changes every pixel of a room camera's view, so at argmax the plain explorer
turns on the spot (505 left and 445 right of 1250 actions, no stop, 20 forward in a
bench/room_world_model.py run) and never learns what backing off does.

With `hold` > 1 each chosen action is held for a number of frames drawn from a geometric
distribution of that mean, as in temporally-extended epsilon-greedy (Dabney et al. 2021,
"Temporally-extended epsilon-greedy exploration"): one-frame choices, random or curious, move
a robot by a random walk (forward and backward undo each other) and seldom bring it to a wall
facing it, so it never learns what bumping into one or backing off from it does; held ones
drive it across the room. A hold also ends early when the robot stalled (`stalled`: the
loop saw the last frame barely change, `exploration_hold_stall`): pressed against a wall, a
held `forward` learns nothing new frame after frame, and a held `stop` never does; the explorer
chooses again there (backing off, turning), which held it would seldom do at a wall.
"""
from typing import Dict, Optional, Sequence

import numpy as np

# Frames the running mean of each action's uncertainty spans (`relative`): long enough to
# average over places, short enough to follow u as it shrinks with learning.
RELATIVE_WINDOW = 100


class UncertaintyExplorer:
    """Selects (or samples) actions by their current uncertainty."""

    def __init__(self, actions: Sequence[int], epsilon: float = 0.0, temperature: float = 0.0,
                 seed: int = 0, relative: bool = False, hold: float = 1.0):
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f'epsilon must be in [0, 1], got {epsilon}')
        if not temperature >= 0.0:
            raise ValueError(f'temperature must be >= 0, got {temperature}')
        if not actions:
            raise ValueError('an explorer needs at least one action')
        if not hold >= 1.0:
            raise ValueError(f'hold must be >= 1 frame, got {hold}')
        self.actions = list(actions)
        self.epsilon = epsilon
        self.temperature = temperature
        self.relative = relative
        self.hold = hold
        self.held: Optional[int] = None  # the action being held, and for how many more frames
        self.hold_left = 0
        self.holds_ended_stalled = 0
        self.mean_uncertainty: Optional[np.ndarray] = None  # `relative`: per action
        self.selections: Dict[int, int] = {a: 0 for a in self.actions}
        self.rng = np.random.default_rng(seed)

    def scores(self, uncertainty: Sequence[float]) -> np.ndarray:
        """Return score(a) = u(a) / max u in action order (all 0 when every u is 0).

        With `relative`, u(a) / its running mean instead of u(a) (the mean is updated here).
        """
        values = np.asarray(uncertainty, dtype=float)
        if values.shape != (len(self.actions),) or not np.all(np.isfinite(values)) \
                or np.any(values < 0):
            raise ValueError(f'need one finite uncertainty >= 0 per action {self.actions}, '
                             f'got {list(uncertainty)}')
        if self.relative:
            if self.mean_uncertainty is None:
                self.mean_uncertainty = values.copy()
            self.mean_uncertainty += (values - self.mean_uncertainty) / RELATIVE_WINDOW
            values = np.divide(values, self.mean_uncertainty,
                               out=np.zeros_like(values), where=self.mean_uncertainty > 0)
        top = values.max()
        return values / top if top > 0 else np.zeros_like(values)

    def select(self, uncertainty: Sequence[float], stalled: bool = False):
        """Return (action, metadata) for per-action uncertainties in action order.

        `stalled`: the held action's last frame barely changed the view; the hold ends here.
        """
        scores = self.scores(uncertainty)
        if self.hold_left and stalled:
            self.hold_left = 0
            self.holds_ended_stalled += 1
        if self.hold_left:
            self.hold_left -= 1
            action = self.held
        else:
            action = self.choose(scores)
            if self.hold > 1:  # this frame and hold_left more: geometric, mean `hold`
                self.held, self.hold_left = action, int(self.rng.geometric(1.0 / self.hold)) - 1
        self.selections[action] += 1
        return action, [{'uncertainty': dict(zip(self.actions, map(float, uncertainty))),
                         'score': dict(zip(self.actions, scores.tolist()))}]

    def choose(self, scores: np.ndarray) -> int:
        """Return a new choice: random (epsilon), sampled (temperature) or the most uncertain."""
        if self.epsilon and self.rng.random() < self.epsilon:
            return self.actions[int(self.rng.integers(len(self.actions)))]
        if self.temperature:
            weights = np.exp((scores - 1.0) / self.temperature)
            return self.actions[int(self.rng.choice(len(self.actions),
                                                    p=weights / weights.sum()))]
        best = np.flatnonzero(scores == scores.max())
        return self.actions[int(self.rng.choice(best))]

    def state(self) -> dict:
        """Return the explorer as JSON-ready values (for checkpoints)."""
        return {'selections': {str(a): n for a, n in self.selections.items()},
                'rng': self.rng.bit_generator.state,
                'held': self.held, 'hold_left': self.hold_left,
                'mean_uncertainty': None if self.mean_uncertainty is None
                else self.mean_uncertainty.tolist()}

    def load_state(self, state: Optional[dict]) -> None:
        """Restore what `state()` returned."""
        if not state:
            return
        for key, value in state['selections'].items():
            self.selections[int(key)] = int(value)
        self.rng.bit_generator.state = state['rng']
        self.held, self.hold_left = state.get('held'), int(state.get('hold_left', 0))
        if state.get('mean_uncertainty') is not None:
            self.mean_uncertainty = np.asarray(state['mean_uncertainty'], dtype=float)
