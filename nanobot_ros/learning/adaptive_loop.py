"""The reference's adaptive world model loop, without ROS: perceive, predict, select, act, learn.

Per frame:
  1. `perceive(frame)`: check the frame, measure the autoencoder's reconstruction loss on it
     and (unless gated) predict the next frame for every action in the action space;
  2. `select(perception)`: gated -> None (do not act: the reference's quality gating while
     reconstruction loss > threshold); else the selector's action (uncertainty-driven
     exploration by default: the predictor heads' disagreement about each action's outcome,
     `learning/exploration.py`; any runner selector can be plugged in);
  3. the caller executes the action (or nothing) and, with the next frame,
  4. `record_outcome(perception, applied_action, next_frame)`: compare the prediction made for
     the applied action with what happened (the online R²), store the transition;
  5. `train()`: one learner step: autoencoder only while gated, else a joint step.

The node runs 1-4 on the ROS thread and 5 in a background thread (`learner` and `actor` are
then separate WorldModel instances, `sync_actor()` copies weights); the bench and tests call
`step()` which does all five in order.
"""
from collections import deque
from dataclasses import dataclass, field
import math
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from nanobot_ros.learning.exploration import UncertaintyExplorer
from nanobot_ros.learning.hierarchy import Hierarchy, RunningR2
from nanobot_ros.learning.replay_buffer import (ActionErrors, mean_squared_change,
                                                Transition, TransitionBuffer)
from nanobot_ros.learning.world_model import action_patch_losses, WorldModel
from nanobot_ros.models.vit import patchify


class FrameRejected(ValueError):
    """A frame the world model cannot use (wrong size, non-finite, wrong type)."""


@dataclass
class LoopConfig:
    """Behaviour of the loop: action space, gating, replay, exploration."""

    actions: Sequence[int] = (0, 1)
    idle_action: int = 0
    reconstruction_threshold: float = 0.001
    buffer_capacity: int = 1000
    batch_size: int = 8
    newest_in_batch: int = 1
    train_steps_per_frame: int = 1
    exploration_epsilon: float = field(default=0.0, metadata={'description': (
        'share of frames on which the explorer takes a uniformly random action instead of '
        'the most uncertain one (1 = a uniformly random selector)')})
    exploration_temperature: float = field(default=0.0, metadata={'description': (
        'the explorer samples action a with probability proportional to exp(u(a) / max u / '
        'temperature) (0 = the most uncertain action)')})
    exploration_relative: bool = field(default=False, metadata={'description': (
        'score each action by its uncertainty over its own running mean (chosen where its '
        'outcome is more doubtful than usual): for worlds where one action always changes '
        'the view most')})
    exploration_hold: float = field(default=1.0, metadata={'description': (
        'mean frames the explorer holds each action it chooses (drawn geometric; 1 = a new '
        'choice every frame): held moves cross the room and reach its walls, where one-frame '
        'choices dither in place')})
    exploration_hold_stall: float = field(default=0.0, metadata={'description': (
        'a held action ends early when the frame it led to differs from the one before by a '
        'mean squared change (pixels in [0, 1]) below this: the robot is not moving (pressed '
        'against a wall, or stop held); 0 = every hold runs its course')})
    balance_actions: bool = field(default=True, metadata={'description': (
        'draw replay batches evenly over the actions in the buffer (an explorer that mostly '
        'takes one action then does not forget the others)')})
    replay_error_share: float = field(default=0.0, metadata={'description': (
        'with balance_actions, the share of replay draws spread over the actions in '
        'proportion to their running prediction error, the rest evenly: learner steps go to '
        'the moves the model predicts worst, not to a stop it already predicts (0 = evenly)')})
    inverse_action_pairs: Sequence[int] = field(default=(), metadata={'description': (
        'pairs of actions that undo each other, flattened ([a, b, c, d]: a and b, c and d): '
        'with balance_actions a transition of one, played backwards, is drawn as one of the '
        'other too (a left turn undone is a right turn): each learns from the poses of both. '
        'One history frame only; a transition in which the view changed less than '
        'exploration_hold_stall is not played backwards (a wall that blocked it would not)')})
    lr_decay_steps: int = field(default=0, metadata={'description': (
        'learner steps over which both learning rates fall (half a cosine) to lr_final_ratio '
        'of their start, then stay there (0 = constant learning rates)')})
    lr_final_ratio: float = field(default=0.1, metadata={'description': (
        'the learning rates after lr_decay_steps, as a share of their start')})
    detailed_metrics_interval: int = 100
    online_window: int = 50
    # Ablation: the predictor is always told action 0 (how much does the action explain?).
    ignore_actions: bool = False
    seed: int = 0

    def validate(self) -> None:
        """Raise ValueError naming the first setting that makes no sense."""
        if self.idle_action not in self.actions:
            raise ValueError(f'idle_action {self.idle_action} is not in actions '
                             f'{list(self.actions)}')
        if not self.reconstruction_threshold > 0:
            raise ValueError('reconstruction_threshold must be > 0')
        if not self.exploration_hold >= 1:
            raise ValueError(f'exploration_hold must be >= 1 frame, got {self.exploration_hold}')
        if not self.exploration_hold_stall >= 0:
            raise ValueError(f'exploration_hold_stall must be >= 0, got '
                             f'{self.exploration_hold_stall}')
        if self.batch_size < 1 or self.train_steps_per_frame < 0:
            raise ValueError('batch_size must be >= 1 and train_steps_per_frame >= 0')
        if not 0 <= self.replay_error_share <= 1:
            raise ValueError(f'replay_error_share must be in [0, 1], got '
                             f'{self.replay_error_share}')
        pairs = list(self.inverse_action_pairs)
        if len(pairs) % 2 or len(set(pairs)) != len(pairs) or \
                not set(pairs) <= set(self.actions):
            raise ValueError(f'inverse_action_pairs must pair distinct actions of '
                             f'{list(self.actions)}, each at most once, got {pairs}')
        if self.lr_decay_steps < 0 or not 0 < self.lr_final_ratio <= 1:
            raise ValueError(f'lr_decay_steps must be >= 0 and lr_final_ratio in (0, 1], got '
                             f'{self.lr_decay_steps} and {self.lr_final_ratio}')

    def learning_rate_scale(self, step: int) -> float:
        """Return the learning rates' share of their start at learner step `step`.

        A constant learning rate leaves a small model's predictions of every move blurred on
        the room (its batches' noise keeps moving the weights); annealing it sharpens them.
        """
        if not self.lr_decay_steps:
            return 1.0
        done = min(step / self.lr_decay_steps, 1.0)
        return self.lr_final_ratio + (1 - self.lr_final_ratio) * 0.5 * (1 + math.cos(
            math.pi * done))


@dataclass
class Perception:
    """What the loop saw and predicted for one frame."""

    frame: np.ndarray
    history_frames: tuple
    history_actions: tuple
    reconstruction_loss: float
    gated: bool
    predictions: Optional[torch.Tensor] = None  # (A, N, P) patches, one per action
    uncertainty: Optional[List[float]] = None  # per action: the heads' disagreement
    reconstruction: Optional[torch.Tensor] = None  # (1, N, P) decoded frame
    # Mean squared change (pixels in [0, 1]) from the frame before; None after a break or
    # without a stall rule (exploration_hold_stall 0).
    change: Optional[float] = None
    action: Optional[int] = None
    selection_metadata: list = field(default_factory=list)


class AdaptiveWorldModelLoop:
    """Learner, actor, replay buffer, exploration and gating of the adaptive world model."""

    def __init__(self, learner: WorldModel, config: LoopConfig = LoopConfig(),
                 selector: Optional[Callable] = None, actor: Optional[WorldModel] = None,
                 hierarchy: Optional[Hierarchy] = None):
        config.validate()
        self.config = config
        self.learner = learner
        self.actor = actor or learner
        self.actions = list(config.actions)
        if len(self.actions) != learner.config.predictor.num_actions:
            raise ValueError(f'{len(self.actions)} actions but the predictor knows '
                             f'{learner.config.predictor.num_actions}')
        self.explorer = UncertaintyExplorer(self.actions, config.exploration_epsilon,
                                            config.exploration_temperature, config.seed,
                                            config.exploration_relative,
                                            config.exploration_hold)
        self.selector = selector
        # Macro-action levels above the predictor (learning/hierarchy.py), None = none.
        self.hierarchy = hierarchy
        pairs = [self.actions.index(a) for a in config.inverse_action_pairs]
        inverses = {} if config.ignore_actions else {
            **dict(zip(pairs[::2], pairs[1::2])), **dict(zip(pairs[1::2], pairs[::2]))}
        self.buffer = TransitionBuffer(config.buffer_capacity, config.seed, inverses,
                                       config.exploration_hold_stall)
        # Keyed by action label (the index into `actions`), as the buffer stores them.
        self.action_errors = ActionErrors(range(len(self.actions)), config.replay_error_share)
        self.history_length = learner.config.predictor.max_history
        self._frames: deque = deque(maxlen=self.history_length)
        self._actions: deque = deque(maxlen=self.history_length)
        self.lock = threading.Lock()  # guards buffer, gate state and actor weights
        self.gated = True
        self.frames_seen = 0
        self.frames_rejected = 0
        self.actions_taken = 0
        self.gated_frames = 0
        self.transitions_discarded = 0
        self.consecutive_autoencoder_iterations = 0
        self.last_metrics: Dict[str, float] = {}
        self.last_reconstruction_loss = math.nan
        self.last_prediction_error: Dict[int, float] = {}
        self.last_uncertainty: List[Optional[float]] = [None] * len(self.actions)
        # Recent fresh predictions and their outcomes, for online R².
        self._online = RunningR2(config.online_window)

    # -- acting ------------------------------------------------------------------------------

    def check_frame(self, frame) -> np.ndarray:
        """Return the frame as uint8 (H, W, 3) or raise FrameRejected saying why."""
        vit = self.learner.config.vit
        expected = (vit.img_size, vit.img_size, vit.in_chans)
        array = np.asarray(frame)
        if array.dtype != np.uint8:
            if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
                raise FrameRejected(f'frame holds non-finite or non-numeric values '
                                    f'({array.dtype})')
            raise FrameRejected(f'frame must be uint8 pixels, got {array.dtype}')
        if array.shape != expected:
            raise FrameRejected(f'frame is {array.shape}, the model sees {expected}')
        return array

    def perceive(self, frame) -> Perception:
        """Check the frame, measure reconstruction quality, predict every action's outcome."""
        try:
            frame = self.check_frame(frame)
        except FrameRejected:
            self.frames_rejected += 1
            raise
        return self.perceive_checked(frame)

    def perceive_checked(self, frame: np.ndarray) -> Perception:
        """`perceive` for a frame `check_frame` already returned (it is not checked again)."""
        self.frames_seen += 1
        change = None
        if self.config.exploration_hold_stall and self._frames:  # only the stall rule reads it
            change = mean_squared_change(self._frames[-1], frame)
        self._frames.append(frame)
        frames = tuple(self._frames)
        past = tuple(self._actions)[len(self._actions) - (len(frames) - 1):] \
            if len(frames) > 1 else ()
        with self.lock:
            loss, reconstruction = self.actor.reconstruct(frame)
            self.last_reconstruction_loss = loss
            gated = not loss <= self.config.reconstruction_threshold
            self.gated = gated
            perception = Perception(frame, frames, past, loss, gated,
                                    reconstruction=reconstruction, change=change)
            if not gated:
                candidates = ([0] * len(self.actions) if self.config.ignore_actions
                              else range(len(self.actions)))
                perception.predictions, disagreement = self.actor.predict_all(
                    frames, past, candidates)
                perception.uncertainty = disagreement.tolist()
                self.last_uncertainty = list(perception.uncertainty)
        return perception

    def select(self, perception: Perception) -> Optional[int]:
        """Return the action to take, or None while gated (the robot does not act)."""
        if perception.gated:
            self.gated_frames += 1
            if self.hierarchy is not None:
                self.hierarchy.plan.clear()
            return None
        stalled = (perception.change is not None
                   and perception.change < self.config.exploration_hold_stall)
        if self.selector:
            action, metadata = self.selector(perception.frame)
        elif self.hierarchy is not None and self.hierarchy.levels:  # a macro's step or level 0's
            with self.lock:
                label, metadata = self.hierarchy.select(self.actor, perception.frame,
                                                        perception.uncertainty, self.explorer,
                                                        stalled)
            action = self.actions[label]
        else:
            action, metadata = self.explorer.select(perception.uncertainty, stalled)
        if action not in self.actions:
            raise ValueError(f'selector returned {action!r}, not in {self.actions}')
        perception.action, perception.selection_metadata = action, metadata
        self.actions_taken += 1
        return action

    def record_outcome(self, perception: Perception, applied_action: Optional[int],
                       next_frame: np.ndarray) -> Optional[float]:
        """Learn what `applied_action` (None = nothing sent = idle) did; return its error.

        The history must still end with `perception`'s frame (call `break_history()` instead
        when the outcome is unknown).
        """
        action = self.config.idle_action if applied_action is None else applied_action
        error = predicted = None
        if perception.predictions is not None:
            observed = patchify(WorldModel.to_tensor([next_frame]),
                                self.learner.config.vit.patch_size)[0]
            predicted = perception.predictions[self.actions.index(action)]
            error = self._online.add(predicted, observed)
            self.last_prediction_error[action] = error
        # The predictor sees action indices (positions in the action space), not values.
        label = 0 if self.config.ignore_actions else self.actions.index(action)
        if len(perception.history_frames) == self.history_length:
            with self.lock:
                self.buffer.add(Transition(perception.history_frames,
                                           perception.history_actions + (label,), next_frame))
        if self.hierarchy is not None:
            with self.lock:
                self.hierarchy.observe(self.actor, perception.frame, label, next_frame,
                                       predicted)
        self._actions.append(label)
        return error

    def break_history(self) -> None:
        """Forget the history: the next frame does not follow the last one by a known action."""
        if self._frames:
            self.transitions_discarded += 1
        self._frames.clear()
        self._actions.clear()
        if self.hierarchy is not None:
            self.hierarchy.break_history()

    # -- learning ----------------------------------------------------------------------------

    def train(self) -> Optional[Dict[str, float]]:
        """One learner step on the buffer: autoencoder only while gated, else joint."""
        with self.lock:
            if not len(self.buffer):
                return None
            gated = self.gated
            if gated:
                batch = self.buffer.sample_frames(self.config.batch_size)
            else:
                batch = self.buffer.sample(self.config.batch_size,
                                           self.config.newest_in_batch,
                                           self.config.balance_actions,
                                           self.action_errors.weights())
                levels = self.hierarchy.sample() if self.hierarchy is not None else []
        if self.config.lr_decay_steps:
            self.learner.scale_learning_rates(
                self.config.learning_rate_scale(self.learner.autoencoder_training_step))
        if gated:
            metrics = self.learner.train_autoencoder(batch)
            self.consecutive_autoencoder_iterations += 1
            metrics['consecutive_autoencoder_iterations'] = \
                self.consecutive_autoencoder_iterations
        else:
            # Numbered as the node logs: by learner (= autoencoder) steps, this one included.
            detailed = ((self.learner.autoencoder_training_step + 1)
                        % self.config.detailed_metrics_interval == 0)
            metrics = self.learner.train_step(*batch, detailed=detailed)
            self.action_errors.update(action_patch_losses(metrics))
            if levels:
                metrics.update(self.hierarchy.train(self.learner, levels))
            self.consecutive_autoencoder_iterations = 0
        self.last_metrics = metrics
        return metrics

    def diagnostics(self) -> Optional[tuple]:
        """Return `WorldModel.diagnostics` of a replay batch (None while gated or empty).

        Attention metrics, counterfactuals, action sensitivity and an attention heatmap.
        """
        with self.lock:
            if self.gated or not len(self.buffer):
                return None
            batch = self.buffer.sample(self.config.batch_size, self.config.newest_in_batch,
                                       self.config.balance_actions)
        return self.learner.diagnostics(*batch)

    def sync_actor(self) -> None:
        """Copy the learner's weights to the actor (no-op when they are the same model)."""
        if self.actor is not self.learner:
            with self.lock:
                self.actor.copy_weights_from(self.learner)
                if self.hierarchy is not None:
                    self.hierarchy.sync_actor()

    def step(self, frame, execute: Callable[[Optional[int]], np.ndarray]) -> dict:
        """Run one whole cycle synchronously; `execute(action)` returns the next frame."""
        started = time.perf_counter()
        perception = self.perceive(frame)
        action = self.select(perception)
        next_frame = execute(action)
        self.record_outcome(perception, action, next_frame)
        metrics = [self.train() for _ in range(self.config.train_steps_per_frame)]
        return {'action': action, 'gated': perception.gated,
                'reconstruction_loss': perception.reconstruction_loss,
                'metrics': metrics[-1] if metrics else None,
                'seconds': time.perf_counter() - started, 'next_frame': next_frame}

    # -- state -------------------------------------------------------------------------------

    def counters(self) -> dict:
        """Counters and exploration state, JSON-ready (saved with checkpoints)."""
        return {'frames_seen': self.frames_seen, 'frames_rejected': self.frames_rejected,
                'actions_taken': self.actions_taken, 'gated_frames': self.gated_frames,
                'transitions_discarded': self.transitions_discarded,
                'explorer': self.explorer.state()}

    def load_counters(self, values: dict) -> None:
        """Restore what `counters()` returned."""
        for key in ('frames_seen', 'frames_rejected', 'actions_taken', 'gated_frames',
                    'transitions_discarded'):
            setattr(self, key, int(values.get(key, 0)))
        self.explorer.load_state(values.get('explorer'))

    def online_explained_variance(self) -> float:
        """R² in patch space of predictions made before their outcome was seen (nan if none).

        Over the last `online_window` acted frames; every one of these outcomes was unseen by
        the model when it predicted it, so this is a held-out figure.
        """
        return self._online.r2()

    def uncertainty(self) -> List[Optional[float]]:
        """Return the per-action uncertainty of the last frame perceived, in action order.

        None = none measured yet (gated so far).
        """
        return list(self.last_uncertainty)
