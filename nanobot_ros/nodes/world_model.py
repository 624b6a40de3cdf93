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
  world_model/attention      (sensor_msgs/Image, rgb8)              out: the last predictor
                                                                        layer's attention of the
                                                                        future tokens (rows) over
                                                                        all tokens, every
                                                                        log_interval steps

The runtime is `learning/online.py`'s OnlineWorldModel (the loop, the transition labeller, the
learner thread, checkpoints, every counter); this node converts messages, publishes, applies
the override and the answer deadline. Per frame (ROS thread): the runtime checks the frame,
closes the previous step (the transition is labelled with what the robot did, by the rules of
`learning/transition_labels.py`: the robot's robot/action_executed reports when it sends them,
else the action sent and the timing), perceives and selects; the node publishes the action
unless gated (reconstruction loss above threshold: the robot does not act) or the answer
would be later than `answer_deadline`. An override (robots/override.py: the reference's
interactive mode, e.g. from Foxglove) replaces the next action, gated or not, and goes out with
source `override`. Training runs in the runtime's background thread on a replay buffer; the
acting copy of the model gets the learner's weights every `sync_interval` steps.

Bad input: frames with the wrong encoding/size, inconsistent buffers or non-finite values are
rejected, counted (frames_rejected) and logged (throttled); the history is broken so no
transition spans them; the node keeps running. A corrupt checkpoint falls back to its backup;
a checkpoint for another model configuration is refused (ValueError at start: exit code 2).
"""
import math
import time

import torch

from nanobot_ros.data.convert import image_to_numpy, make_action, numpy_to_image, \
    stamp_to_seconds, to_rgb
from nanobot_ros.learning.adaptive_loop import LoopConfig
from nanobot_ros.learning.hierarchy import HierarchyConfig
from nanobot_ros.learning.online import OnlineConfig, OnlineWorldModel, SUMMARY_FIGURES
from nanobot_ros.learning.transition_labels import LabelConfig
from nanobot_ros.learning.world_model import WorldModelSize
from nanobot_ros.contract import (ACTION, ACTION_EXECUTED, ATTENTION, IMAGE, PREDICTIONS,
                                  RECONSTRUCTION, WORLD_MODEL_STATUS)
from nanobot_ros.nodes.common import NanobotNode, OK, qos_profile, run, subscribe_override, WARN
from nanobot_ros.robots.override import ActionOverride
from nanobot_ros.robots.sim.selectors import SELECTOR_NAMES, SelectorConfig
from nanobot_msgs.msg import Action, WorldModelStatus
from sensor_msgs.msg import Image

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
    'advection_x': 'pixels a prediction may move the last frame\'s horizontally (0 and '
                   'advection_y 0 = the decoder paints all of it)',
    'advection_y': 'pixels a prediction may move the last frame\'s vertically',
    'advection_subdivision': 'each patch\'s pixels move as s x s sub-patches, each with '
                             'its own kernels (1 = one pair a patch)',
    'config_autoencoder_lr': 'autoencoder lr for a fresh start',
    'config_predictor_lr': 'predictor lr for a fresh start',
    'autoencoder_lr': 'explicit autoencoder lr; 0 = saved, else config_autoencoder_lr',
    'predictor_lr': 'explicit predictor lr; 0 = saved, else config_predictor_lr',
    'latent_loss_weight': "weight of the predictor's latent loss against its patch loss",
    'training_precision': 'learner steps in float32, bfloat16 (autocast), or auto: bfloat16 '
                          'where the CPU has it natively',
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

    summary_figures = SUMMARY_FIGURES

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
        self.action_names = settings.action_names
        self.answer_deadline = settings.answer_deadline
        self.debug_image_interval = settings.debug_image_interval
        torch.set_num_threads(max(1, settings.torch_threads))
        self.runtime = OnlineWorldModel(
            settings, size, loop_config, label_config, hierarchy_config, choice,
            report_error=lambda text: self.get_logger().error(text, throttle_duration_sec=5.0))
        self.override = ActionOverride(loop_config.actions)

        self.action_pub = self.create_publisher(Action, ACTION.name, qos_profile(ACTION))
        self.status_pub = self.create_publisher(WorldModelStatus, WORLD_MODEL_STATUS.name,
                                                qos_profile(WORLD_MODEL_STATUS))
        self.reconstruction_pub = self.create_publisher(Image, RECONSTRUCTION.name,
                                                        qos_profile(RECONSTRUCTION))
        self.predictions_pub = self.create_publisher(Image, PREDICTIONS.name,
                                                     qos_profile(PREDICTIONS))
        self.attention_pub = self.create_publisher(Image, ATTENTION.name, qos_profile(ATTENTION))
        # Subscribed before the camera: when a report and the next frame are both waiting, the
        # executor serves the report first, so the step it closes is labelled, not discarded.
        self.create_subscription(Action, ACTION_EXECUTED.name, self._on_executed,
                                 qos_profile(ACTION_EXECUTED))
        self.create_subscription(Image, IMAGE.name, self._on_frame, qos_profile(IMAGE))
        if settings.override_topic:
            subscribe_override(self, self.override, settings.override_topic)
        self.runtime.start(on_attention=self._publish_attention)
        self.get_logger().info(f'world model: {self.runtime.describe()}')

    def _on_executed(self, msg: Action) -> None:
        stamp_key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        self.runtime.executed(stamp_key, msg.index, msg.source)
        self.override.executed(stamp_key, msg.index)

    def _on_frame(self, msg: Image) -> None:
        stamp_key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        stamp = stamp_to_seconds(msg.header.stamp)
        try:
            frame = self.runtime.check(to_rgb(image_to_numpy(msg), msg.encoding))
        except ValueError as error:  # FrameRejected, or a buffer that is no image
            self.runtime.reject()
            self.get_logger().warning(f'rejected frame: {error}', throttle_duration_sec=5.0)
            return
        decision = self.runtime.decide(frame, stamp_key, stamp)
        if decision.discarded:
            self.get_logger().warning(f'{decision.discarded}: step discarded',
                                      throttle_duration_sec=5.0)
        action, overridden = decision.action, self.override.pending is not None
        latency = self.get_clock().now().nanoseconds * 1e-9 - stamp
        sent = None
        sent_at = self.get_clock().now().nanoseconds * 1e-9  # before publishing: see below
        state = 'gated' if decision.gated else 'acting'
        if (action is not None or overridden) and latency > self.answer_deadline:
            # The sim may already have given up on this frame: say nothing, so the robot
            # does the idle action and the transition's label is certain.
            state = 'late'
        elif action is not None or overridden:
            sent = self.override.take(action, stamp_key)  # kept until the robot reports
            state = 'override' if overridden else state
            self.action_pub.publish(make_action(
                index=sent, names=self.action_names, values=[sent],
                source='override' if overridden else 'world_model', stamp=msg.header.stamp))
        self.runtime.answered(decision, stamp_key, stamp, sent, sent_at, latency, state)
        self.status_pub.publish(status_message(self.runtime.status_values(), msg.header))
        if self.debug_image_interval and self.runtime.frames % self.debug_image_interval == 0:
            for publisher, image in zip((self.reconstruction_pub, self.predictions_pub),
                                        self.runtime.images(decision.perception, sent)):
                image = numpy_to_image(image)
                image.header = msg.header
                publisher.publish(image)

    def _publish_attention(self, heatmap) -> None:
        """Publish the attention map the learner thread logged (rclpy publishers are safe)."""
        image = numpy_to_image(heatmap)
        image.header.stamp = self.get_clock().now().to_msg()
        self.attention_pub.publish(image)

    def status(self):
        """Report the world model's figures (summary.json lifts SUMMARY_FIGURES of them)."""
        values = {**self.runtime.status_values(), **self.override.counts()}
        if self.runtime.loop.gated:
            return WARN, 'gated: reconstruction above threshold, training vision, not ' \
                'acting', values
        return OK, 'acting', values

    def on_shutdown(self) -> None:
        """Stop the learner, save, write the learning curve and last grid, report."""
        started = time.monotonic()
        self.runtime.stop()
        self.get_logger().info(f'learner stopped, saved and pictures written in '
                               f'{time.monotonic() - started:.1f} s')
        super().on_shutdown()
        self.get_logger().info(f'stopped in {time.monotonic() - started:.1f} s')


def status_message(values: dict, header) -> WorldModelStatus:
    """Return the status message of `values` (OnlineWorldModel.status_values; None = NaN)."""
    msg = WorldModelStatus(header=header)
    for name in msg.get_fields_and_field_types():
        if name == 'header':
            continue
        value = values[name]
        if isinstance(value, list):
            value = [math.nan if v is None else v for v in value]
        setattr(msg, name, math.nan if value is None else value)
    return msg


def main(args=None):
    """Run the world model node."""
    raise SystemExit(run(WorldModelNode, args))


if __name__ == '__main__':
    main()
