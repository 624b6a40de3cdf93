"""world_model: the reference's adaptive world model as a node.

It learns the robot's world online and explores by uncertainty.

Topics (relative: in the node's namespace; docs/graph.md)
  camera/image_raw           (sensor_msgs/Image, sensor-data QoS)   in
  robot/action_executed      (nanobot_msgs/Action, reliable)        in: what the robot did in
                                                                        the step from the frame
                                                                        of header.stamp
  robot/action_override      (nanobot_msgs/Action, reliable)        in: a person's next action
                                                                        (`override_topic`)
  robot/action               (nanobot_msgs/Action, reliable)        out: stamped with the frame
  world_model/status         (nanobot_msgs/WorldModelStatus)        out: one per handled frame
  world_model/reconstruction  (sensor_msgs/Image, rgb8)             out: decoded current frame
  world_model/predictions    (sensor_msgs/Image, rgb8)              out: current | decoded |
                                                                        predicted next per action
  /world_model/attention     (sensor_msgs/Image, rgb8)              out: the last predictor
                                                                        layer's attention of the
                                                                        future tokens (rows) over
                                                                        all tokens, every
                                                                        log_interval steps

Per frame (ROS thread): check the frame (once); close the previous step: the transition
(previous frame, action, this frame) is labelled with what the robot did, by the rules of
`learning/transition_labels.py` (the robot's /robot/action_executed reports when it sends them,
else the action sent and the timing). Then: perceive; select; publish the action
unless gated (reconstruction loss above threshold: the robot does not act) or the answer
would be later than `answer_deadline`. An override (robots/override.py: the reference's
interactive mode, e.g. from Foxglove) replaces the next action, gated or not, and goes out with
source `override`. Training runs in a background thread on a replay
buffer; the acting copy of the model gets the learner's weights every `sync_interval` steps.

Bad input: frames with the wrong encoding/size, inconsistent buffers or non-finite values are
rejected, counted (frames_rejected) and logged (throttled); the history is broken so no
transition spans them; the node keeps running. A corrupt checkpoint falls back to its backup;
a checkpoint for another model configuration is refused (ValueError at start: exit code 2).
"""
from collections import Counter
import math
from pathlib import Path
import threading
import time

import numpy as np
import torch

from nanobot_ros.data.convert import image_to_numpy, make_action, numpy_to_image, \
    stamp_to_seconds, to_rgb
from nanobot_ros.learning.adaptive_loop import LoopConfig
from nanobot_ros.learning.hierarchy import HierarchyConfig
from nanobot_ros.learning.online import build_online_learner, OnlineConfig
from nanobot_ros.learning.transition_labels import LabelConfig, Step, TransitionLabeller
from nanobot_ros.learning.world_model import WorldModelSize
from nanobot_ros.learning.experiment_log import ExperimentLog
from nanobot_ros.learning.visualize import learning_curve, patches_to_image, \
    prediction_grid, save_png, with_level_rows
from nanobot_ros.contract import (ACTION, ACTION_EXECUTED, ATTENTION, IMAGE, PREDICTIONS,
                                  RECONSTRUCTION, WORLD_MODEL_STATUS)
from nanobot_ros.nodes.common import NanobotNode, OK, qos_profile, run, subscribe_override, WARN
from nanobot_ros.robots.override import ActionOverride
from nanobot_ros.robots.sim.selectors import SELECTOR_NAMES, SelectorConfig
from nanobot_msgs.msg import Action, WorldModelStatus
from sensor_msgs.msg import Image

METRIC_FIELDS = ('autoencoder_training_loss', 'mask_ratio', 'predictor_training_loss',
                 'predictor_patch_loss', 'predictor_latent_loss', 'predictor_action_loss',
                 'predictor_explained_variance')
HISTORY_LIMIT = 20000
# Executed reports kept (newest): a report is used when the frame after its step comes, so only
# the last few matter; the rest are reports of frames this node never saw (dropped, rejected).
EXECUTED_MEMORY = 64
DESCRIPTIONS = {
    'override_topic': 'a person\'s next action (Action.index) replaces the model\'s ("" = none)',
    'run_dir': 'folder for the learning curve, last prediction grid and W&B files ("" = none)',
    'checkpoint_dir': 'where checkpoints live ("" = no persistence)',
    'checkpoint_name': 'checkpoint file name stem',
    'save_interval': 'save every N learner steps (0 = only at shutdown)',
    'img_size': 'camera image width and height the model expects',
    'actions': 'the action space (Action.index values)',
    'patch_size': 'ViT patch size (px)',
    'embed_dim': 'ViT and predictor width',
    'depth': 'ViT encoder blocks',
    'predictor_depth': 'predictor transformer blocks',
    'history_frames': 'frames of history the predictor sees',
    'config_autoencoder_lr': 'autoencoder lr for a fresh start',
    'config_predictor_lr': 'predictor lr for a fresh start',
    'autoencoder_lr': 'explicit autoencoder lr; 0 = saved, else config_autoencoder_lr',
    'predictor_lr': 'explicit predictor lr; 0 = saved, else config_predictor_lr',
    'idle_action': 'what the robot does when no action comes',
    'reconstruction_threshold': 'act only when reconstruction MSE <= this',
    'buffer_capacity': 'transitions kept for replay',
    'batch_size': 'transitions per training step',
    'seed': 'seed of model init, masking, sampling, exploration',
    'action_names': 'names of Action.values',
    'answer_deadline': 'send no action when it would come more than this many seconds after '
                       'the frame\'s stamp',
    'sync_interval': 'copy learner weights to the actor every N learner steps',
    'debug_image_interval': 'publish debug images every N frames (0 = never)',
    'log_interval': 'W&B and console metrics every N steps',
    'wandb_project': 'W&B project ("" = no W&B); offline unless WANDB_MODE says otherwise',
    'selector': 'uncertainty, or a runner selector: ' + ', '.join(SELECTOR_NAMES),
    'constant_action': 'action of the constant selector',
    'sequence': 'actions the sequence selector cycles through',
    'torch_threads': 'torch intra-op threads',
}


class WorldModelNode(NanobotNode):
    """Camera frames in, actions out; learns to predict the next frame for every action."""

    def __init__(self):
        super().__init__('world_model')
        settings = OnlineConfig(**self.declare_config(OnlineConfig, DESCRIPTIONS))
        size = WorldModelSize(**self.declare_config(WorldModelSize, DESCRIPTIONS))
        loop_config = LoopConfig(**self.declare_config(LoopConfig, DESCRIPTIONS, skip=(
            'newest_in_batch', 'train_steps_per_frame', 'detailed_metrics_interval',
            'online_window', 'ignore_actions')))
        label_config = LabelConfig(**self.declare_config(LabelConfig, DESCRIPTIONS))
        hierarchy_config = HierarchyConfig(**self.declare_config(HierarchyConfig, DESCRIPTIONS))
        choice = SelectorConfig(selector=settings.selector, **self.declare_config(
            SelectorConfig, DESCRIPTIONS, skip=('selector',)))
        actions = loop_config.actions
        self.run_dir, self.save_interval = settings.run_dir, settings.save_interval
        self.action_names = settings.action_names
        self.answer_deadline = settings.answer_deadline
        self.sync_interval = settings.sync_interval
        self.debug_image_interval = settings.debug_image_interval
        self.log_interval = settings.log_interval
        self.selector_name = settings.selector
        torch.set_num_threads(max(1, settings.torch_threads))
        built = build_online_learner(
            settings, size, loop_config, hierarchy_config,
            None if settings.selector == 'uncertainty' else choice.make(actions))
        self.loop, self.checkpoints = built.loop, built.checkpoints
        self.lr_sources, self.resumed_from = built.lr_sources, built.resumed_from
        model_config = built.model_config

        self.history = []
        self.frames = 0
        self.frames_rejected = 0
        self.actions_sent = 0
        self.answers_too_late = 0
        self.gated_seconds = 0.0
        self.last_latency_ms = math.nan
        self.last_grid = None
        self.last_save_step = self._learner_steps()
        self.save_errors = 0
        self._pending = None  # (perception, Step)
        self.labeller = TransitionLabeller(actions, loop_config.idle_action, label_config)
        self.transition_actions = Counter()  # transitions learned, by action label
        self.override = ActionOverride(actions)
        self.experiment = ExperimentLog(
            settings.wandb_project, self.run_dir or '.',
            {'model': model_config.to_dict(), 'selector': self.selector_name,
             'reconstruction_threshold': loop_config.reconstruction_threshold})

        self.action_pub = self.create_publisher(Action, ACTION.name, qos_profile(ACTION))
        self.status_pub = self.create_publisher(WorldModelStatus, WORLD_MODEL_STATUS.name,
                                                qos_profile(WORLD_MODEL_STATUS))
        self.reconstruction_pub = self.create_publisher(Image, RECONSTRUCTION.name,
                                                        qos_profile(RECONSTRUCTION))
        self.predictions_pub = self.create_publisher(Image, PREDICTIONS.name,
                                                     qos_profile(PREDICTIONS))
        self.attention_pub = self.create_publisher(Image, ATTENTION.name, qos_profile(ATTENTION))
        self.last_diagnostics = {}
        # Subscribed before the camera: when a report and the next frame are both waiting, the
        # executor serves the report first, so the step it closes is labelled, not discarded.
        self.create_subscription(Action, ACTION_EXECUTED.name, self._on_executed,
                                 qos_profile(ACTION_EXECUTED))
        self.create_subscription(Image, IMAGE.name, self._on_frame, qos_profile(IMAGE))
        if settings.override_topic:
            subscribe_override(self, self.override, settings.override_topic)
        self._stop = threading.Event()
        self._trainer = threading.Thread(target=self._train_forever, name='learner',
                                         daemon=True)
        self._trainer.start()
        self.get_logger().info(
            f'world model: patch {model_config.vit.patch_size}, dim '
            f'{model_config.vit.embed_dim}, selector {self.selector_name}, gate at reconstruction '
            f'loss {loop_config.reconstruction_threshold}; learning rates from '
            f'{self.lr_sources}; '
            + (f'resumed from {self.resumed_from}' if self.resumed_from else 'fresh start'))

    # -- acting (ROS thread) -----------------------------------------------------------------

    def _reject(self, reason: str) -> None:
        self.frames_rejected += 1
        self.loop.frames_rejected += 1
        self._pending = None
        self.loop.break_history()
        self.get_logger().warning(f'rejected frame: {reason}', throttle_duration_sec=5.0)

    def _on_executed(self, msg: Action) -> None:
        self.labeller.report((msg.header.stamp.sec, msg.header.stamp.nanosec), msg.index)
        self.override.executed((msg.header.stamp.sec, msg.header.stamp.nanosec), msg.index)

    def _on_frame(self, msg: Image) -> None:
        try:
            frame = self.loop.check_frame(to_rgb(image_to_numpy(msg), msg.encoding))
        except ValueError as error:  # FrameRejected, or a buffer that is no image
            self._reject(str(error))
            return
        self.frames += 1
        stamp = stamp_to_seconds(msg.header.stamp)
        self._close_pending(stamp, frame)
        stamp_key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        perception = self.loop.perceive_checked(frame)
        action = self.loop.select(perception)
        overridden = self.override.pending is not None
        latency = self.get_clock().now().nanoseconds * 1e-9 - stamp
        sent = None
        sent_at = self.get_clock().now().nanoseconds * 1e-9  # before publishing: see below
        state = 'gated' if perception.gated else 'acting'
        if (action is not None or overridden) and latency > self.answer_deadline:
            # The sim may already have given up on this frame: say nothing, so the robot
            # does the idle action and the transition's label is certain.
            self.answers_too_late += 1
            state = 'late'
        elif action is not None or overridden:
            action = self.override.take(action, stamp_key)  # kept until the robot reports
            state = 'override' if overridden else state
            self.action_pub.publish(make_action(
                index=action, names=self.action_names, values=[action],
                source='override' if overridden else 'world_model', stamp=msg.header.stamp))
            self.actions_sent += 1
            sent = action
        self.last_latency_ms = latency * 1e3
        self._pending = (perception, Step(stamp_key, stamp, sent, sent_at))
        self._publish_status(msg.header, perception, state, sent)
        if self.debug_image_interval and self.frames % self.debug_image_interval == 0:
            self._publish_debug_images(msg.header, perception, sent)

    def _close_pending(self, stamp: float, frame: np.ndarray) -> None:
        if self._pending is None:
            return
        perception, step = self._pending
        self._pending = None
        if perception.gated:
            self.gated_seconds += max(0.0, stamp - step.stamp)
        rejected = self.labeller.executed_rejected
        label = self.labeller.label(step, stamp)
        if label.action is None:
            self.loop.break_history()
            if self.labeller.executed_rejected > rejected:
                self.get_logger().warning(f'{label.reason}: step discarded',
                                          throttle_duration_sec=5.0)
            return
        self.loop.record_outcome(perception, label.action, frame)
        self.transition_actions[label.action] += 1

    def _publish_status(self, header, perception, state: str, sent) -> None:
        metrics = self.loop.last_metrics
        msg = WorldModelStatus(header=header, state=state, gated=perception.gated,
                               reconstruction_loss=perception.reconstruction_loss,
                               reconstruction_threshold=float(
                                   self.loop.config.reconstruction_threshold),
                               action=-1 if sent is None else int(sent))
        msg.actions = [int(a) for a in self.loop.actions]
        msg.uncertainty = [math.nan if u is None else float(u)
                           for u in self.loop.uncertainty()]
        msg.last_prediction_error = [float(self.loop.last_prediction_error.get(a, math.nan))
                                     for a in self.loop.actions]
        for name in METRIC_FIELDS:
            setattr(msg, name, float(metrics.get(name, math.nan)))
        msg.online_explained_variance = float(self.loop.online_explained_variance())
        msg.autoencoder_training_step = self.loop.learner.autoencoder_training_step
        msg.predictor_training_step = self.loop.learner.predictor_training_step
        msg.frames, msg.frames_rejected = self.frames, self.frames_rejected
        msg.actions_sent, msg.answers_too_late = self.actions_sent, self.answers_too_late
        msg.gated_frames = self.loop.gated_frames
        msg.transitions_discarded = self.loop.transitions_discarded
        msg.answer_latency_ms = float(self.last_latency_ms)
        self.status_pub.publish(msg)

    def _grid(self, perception, sent) -> np.ndarray:
        patch = self.loop.learner.config.vit.patch_size
        reconstruction = patches_to_image(perception.reconstruction[0], patch)
        predictions = ([patches_to_image(p, patch) for p in perception.predictions]
                       if perception.predictions is not None else [])
        names = [f'action {a}' for a in self.loop.actions]
        chosen = None if sent is None else self.loop.actions.index(sent)
        grid = prediction_grid(perception.frame, reconstruction, predictions, names, chosen)
        hierarchy = self.loop.hierarchy
        if hierarchy is None or not hierarchy.levels or perception.gated:
            return grid
        rows = []
        with self.loop.lock:
            for level in hierarchy.levels:
                patches, _ = hierarchy.predict(self.loop.actor, level, perception.frame,
                                               range(level.num_macros))
                rows.append((f'L{level.index}', [patches_to_image(p, patch) for p in patches],
                             level.names([str(a) for a in self.loop.actions])))
        return with_level_rows(grid, rows)

    def _publish_debug_images(self, header, perception, sent) -> None:
        patch = self.loop.learner.config.vit.patch_size
        reconstruction = numpy_to_image(patches_to_image(perception.reconstruction[0], patch))
        reconstruction.header = header
        self.reconstruction_pub.publish(reconstruction)
        self.last_grid = self._grid(perception, sent)
        grid = numpy_to_image(self.last_grid)
        grid.header = header
        self.predictions_pub.publish(grid)

    # -- learning (background thread) --------------------------------------------------------

    def _learner_steps(self) -> int:
        learner = self.loop.learner
        return learner.autoencoder_training_step + learner.predictor_training_step

    def _train_forever(self) -> None:
        steps = 0
        while not self._stop.is_set():
            try:
                metrics = self.loop.train()
            except Exception as error:  # noqa: B902 - keep the node alive, say what broke
                self.get_logger().error(f'training step failed: {error!r}',
                                        throttle_duration_sec=5.0)
                self._stop.wait(1.0)
                continue
            if metrics is None:
                self._stop.wait(0.05)
                continue
            steps += 1
            if steps % self.sync_interval == 0:
                self.loop.sync_actor()
            metrics = dict(metrics, online_explained_variance=(
                self.loop.online_explained_variance()), reconstruction_loss=(
                self.loop.last_reconstruction_loss), action_count=self.actions_sent)
            if len(self.history) < HISTORY_LIMIT:
                self.history.append(metrics)
            # Every learner step trains the autoencoder: its counter counts learner steps (the
            # sum with the predictor's grows by 2 per joint step and could skip every multiple).
            step = self.loop.learner.autoencoder_training_step
            if step % self.log_interval == 0:
                metrics.update(self._diagnose())
                metrics.update(self._hierarchy_metrics())
                self.experiment.log(metrics, step=step)
                if self.last_grid is not None:
                    self.experiment.log_image('predictions_visualization', self.last_grid,
                                              step=step)
            if (self.save_interval
                    and self._learner_steps() - self.last_save_step >= self.save_interval):
                self._save()

    def _diagnose(self) -> dict:
        """Introspect the learner (attention, counterfactuals); publish the attention map."""
        result = self.loop.diagnostics()
        if result is None:
            return {}
        self.last_diagnostics, heatmap = result
        image = numpy_to_image(heatmap)
        image.header.stamp = self.get_clock().now().to_msg()
        self.attention_pub.publish(image)
        return self.last_diagnostics

    def _hierarchy_metrics(self) -> dict:
        """`prediction_errors/level_k` and the levels' figures (none without a hierarchy)."""
        if self.loop.hierarchy is None:
            return {}
        with self.loop.lock:
            return self.loop.hierarchy.metrics()

    def _save(self) -> None:
        if self.checkpoints is None:
            return
        try:
            self.checkpoints.save(self.loop)
            self.last_save_step = self._learner_steps()
        except OSError as error:
            self.save_errors += 1
            self.get_logger().error(f'checkpoint not saved: {error}', throttle_duration_sec=5.0)

    # -- reporting and shutdown --------------------------------------------------------------

    def status(self):
        """Report the world model's figures (they end up in summary.json)."""
        learner, metrics = self.loop.learner, self.loop.last_metrics
        values = {
            'gated': self.loop.gated, 'selector': self.selector_name,
            'frames': self.frames, 'frames_rejected': self.frames_rejected,
            'actions_sent': self.actions_sent, 'answers_too_late': self.answers_too_late,
            **self.labeller.counters(),
            'transition_actions': {str(a): n for a, n in
                                   sorted(self.transition_actions.items())},
            'gated_frames': self.loop.gated_frames,
            'gated_seconds': round(self.gated_seconds, 3),
            'transitions_discarded': self.loop.transitions_discarded,
            'transitions': self.loop.buffer.added,
            'autoencoder_training_step': learner.autoencoder_training_step,
            'predictor_training_step': learner.predictor_training_step,
            'reconstruction_loss': _finite_or_none(self.loop.last_reconstruction_loss),
            'online_explained_variance': _finite_or_none(
                self.loop.online_explained_variance()),
            'uncertainty': self.loop.uncertainty(),
            'answer_latency_ms': _finite_or_none(self.last_latency_ms),
            'save_errors': self.save_errors, 'resumed_from': self.resumed_from or '',
            **self.override.counts(),
            **{name: _finite_or_none(value) for name, value in self.last_diagnostics.items()},
            **{name: _finite_or_none(value) for name, value in self._hierarchy_metrics().items()},
        }
        for name in METRIC_FIELDS:
            values[name] = _finite_or_none(metrics.get(name, math.nan))
        if self.loop.gated:
            return WARN, 'gated: reconstruction above threshold, training vision, not ' \
                'acting', values
        return OK, 'acting', values

    def on_shutdown(self) -> None:
        """Stop the learner, save, write the learning curve and last grid, report."""
        started = time.monotonic()
        self._stop.set()
        self._trainer.join(timeout=30.0)
        if self.checkpoints is not None and self._learner_steps() != self.last_save_step:
            self._save()
        self.get_logger().info(f'learner stopped and saved in {time.monotonic() - started:.1f} s')
        if self.run_dir:
            try:
                run_dir = Path(self.run_dir)
                learning_curve(self.history, run_dir / 'world_model_learning_curve.png')
                if self.last_grid is not None:
                    save_png(self.last_grid, run_dir / 'world_model_predictions.png')
            except (OSError, ValueError) as error:
                self.get_logger().error(f'could not write pictures: {error}')
        self.experiment.finish()
        super().on_shutdown()
        self.get_logger().info(f'stopped in {time.monotonic() - started:.1f} s')


def _finite_or_none(value):
    return float(value) if value is not None and math.isfinite(value) else None


def main(args=None):
    """Run the world model node."""
    raise SystemExit(run(WorldModelNode, args))


if __name__ == '__main__':
    main()
