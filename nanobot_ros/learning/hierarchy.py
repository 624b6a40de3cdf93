"""Hierarchical predictors: level k predicts the outcome of a macro-action of 2^k primitive steps.

Level 0 is the world model's own predictor (one primitive action). Level k >= 1 is another
`TransformerActionConditionedPredictor` on the same shared encoder (and decoder): it sees the
frame a macro-action starts from and the macro-action's index, and predicts the frame 2^k
steps later in one go, instead of feeding its own predictions back 2^k times. A macro-action is
a sequence of 2^k primitive action labels, numbered as a base-A number (A = primitive actions,
the first action the lowest digit, `encode_macro`), so the level's action embedding has one row
per macro-action (A^(2^k) rows).

A new level starts from the weights of the level below (`warm_start`: a macro-action's
embedding is the sum of its two halves' embeddings there).

Automatic creation: every outcome the loop records is first predicted by every level (with the
weights of before it was seen: a held-out, "prequential" figure), and each level keeps the R²
in patch space of its last `level_creation_window` such predictions. Level k + 1 is created as
soon as level k's window is full and its R² >= `level_creation_r2`; up to `hierarchy_levels`
levels, and only levels whose macro-action count A^(2^k) is at most `MAX_MACRO_ACTIONS`.

Training data: the recorded stream of primitive steps; every unbroken window of 2^k steps is a
macro transition (start frame, macro index, end frame) of level k, so every step trains every
level, whoever chose the actions. A level trains one step (its own optimizer, the encoder's
features detached, the decoder held fixed) per learner step of level 0, with the same patch +
latent losses and bootstrap heads.

Exploration: once a level exists, at each decision (no macro-action under way) the explorer
compares the most uncertain primitive action with the most uncertain macro-action of every
level, uncertainty per primitive step (a macro-action's heads' disagreement divided by its
length: what a step of the robot's time buys). A primitive winner goes through the loop's
explorer as before; a macro winner becomes a plan whose primitive actions the loop sends in
the next 2^k frames (dropped when gated or when the history breaks).
"""
from collections import deque
import copy
from dataclasses import dataclass, field, replace
import math
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from nanobot_ros.learning.replay_buffer import Transition, TransitionBuffer
from nanobot_ros.models.checkpoint import optimizer_from_tensors, optimizer_to_tensors, \
    prefixed, unprefixed
from nanobot_ros.models.losses import explained_variance, predictor_losses, r2_score
from nanobot_ros.models.predictor import TransformerActionConditionedPredictor
from nanobot_ros.models.vit import patchify

# Levels with more macro-actions are not created: their embedding and the explorer's sweep over
# every macro-action at each decision grow as A^(2^k) (2 actions: 4, 16, 256; 5 actions: 25).
MAX_MACRO_ACTIONS = 64


@dataclass
class HierarchyConfig:
    """When levels are created and how many (the node's parameters of the same names)."""

    hierarchy_levels: int = field(default=2, metadata={'description': (
        'levels above the one-step predictor that may be created (0 = none); level k '
        'predicts the outcome of 2^k primitive actions')})
    level_creation_r2: float = field(default=0.9, metadata={'description': (
        'level k+1 is created when level k\'s held-out R² over its last '
        'level_creation_window predictions reaches this')})
    level_creation_window: int = field(default=50, metadata={'description': (
        'fresh predictions a level\'s creation R² is measured over (none judged before)')})
    # A level starts late and must catch up: with 1 step it only drew level with composing
    # level 0 (bench/world_model_hierarchy.py; the figures in docs/world_model.md).
    level_train_steps: int = field(default=2, metadata={'description': (
        'training steps of every level per joint learner step of the one-step predictor')})

    def validate(self) -> None:
        """Raise ValueError naming the first setting that makes no sense."""
        if self.hierarchy_levels < 0:
            raise ValueError(f'hierarchy_levels must be >= 0, got {self.hierarchy_levels}')
        if not -math.inf < self.level_creation_r2 <= 1.0:
            raise ValueError(f'level_creation_r2 must be <= 1, got {self.level_creation_r2}')
        if self.level_creation_window < 1:
            raise ValueError('level_creation_window must be >= 1, got '
                             f'{self.level_creation_window}')
        if self.level_train_steps < 1:
            raise ValueError(f'level_train_steps must be >= 1, got {self.level_train_steps}')


def encode_macro(actions: Sequence[int], num_actions: int) -> int:
    """Return the index of a sequence of action labels: base num_actions, first = lowest."""
    index = 0
    for digit in reversed(list(actions)):
        if not 0 <= digit < num_actions:
            raise ValueError(f'action label {digit} is not in [0, {num_actions})')
        index = index * num_actions + int(digit)
    return index


def decode_macro(index: int, length: int, num_actions: int) -> List[int]:
    """Return the `length` action labels of macro-action `index` (inverse of encode_macro)."""
    if not 0 <= index < num_actions ** length:
        raise ValueError(f'macro-action {index} is not in [0, {num_actions ** length})')
    return [(index // num_actions ** i) % num_actions for i in range(length)]


def levels_that_fit(num_actions: int, wanted: int) -> int:
    """Return how many of `wanted` levels have at most MAX_MACRO_ACTIONS macro-actions."""
    return next((k - 1 for k in range(1, wanted + 1)
                 if num_actions ** (2 ** k) > MAX_MACRO_ACTIONS), wanted)


def compose(step, features: torch.Tensor, sequences: torch.Tensor) -> torch.Tensor:
    """Roll a one-step predictor through action sequences, feeding it its own predictions.

    step(features (B, N, D), actions (B,)) -> next features (B, N, D); sequences (B, L), the
    first action first. Returns the features after the L steps.
    """
    for i in range(sequences.shape[1]):
        features = step(features, sequences[:, i])
    return features


def direct_vs_composed(direct: torch.Tensor, composed: torch.Tensor,
                       target: torch.Tensor) -> Dict[str, float]:
    """R² in patch space of a level's direct prediction and of the composed one-step rollout."""
    return {'direct': explained_variance(direct, target),
            'composed': explained_variance(composed, target)}


@torch.no_grad()
def predict_macros(model, predictor, features: torch.Tensor, macros: torch.Tensor):
    """Return the decoded patches (B, N, P) of macros[i] from features[i] (B, N, D).

    And the heads' disagreement (B,): the variance over heads, averaged over tokens and
    channels.
    """
    predictor.eval()
    heads, _ = predictor.forward_heads(features[:, None], macros.reshape(-1, 1))
    return (model.autoencoder.decode(heads.mean(dim=1)),
            heads.var(dim=1, unbiased=False).mean(dim=(1, 2)))


@torch.no_grad()
def composed_rollout(model, frames, sequences: torch.Tensor) -> torch.Tensor:
    """Return the decoded patches (B, N, P) of level 0 fed its own predictions.

    Along sequences (B, L) of action labels from frames (uint8 (H, W, 3) each): the composition
    a level's direct prediction is compared with.
    """
    model.autoencoder.eval()
    model.predictor.eval()
    features = model.autoencoder.encode(model.to_tensor(list(frames)))
    return model.autoencoder.decode(compose(
        lambda f, a: model.predictor(f[:, None], a[:, None])[0], features, sequences))


class RunningR2:
    """R² in patch space over the last `window` (prediction, outcome) pairs; their mean MSE."""

    def __init__(self, window: int):
        self.pairs: deque = deque(maxlen=window)  # (SSE, sum, sum of squares, count)

    def add(self, predicted: torch.Tensor, observed: torch.Tensor) -> float:
        """Add one prediction and its outcome; return their mean squared error."""
        observed = observed.double()
        sse = float(((predicted.double() - observed) ** 2).sum())
        self.pairs.append((sse, float(observed.sum()), float((observed ** 2).sum()),
                           observed.numel()))
        return sse / observed.numel()

    @property
    def full(self) -> bool:
        return len(self.pairs) == self.pairs.maxlen

    def r2(self) -> float:
        if not self.pairs:
            return math.nan
        sse, total, squares, count = (sum(v) for v in zip(*self.pairs))
        return r2_score(sse, squares - total * total / count)

    def mse(self) -> float:
        if not self.pairs:
            return math.nan
        return sum(p[0] for p in self.pairs) / sum(p[3] for p in self.pairs)


def warm_start(predictor: TransformerActionConditionedPredictor,
               below: TransformerActionConditionedPredictor) -> None:
    """Load the level below's weights into `predictor`.

    Each macro-action's embedding is the sum of its two halves' embeddings below
    (m = first half + A^L x second half).
    """
    state = {name: value for name, value in below.state_dict().items()
             if not name.startswith('motion_head.')}
    embedding = state['action_embed.weight']
    half = embedding.shape[0]
    if predictor.config.num_actions != half * half:
        raise ValueError(f'a level of {predictor.config.num_actions} macro-actions does not '
                         f'double one of {half}')
    index = torch.arange(half * half)
    state['action_embed.weight'] = embedding[index % half] + embedding[index // half]
    predictor.load_state_dict(state)


class Level:
    """One level k >= 1: its predictor (and acting copy), optimizer, macro transitions."""

    def __init__(self, index: int, below: TransformerActionConditionedPredictor,
                 num_actions: int, lr: float, weight_decay: float, capacity: int, window: int,
                 seed: int):
        self.index, self.length, self.num_actions = index, 2 ** index, num_actions
        # A macro-move's prediction is decoded alone (no advection): 2^k moves shift the view
        # further than a kernel reaches.
        config = replace(below.config, num_actions=num_actions ** self.length, max_history=1,
                         advection_x=0, advection_y=0)
        with torch.random.fork_rng(devices=[]):  # overwritten below: leave the generator be
            self.predictor = TransformerActionConditionedPredictor(config)
        # It starts from what the level below knows (a move of 2^k steps is two of 2^(k-1)).
        warm_start(self.predictor, below)
        self.acting = self.predictor
        self.optimizer = torch.optim.AdamW(self.predictor.parameters(), lr=lr,
                                           weight_decay=weight_decay)
        self.buffer = TransitionBuffer(capacity, seed + index)
        self.online = RunningR2(window)
        self.training_step = 0
        self.generator = torch.Generator().manual_seed(seed + index)

    @property
    def num_macros(self) -> int:
        return self.num_actions ** self.length

    def names(self, action_names: Sequence[str]) -> List[str]:
        """Return each macro-action as its actions' names joined by '+', in index order."""
        return ['+'.join(str(action_names[a])
                         for a in decode_macro(m, self.length, self.num_actions))
                for m in range(self.num_macros)]


class Hierarchy:
    """Levels 1..n above a world model: creation rule, macro transitions, training, plans."""

    def __init__(self, config: HierarchyConfig, model, num_actions: int, batch_size: int = 8,
                 capacity: int = 1000, separate_actor: bool = False, seed: int = 0):
        config.validate()
        self.config = config
        self.num_actions = num_actions
        self.batch_size, self.capacity, self.seed = batch_size, capacity, seed
        self.separate_actor = separate_actor
        self.max_levels = levels_that_fit(num_actions, config.hierarchy_levels)
        self.levels: List[Level] = []
        self.level0 = RunningR2(config.level_creation_window)
        self.patch_size = model.config.vit.patch_size
        # Levels learn at the one-step predictor's current rate (explicit, saved or config's).
        self.predictor_optimizer = model.predictor_optimizer
        self.weight_decay = model.config.weight_decay
        span = 2 ** self.max_levels
        self._frames: deque = deque(maxlen=span + 1)
        self._actions: deque = deque(maxlen=span)
        self.plan: deque = deque()
        self.macro_selections: Dict[int, int] = {}
        self.rng = np.random.default_rng(seed)

    # -- levels ------------------------------------------------------------------------------

    def create_level(self, model) -> Level:
        """Add the next level, warm-started from the level below.

        Level 1 starts from `model`'s predictor (the acting copy, consistent under the loop's
        lock); the level's acting copy is separate if asked.
        """
        if len(self.levels) >= self.max_levels:
            raise ValueError(f'already {len(self.levels)} levels, the most allowed')
        below = self.levels[-1].acting if self.levels else model.predictor
        level = Level(len(self.levels) + 1, below, self.num_actions,
                      self.predictor_optimizer.param_groups[0]['lr'], self.weight_decay,
                      self.capacity, self.config.level_creation_window, self.seed)
        if self.separate_actor:
            level.acting = copy.deepcopy(level.predictor)
        self.levels.append(level)
        self.macro_selections[level.index] = 0
        return level

    def reliability(self, index: int) -> RunningR2:
        """Return the running held-out R² of level `index` (0 = the one-step predictor)."""
        return self.level0 if index == 0 else self.levels[index - 1].online

    def maybe_create(self, model) -> Optional[Level]:
        """Create the next level if the top level is reliable (window full, R² >= threshold)."""
        if len(self.levels) >= self.max_levels:
            return None
        top = self.reliability(len(self.levels))
        if top.full and top.r2() >= self.config.level_creation_r2:
            return self.create_level(model)
        return None

    # -- the stream of steps -----------------------------------------------------------------

    def break_history(self) -> None:
        """Forget the window: no macro transition spans a break in the history."""
        self._frames.clear()
        self._actions.clear()
        self.plan.clear()

    @torch.no_grad()
    def observe(self, model, frame: np.ndarray, label: int, next_frame: np.ndarray,
                predicted: Optional[torch.Tensor]) -> List[Level]:
        """Take one recorded step; return the levels this created.

        model: the acting world model (its encoder/decoder judge the levels' fresh
        predictions); label: the action label applied; predicted: level 0's predicted patches
        (N, P) for that action, or None when it made none (gated).
        """
        observed = patchify(model.to_tensor([next_frame]), self.patch_size)[0]
        if predicted is not None:
            self.level0.add(predicted, observed)
        if not self._frames or not (self._frames[-1] is frame
                                    or np.array_equal(self._frames[-1], frame)):
            self._frames.clear()  # a new stream (a plan chosen from its frame stays)
            self._actions.clear()
            self._frames.append(frame)
        self._frames.append(next_frame)
        self._actions.append(int(label))
        for level in self.levels:
            if len(self._actions) < level.length:
                continue
            macro = encode_macro(list(self._actions)[-level.length:], self.num_actions)
            start = self._frames[-level.length - 1]
            level.online.add(self.predict(model, level, start, [macro])[0][0], observed)
            level.buffer.add(Transition((start,), (macro,), next_frame))
        created = self.maybe_create(model)
        return [created] if created is not None else []

    # -- predicting and choosing -------------------------------------------------------------

    @torch.no_grad()
    def predict(self, model, level: Level, frame: np.ndarray, macros: Sequence[int]):
        """Return decoded patches (M, N, P) of each macro-action from `frame`.

        And the heads' disagreement (M,); by the level's acting copy on `model`'s encoder.
        """
        model.autoencoder.eval()
        features = model.autoencoder.encode(model.to_tensor([frame]))
        macros = torch.tensor(list(macros), dtype=torch.long)
        return predict_macros(model, level.acting, features.expand(len(macros), -1, -1),
                              macros)

    def select(self, model, frame: np.ndarray, uncertainty: Sequence[float],
               explorer, stalled: bool = False) -> tuple:
        """Return (action label, metadata): the plan's next step, a macro's first, or level 0's.

        `uncertainty`: level 0's per-action uncertainty; `explorer` chooses among primitive
        actions when none of the macro-actions is more uncertain per step, and ends its held
        action when `stalled` (the view stopped changing: `UncertaintyExplorer.select`).
        """
        if self.plan:
            return self.plan.popleft(), [{'plan': list(self.plan)}]
        best, scores = None, {}
        for level in self.levels:
            _, u = self.predict(model, level, frame, range(level.num_macros))
            per_step = (u / level.length).tolist()
            scores[level.index] = per_step
            top = max(per_step)
            if best is None or top > best[0]:
                ties = np.flatnonzero(np.asarray(per_step) == top)
                best = (top, level, int(self.rng.choice(ties)))
        if best is None or best[0] <= max(uncertainty):
            action, metadata = explorer.select(uncertainty, stalled)
            return explorer.actions.index(action), metadata
        _, level, macro = best
        self.macro_selections[level.index] += 1
        self.plan.extend(decode_macro(macro, level.length, self.num_actions))
        return self.plan.popleft(), [{'level': level.index, 'macro': macro,
                                      'uncertainty_per_step': scores}]

    # -- learning ----------------------------------------------------------------------------

    def sample(self) -> list:
        """Return [(level, batch)]: `level_train_steps` balanced batches per level.

        Every level with transitions; call under the loop's lock (the acting thread adds
        transitions).
        """
        return [(level, level.buffer.sample(self.batch_size, 1, True))
                for level in self.levels if len(level.buffer)
                for _ in range(self.config.level_train_steps)]

    def train(self, model, batches: list) -> Dict[str, float]:
        """One step of every level in `sample()`'s batches on the learner's encoder."""
        metrics = {}
        for level, batch in batches:
            metrics.update(self.train_level(model, level, batch))
        return metrics

    def train_level(self, model, level: Level, batch) -> Dict[str, float]:
        """One step of `level` on a batch (start frames (B, 1, ...), macros, end frames)."""
        history, macros, next_frames = batch
        level.predictor.train()
        b = macros.shape[0]
        with torch.no_grad():
            tokens = model.autoencoder.encode(torch.cat([history[:, 0], next_frames]))
        heads, _ = level.predictor.forward_heads(tokens[:b, None], macros)
        target = model.autoencoder.patchify(next_frames)
        bootstrap = (torch.rand(heads.shape[:2], generator=level.generator) < 0.5).float() \
            if heads.shape[1] > 1 else None
        losses = predictor_losses(model.autoencoder.decode(heads.mean(dim=1)), target, heads,
                                  tokens[b:], model.config.loss_weights, bootstrap=bootstrap)
        parameters = list(level.predictor.parameters())
        # Gradients of the level's own weights only: the shared encoder and decoder learn from
        # reconstruction (and level 0), never from a level.
        gradients = torch.autograd.grad(losses['total'], parameters)
        for parameter, gradient in zip(parameters, gradients):
            parameter.grad = gradient
        torch.nn.utils.clip_grad_norm_(parameters, model.config.grad_clip)
        level.optimizer.step()
        level.optimizer.zero_grad(set_to_none=True)
        level.training_step += 1
        name = f'level_{level.index}'
        return {f'{name}/predictor_training_loss': losses['total'].item(),
                f'{name}/predictor_explained_variance': r2_score(
                    losses['patch'].item(), target.var(unbiased=False).item()),
                f'{name}/predictor_training_step': level.training_step}

    def sync_actor(self) -> None:
        """Copy every level's learner weights to its acting copy."""
        for level in self.levels:
            if level.acting is not level.predictor:
                level.acting.load_state_dict(level.predictor.state_dict())

    # -- reporting and state -----------------------------------------------------------------

    def metrics(self) -> Dict[str, float]:
        """Return the figures of every level, level 0 included.

        `hierarchy/levels`, `prediction_errors/level_k` (mean MSE of the last fresh
        predictions) and `hierarchy/level_k_r2` (their R²).
        """
        values = {'hierarchy/levels': len(self.levels)}
        for index in range(len(self.levels) + 1):
            running = self.reliability(index)
            values[f'prediction_errors/level_{index}'] = running.mse()
            values[f'hierarchy/level_{index}_r2'] = running.r2()
        for index, count in self.macro_selections.items():
            values[f'hierarchy/level_{index}_macro_selections'] = count
        return values

    def state_tensors(self) -> Dict[str, torch.Tensor]:
        """Every level's weights and optimizer state (`level_<k>.*`, `level_<k>_optimizer.*`)."""
        tensors = {}
        for level in self.levels:
            tensors.update(prefixed(f'level_{level.index}', level.predictor.state_dict()))
            tensors.update(prefixed(f'level_{level.index}_optimizer',
                                    optimizer_to_tensors(level.optimizer)[0]))
        return tensors

    def state_metadata(self) -> dict:
        return {'levels': len(self.levels),
                'training_steps': [level.training_step for level in self.levels],
                'optimizers': [optimizer_to_tensors(level.optimizer)[1]
                               for level in self.levels]}

    def load_state(self, model, tensors: Dict[str, torch.Tensor], metadata: dict) -> None:
        """Recreate the saved levels and their weights; ValueError if more than allowed."""
        count = int(metadata.get('levels', 0))
        if count > self.max_levels:
            raise ValueError(f'checkpoint has {count} hierarchy levels, this configuration '
                             f'allows {self.max_levels} (hierarchy_levels)')
        while len(self.levels) < count:
            self.create_level(model)
        for level, steps in zip(self.levels, metadata.get('training_steps', [])):
            level.predictor.load_state_dict(unprefixed(f'level_{level.index}', tensors))
            level.training_step = int(steps)
        # Optimizer state (moments, step counts); a checkpoint from before it was saved
        # leaves the levels' optimizers fresh. The rate stays the one-step predictor's.
        for level, saved in zip(self.levels, metadata.get('optimizers', [])):
            optimizer_from_tensors(level.optimizer,
                                   unprefixed(f'level_{level.index}_optimizer', tensors), saved)
            for group in level.optimizer.param_groups:
                group['lr'] = self.predictor_optimizer.param_groups[0]['lr']
        self.sync_actor()
