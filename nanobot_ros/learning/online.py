"""The world_model node's runtime without ROS: settings, the learner, its thread, its figures.

`OnlineConfig` holds the node's settings beside the model's sizes and the loop's (LoopConfig);
`build_online_learner` makes the loop the node runs (learner, acting copy, optional levels),
resumed from its checkpoint when there is one. `OnlineWorldModel` runs it: a frame in, a
decision out (`check`, `decide`; `reject` counts a frame that fails the check), what was sent
back in (`answered`), the robot's executed reports in (`executed`), every figure in one dict
(`status_values`: the node's status message, /diagnostics and summary.json read it), and
`stop`. It owns the loop, the transition
labeller, the learner thread, the save cadence, the experiment log and every counter; the node
keeps message conversion, publishers, the override and the answer deadline.
"""
from collections import Counter
from dataclasses import dataclass, field, replace
import math
from pathlib import Path
import threading
from typing import Callable, Dict, List, Optional

import numpy as np

from nanobot_ros.contract import ACTION_OVERRIDE
from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig, Perception
from nanobot_ros.learning.experiment_log import ExperimentLog
from nanobot_ros.learning.hierarchy import Hierarchy, HierarchyConfig
from nanobot_ros.learning.persistence import WorldModelCheckpoints
from nanobot_ros.learning.transition_labels import LabelConfig, Step, TransitionLabeller
from nanobot_ros.learning.visualize import learning_curve, patches_to_image, \
    prediction_grid, save_png, with_level_rows
from nanobot_ros.learning.world_model import WorldModel, WorldModelConfig, WorldModelSize
from nanobot_ros.models.losses import LossWeights
from nanobot_ros.robots.sim.selectors import SelectorConfig

# The learner's last training figures (the reference's W&B metric names), as the status
# message spells them.
METRIC_FIELDS = ('autoencoder_training_loss', 'mask_ratio', 'predictor_training_loss',
                 'predictor_patch_loss', 'predictor_latent_loss', 'predictor_action_loss',
                 'predictor_explained_variance')
# The figures of `status_values` a stack run lifts into summary.json (its `world_model`).
SUMMARY_FIGURES = (
    'online_explained_variance', 'predictor_explained_variance', 'reconstruction_loss',
    'autoencoder_training_loss', 'predictor_training_loss', 'predictor_patch_loss',
    'predictor_latent_loss', 'autoencoder_training_step', 'predictor_training_step',
    'actions_sent', 'gated_frames', 'gated_seconds', 'frames_rejected', 'transitions',
    'holds_ended_stalled', 'replay_shares')
HISTORY_LIMIT = 20000  # learner steps kept for the learning curve


@dataclass
class OnlineConfig:
    """Persistence, learning rates, timing rules, debug output and exploration of the node."""

    run_dir: str = ''                 # learning curve, last prediction grid, W&B files
    checkpoint_dir: str = ''          # '' = no persistence
    checkpoint_name: str = 'world_model'
    save_interval: int = 500          # learner steps between saves (0 = only at shutdown)
    # The learning rates of a fresh start, and explicit ones (0 = the saved, else the config's).
    config_autoencoder_lr: float = WorldModelConfig.autoencoder_lr
    config_predictor_lr: float = WorldModelConfig.predictor_lr
    autoencoder_lr: float = 0.0
    predictor_lr: float = 0.0
    # The predictor's latent loss against its patch loss (models/losses.py), fresh or resumed.
    # The dot world needs it (every token carries it, where only the dot's patches carry
    # patch loss); in the room it pulls the tokens of the strip a turn brings into view to the
    # mean of what could be there, which decodes to a smear (docs/world_model.md, "The latent
    # loss and the resets").
    latent_loss_weight: float = LossWeights.latent
    training_precision: str = WorldModelConfig.training_precision  # float32, bfloat16 or auto
    action_names: List[str] = field(default_factory=lambda: ['action'])
    answer_deadline: float = 0.35     # no action later than this after the frame's stamp (s)
    sync_interval: int = 5            # learner steps between copies to the acting model
    debug_image_interval: int = 5     # frames between debug images (0 = never)
    log_interval: int = 100           # steps between W&B / console metrics
    wandb_project: str = ''           # '' = no W&B
    selector: str = 'uncertainty'     # or a runner selector (robots/sim/selectors.py)
    torch_threads: int = 1
    override_topic: str = ACTION_OVERRIDE.name  # a person's next action replaces the model's

    def __post_init__(self):
        if self.answer_deadline <= 0:
            raise ValueError(f'answer_deadline must be > 0, got {self.answer_deadline}')
        if self.sync_interval < 1 or self.log_interval < 1:
            raise ValueError('sync_interval and log_interval must be >= 1')


@dataclass
class OnlineLearner:
    """The node's loop and where its state came from."""

    loop: AdaptiveWorldModelLoop
    model_config: WorldModelConfig
    checkpoints: Optional[WorldModelCheckpoints]
    lr_sources: Dict[str, str]        # optimizer -> 'explicit' | 'checkpoint' | 'config'
    resumed_from: Optional[str]       # the checkpoint file read, None on a fresh start


def build_online_learner(settings: OnlineConfig, size: WorldModelSize, loop_config: LoopConfig,
                         hierarchy_config: HierarchyConfig, selector=None) -> OnlineLearner:
    """Build the learner, its acting copy and the levels; resume from the checkpoint if any.

    `selector` None explores by uncertainty. Raises ValueError for a checkpoint of another
    model configuration and CheckpointError when neither it nor its backup can be read.
    """
    model_config = WorldModelConfig.of_size(
        size, len(loop_config.actions), autoencoder_lr=settings.config_autoencoder_lr,
        predictor_lr=settings.config_predictor_lr,
        loss_weights=LossWeights(latent=settings.latent_loss_weight),
        training_precision=settings.training_precision)
    learner = WorldModel(model_config, seed=loop_config.seed)
    actor = WorldModel(model_config, seed=loop_config.seed)
    hierarchy = (Hierarchy(hierarchy_config, learner, len(loop_config.actions),
                           loop_config.batch_size, loop_config.buffer_capacity,
                           separate_actor=True, seed=loop_config.seed)
                 if hierarchy_config.hierarchy_levels else None)
    # Gradient details on exactly the steps that are logged.
    loop = AdaptiveWorldModelLoop(
        learner, replace(loop_config, detailed_metrics_interval=settings.log_interval),
        selector, actor, hierarchy)
    checkpoints = (WorldModelCheckpoints(Path(settings.checkpoint_dir).expanduser(),
                                         settings.checkpoint_name)
                   if settings.checkpoint_dir else None)
    lr_sources = learner.resolve_learning_rates(settings.autoencoder_lr, settings.predictor_lr,
                                                restored=False)
    resumed_from = None
    if checkpoints is not None:
        restored = checkpoints.restore(loop, settings.autoencoder_lr, settings.predictor_lr)
        if restored is not None:
            resumed_from, lr_sources = restored
    loop.sync_actor()
    return OnlineLearner(loop, model_config, checkpoints, lr_sources, resumed_from)


@dataclass
class Decision:
    """What the model makes of one frame: its perception and its choice (None while gated).

    `discarded` says why the step this frame closed was not learned from, when the robot's
    report made it unusable (None otherwise).
    """

    perception: Perception
    action: Optional[int]
    discarded: Optional[str] = None

    @property
    def gated(self) -> bool:
        return self.perception.gated


class OnlineWorldModel:
    """The world model learning online: frames in, decisions out, a learner thread behind.

    Calls from one thread (the node's): `decide` / `reject` per frame, `answered` after each
    `decide`, `executed` per robot report, `status_values` any time. The learner thread runs
    from `start()` to `stop()`; `report_error(text)` hears what it could not do.
    """

    def __init__(self, settings: OnlineConfig, size: WorldModelSize, loop_config: LoopConfig,
                 label_config: LabelConfig = LabelConfig(),
                 hierarchy_config: HierarchyConfig = HierarchyConfig(),
                 selector_config: SelectorConfig = SelectorConfig(),
                 report_error: Callable[[str], None] = print):
        built = build_online_learner(
            settings, size, loop_config, hierarchy_config,
            None if settings.selector == 'uncertainty'
            else replace(selector_config, selector=settings.selector).make(loop_config.actions))
        self.settings = settings
        self.loop, self.checkpoints = built.loop, built.checkpoints
        self.model_config = built.model_config
        self.lr_sources, self.resumed_from = built.lr_sources, built.resumed_from
        self.labeller = TransitionLabeller(loop_config.actions, loop_config.idle_action,
                                           label_config)
        self.report_error = report_error
        self.experiment = ExperimentLog(
            settings.wandb_project, settings.run_dir or '.',
            {'model': self.model_config.to_dict(), 'selector': settings.selector,
             'reconstruction_threshold': loop_config.reconstruction_threshold})
        self.frames = 0
        self.actions_sent = 0
        self.answers_too_late = 0
        self.gated_seconds = 0.0
        self.state = 'gated'
        self.last_action: Optional[int] = None
        self.last_latency_ms = math.nan
        self.transition_actions = Counter()  # transitions learned, by action label
        self.save_errors = 0
        self.last_save_step = self._learner_steps()
        self.last_grid: Optional[np.ndarray] = None
        self.last_diagnostics: Dict[str, float] = {}
        self.history: List[Dict[str, float]] = []
        self._pending = None  # (Perception, Step) of the last frame answered
        self._on_attention: Callable[[np.ndarray], None] = lambda heatmap: None
        self._stop = threading.Event()
        self._learner = threading.Thread(target=self._train_forever, name='learner',
                                         daemon=True)

    def describe(self) -> str:
        """One line: the model, the selector, the gate and where the state came from."""
        vit = self.model_config.vit
        return (f'patch {vit.patch_size}, dim {vit.embed_dim}, selector '
                f'{self.settings.selector}, gate at reconstruction loss '
                f'{self.loop.config.reconstruction_threshold}; learner steps in '
                f'{str(self.loop.learner.training_dtype).removeprefix("torch.")}; '
                f'learning rates from {self.lr_sources}; '
                + (f'actions replayed backwards as each other: '
                   f'{list(self.loop.config.inverse_action_pairs)}; '
                   if self.loop.config.inverse_action_pairs else '')
                + (f'resumed from {self.resumed_from}' if self.resumed_from else 'fresh start'))

    def start(self, on_attention: Optional[Callable[[np.ndarray], None]] = None) -> None:
        """Start the learner thread; `on_attention(heatmap)` gets each logged attention map."""
        if on_attention is not None:
            self._on_attention = on_attention
        self._learner.start()

    # -- acting (the caller's thread) --------------------------------------------------------

    def reject(self) -> None:
        """Count a frame that could not be used; no transition spans it."""
        self.loop.frames_rejected += 1
        self._pending = None
        self.loop.break_history()

    def check(self, frame) -> np.ndarray:
        """Return the frame as the model takes it; FrameRejected (a ValueError) says why not.

        After a rejection call `reject()`.
        """
        return self.loop.check_frame(frame)

    def decide(self, frame: np.ndarray, key, stamp: float) -> Decision:
        """Close the previous step with `frame` (from `check`), perceive it, choose an action.

        `key` is the frame's stamp as the robot's executed reports carry it, `stamp` the same
        in seconds.
        """
        self.frames += 1
        discarded = self._close_pending(stamp, frame)
        perception = self.loop.perceive_checked(frame)
        return Decision(perception, self.loop.select(perception), discarded)

    def answered(self, decision: Decision, key, stamp: float, sent: Optional[int],
                 sent_at: float, latency_s: float, state: str) -> None:
        """Record the answer to `decide`'s frame: the action sent (None = none) and when.

        `state` is the status message's: gated, acting, late (the answer would have come
        after the deadline: nothing sent) or override.
        """
        if state == 'late':
            self.answers_too_late += 1
        if sent is not None:
            self.actions_sent += 1
        self.state, self.last_action = state, sent
        self.last_latency_ms = latency_s * 1e3
        self._pending = (decision.perception, Step(key, stamp, sent, sent_at))

    def executed(self, key, action: int, source: str = '') -> None:
        """Record the robot's report: it did `action` in the step from the frame of `key`."""
        self.labeller.report(key, action, source)

    def _close_pending(self, stamp: float, frame: np.ndarray) -> Optional[str]:
        if self._pending is None:
            return None
        perception, step = self._pending
        self._pending = None
        if perception.gated:
            self.gated_seconds += max(0.0, stamp - step.stamp)
        rejected = self.labeller.executed_rejected
        label = self.labeller.label(step, stamp)
        if label.action is None:
            self.loop.break_history()
            return label.reason if self.labeller.executed_rejected > rejected else None
        self.loop.record_outcome(perception, label.action, frame)
        self.transition_actions[label.action] += 1
        return None

    def images(self, perception: Perception, sent: Optional[int]) -> tuple:
        """Return (decoded frame, prediction grid) as rgb8 arrays; keep the grid for the log."""
        patch = self.model_config.vit.patch_size
        reconstruction = patches_to_image(perception.reconstruction[0], patch)
        predictions = ([patches_to_image(p, patch) for p in perception.predictions]
                       if perception.predictions is not None else [])
        actions = self.loop.actions
        grid = prediction_grid(perception.frame, reconstruction, predictions,
                               [f'action {a}' for a in actions],
                               None if sent is None else actions.index(sent))
        hierarchy = self.loop.hierarchy
        if hierarchy is not None and hierarchy.levels and not perception.gated:
            rows = []
            with self.loop.lock:
                for level in hierarchy.levels:
                    patches, _ = hierarchy.predict(self.loop.actor, level, perception.frame,
                                                   range(level.num_macros))
                    rows.append((f'L{level.index}',
                                 [patches_to_image(p, patch) for p in patches],
                                 level.names([str(a) for a in actions])))
            grid = with_level_rows(grid, rows)
        self.last_grid = grid
        return reconstruction, grid

    # -- figures -----------------------------------------------------------------------------

    def status_values(self) -> dict:
        """Every figure of the world model, JSON-ready (None = not measured / not finite)."""
        loop, learner, metrics = self.loop, self.loop.learner, self.loop.last_metrics
        return {
            'state': self.state, 'gated': loop.gated, 'selector': self.settings.selector,
            'action': -1 if self.last_action is None else int(self.last_action),
            'actions': [int(a) for a in loop.actions],
            'reconstruction_threshold': float(loop.config.reconstruction_threshold),
            'frames': self.frames, 'frames_rejected': loop.frames_rejected,
            'actions_sent': self.actions_sent, 'answers_too_late': self.answers_too_late,
            **self.labeller.counters(),
            'transition_actions': {str(a): n for a, n in
                                   sorted(self.transition_actions.items())},
            'gated_frames': loop.gated_frames,
            'gated_seconds': round(self.gated_seconds, 3),
            'transitions_discarded': loop.transitions_discarded,
            'holds_ended_stalled': loop.explorer.holds_ended_stalled,
            'transitions': loop.buffer.added,
            'autoencoder_training_step': learner.autoencoder_training_step,
            'predictor_training_step': learner.predictor_training_step,
            'reconstruction_loss': finite_or_none(loop.last_reconstruction_loss),
            'online_explained_variance': finite_or_none(loop.online_explained_variance()),
            'uncertainty': loop.uncertainty(),
            'last_prediction_error': [finite_or_none(loop.last_prediction_error.get(a))
                                      for a in loop.actions],
            # Each action's share of the replay draws ([] = evenly over the actions stored).
            'replay_shares': [round(share, 4) for share in
                              (loop.action_errors.weights() or {}).values()],
            'answer_latency_ms': finite_or_none(self.last_latency_ms),
            'save_errors': self.save_errors, 'resumed_from': self.resumed_from or '',
            **{name: finite_or_none(metrics.get(name)) for name in METRIC_FIELDS},
            **{name: finite_or_none(value) for name, value in self.last_diagnostics.items()},
            **{name: finite_or_none(value) for name, value in self._hierarchy_metrics().items()},
        }

    def _hierarchy_metrics(self) -> dict:
        """`prediction_errors/level_k` and the levels' figures (none without a hierarchy)."""
        if self.loop.hierarchy is None:
            return {}
        with self.loop.lock:
            return self.loop.hierarchy.metrics()

    # -- learning (the learner thread) -------------------------------------------------------

    def _learner_steps(self) -> int:
        learner = self.loop.learner
        return learner.autoencoder_training_step + learner.predictor_training_step

    def _train_forever(self) -> None:
        steps = 0
        while not self._stop.is_set():
            try:
                metrics = self.loop.train()
            except Exception as error:  # noqa: B902 - keep learning alive, say what broke
                self.report_error(f'training step failed: {error!r}')
                self._stop.wait(1.0)
                continue
            if metrics is None:
                self._stop.wait(0.05)
                continue
            steps += 1
            if steps % self.settings.sync_interval == 0:
                self.loop.sync_actor()
            metrics = dict(metrics, online_explained_variance=(
                self.loop.online_explained_variance()), reconstruction_loss=(
                self.loop.last_reconstruction_loss), action_count=self.actions_sent)
            if len(self.history) < HISTORY_LIMIT:
                self.history.append(metrics)
            # Every learner step trains the autoencoder: its counter counts learner steps (the
            # sum with the predictor's grows by 2 per joint step and could skip every multiple).
            step = self.loop.learner.autoencoder_training_step
            if step % self.settings.log_interval == 0:
                metrics.update(self._diagnose())
                metrics.update(self._hierarchy_metrics())
                self.experiment.log(metrics, step=step)
                if self.last_grid is not None:
                    self.experiment.log_image('predictions_visualization', self.last_grid,
                                              step=step)
            if (self.settings.save_interval and self._learner_steps() - self.last_save_step
                    >= self.settings.save_interval):
                self._save()

    def _diagnose(self) -> dict:
        """Introspect the learner (attention, counterfactuals); hand on the attention map."""
        result = self.loop.diagnostics()
        if result is None:
            return {}
        self.last_diagnostics, heatmap = result
        self._on_attention(heatmap)
        return self.last_diagnostics

    def _save(self) -> None:
        if self.checkpoints is None:
            return
        try:
            self.checkpoints.save(self.loop)
            self.last_save_step = self._learner_steps()
        except OSError as error:
            self.save_errors += 1
            self.report_error(f'checkpoint not saved: {error}')

    def stop(self) -> None:
        """Stop the learner, save, write the learning curve and the last grid, end the log."""
        self._stop.set()
        if self._learner.is_alive():
            self._learner.join(timeout=30.0)
        if self.checkpoints is not None and self._learner_steps() != self.last_save_step:
            self._save()
        if self.settings.run_dir:
            try:
                run_dir = Path(self.settings.run_dir)
                learning_curve(self.history, run_dir / 'world_model_learning_curve.png')
                if self.last_grid is not None:
                    save_png(self.last_grid, run_dir / 'world_model_predictions.png')
            except (OSError, ValueError) as error:
                self.report_error(f'could not write pictures: {error}')
        self.experiment.finish()


def finite_or_none(value) -> Optional[float]:
    """Return `value` as a float, None when it is missing or not finite (JSON has no NaN)."""
    return float(value) if value is not None and math.isfinite(value) else None
