"""replay: publishes recorded bags on their original topics, or stands in for the robot.

mode `play` (like `ros2 bag play`): every message of `bags` (bag directories or folders of
them, in path order, back to back) on its original topic, byte for byte, with the original
timing divided by `rate`, from `start_offset_s` after the first message on, optionally in a
`loop`. It starts once every topic of `wait_for_subscribers` has a subscriber and `delay_s`
passed. `topics` limits what is played; `action_filter` (the reference's
`--filter-action motor_right=0.12`, or `index=1`) drops actions on `action_topic` that do not
match. Each topic is published with the QoS its publishers offered when it was recorded (the
bag's offered_qos_profiles, as `ros2 bag play` does): best effort if any of them was, else
reliable; transient local (with the recorded depth, what a late subscriber got) if all of them
were, else volatile, depth 100. A topic recorded without QoS is published reliable, volatile,
depth 100 (it also serves best-effort subscribers). With several bags the first bag holding a
topic decides. With `clock` (like `ros2 bag play --clock`) /clock (rosgraph_msgs/Clock) carries
the recorded time of each message just before it is published, so nodes with use_sim_time see
the recording's time.

mode `robot` (the reference's ReplayRobot): the robot's side of the live loop, from recorded
transitions (nanobot_ros.data.dataset): frame -> the recorded action answering it -> next frame,
restamped with the current time, frames on `image_topic` and each recorded action as what the
robot executed on `executed_topic` (header.stamp = the frame it answered, source "replay"), as
the sim reports its steps, at the recorded pace divided by `rate`. The world model labels its
transitions with these reports, so it trains on recorded sessions through the very same loop it
learns in live, and its own commands on /robot/action go nowhere: nothing here publishes there.
`action_filter` keeps only matching transitions.

Bad input: a missing or unreadable bag fails at start with a clear error (exit code 2); a topic
whose type is not installed here is reported and skipped, the rest is played.
Status (/diagnostics): published, filtered, skipped topics, loops, done.
"""
import threading
import time

import yaml

from builtin_interfaces.msg import Time
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from nanobot_ros.data.action_filter import action_matches, parse_action_filter
from nanobot_ros.data.bags import Bag, BagError, find_bags
from nanobot_ros.data.convert import make_action, numpy_to_image
from nanobot_ros.data.dataset import BagDataset
from nanobot_ros.nodes.common import compatible_qos, message_class, NanobotNode, OK, run, \
    SENSOR_QOS, WARN
from nanobot_msgs.msg import Action
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image

REPLAY_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)
MAX_GAP_S = 1.0  # robot mode: a pause longer than this in the recording is shortened to it


def _policy(value, policy_type):
    """Return the policy of a recorded value (rmw number or name), None if not one."""
    try:
        return policy_type[value.upper()] if isinstance(value, str) else policy_type(value)
    except (KeyError, ValueError, TypeError):
        return None


def recorded_qos(offered_qos_profiles: str) -> QoSProfile:
    """Return the profile to replay a topic with, from its recorded offered_qos_profiles text.

    Best effort if any recorded publisher was, else reliable; transient local with the largest
    recorded depth if all were, else volatile at REPLAY_QOS's depth. REPLAY_QOS when the text
    holds no profile (bags written without QoS) or is not rosbag2's YAML list.
    """
    try:
        profiles = yaml.safe_load(offered_qos_profiles) if offered_qos_profiles else None
    except yaml.YAMLError:
        return REPLAY_QOS
    if not profiles or not isinstance(profiles, list) or \
            not all(isinstance(p, dict) for p in profiles):
        return REPLAY_QOS
    depths = [p['depth'] for p in profiles if isinstance(p.get('depth'), int) and p['depth'] > 0]
    return compatible_qos([_policy(p.get('reliability'), ReliabilityPolicy) for p in profiles],
                          [_policy(p.get('durability'), DurabilityPolicy) for p in profiles],
                          REPLAY_QOS.depth, transient_depth=max(depths, default=1))


class ReplayNode(NanobotNode):
    """Plays bags (mode play) or replays transitions as the robot (mode robot)."""

    def __init__(self):
        super().__init__('replay')
        paths = list(self.param('bags', [''], 'bag directories or folders of bags'))
        self.rate = float(self.param('rate', 1.0, 'speed factor on the recorded timing'))
        self.loop = bool(self.param('loop', False, 'start again at the end'))
        self.start_offset = float(self.param('start_offset_s', 0.0,
                                             'skip this many seconds of each pass'))
        self.topic_list = list(self.param('topics', [''], 'topics to play; [""] = all'))
        self.filter_text = self.param('action_filter', '',
                                      'play only matching actions, e.g. motor_right=0.12')
        self.action_topic = self.param('action_topic', '/robot/action', 'the action topic')
        self.mode = self.param('mode', 'play', 'play (like ros2 bag play) or robot')
        self.delay = float(self.param('delay_s', 0.0, 'wait this long before playing (s), '
                                      'e.g. for a recorder to subscribe'))
        self.wait_for = [t for t in self.param(
            'wait_for_subscribers', [''], 'topics that must have a subscriber before playing '
            '(e.g. when a recorder records the replay); [""] = none') if t]
        self.image_topic = self.param('image_topic', '/camera/image_raw',
                                      'robot mode: camera topic')
        self.executed_topic = self.param('executed_topic', '/robot/action_executed',
                                         'robot mode: where the recorded actions go, as '
                                         'what the robot executed')
        publish_clock = bool(self.param('clock', False, 'mode play: publish the recorded time '
                                        'on /clock, like ros2 bag play --clock'))
        if self.rate <= 0:
            raise ValueError(f'rate must be > 0, got {self.rate}')
        if self.start_offset < 0:
            raise ValueError(f'start_offset_s must be >= 0, got {self.start_offset}')
        if self.mode not in ('play', 'robot'):
            raise ValueError(f'mode must be play or robot, got {self.mode!r}')
        self.action_filter = parse_action_filter(self.filter_text)
        paths = [p for p in paths if p]
        if not paths:
            raise ValueError('bags is empty: give bag directories or folders of bags')
        try:
            self.bags = [Bag(p) for root in paths for p in find_bags(root)]
        except BagError as error:
            raise ValueError(str(error)) from None
        if not self.bags:
            raise ValueError(f'no finished bag under {paths}')
        self.published = 0
        self.filtered = 0
        self.loops = 0
        self.done = False
        self.skipped_topics = {}
        self.topic_publishers = {}
        self._halt = threading.Event()
        self.clock_pub = None
        if self.mode == 'play':
            self._make_publishers()
            if publish_clock:
                # Reliable like ros2 bag play's /clock, so no subscriber misses a jump.
                self.clock_pub = self.create_publisher(Clock, '/clock', REPLAY_QOS)
            self.outputs = dict(self.topic_publishers)
            target = self._play
        else:
            self.dataset = BagDataset(paths, image_topic=self.image_topic,
                                      action_topic=self.action_topic,
                                      action_filter=self.filter_text)
            self.image_pub = self.create_publisher(Image, self.image_topic, SENSOR_QOS)
            self.executed_pub = self.create_publisher(Action, self.executed_topic, REPLAY_QOS)
            self.outputs = {self.image_topic: self.image_pub,
                            self.executed_topic: self.executed_pub}
            target = self._stand_in
        unknown = set(self.wait_for) - set(self.outputs)
        if unknown:
            raise ValueError(f'wait_for_subscribers names topics this replay does not '
                             f'publish: {sorted(unknown)}')
        self.get_logger().info(f'{self.mode}: {len(self.bags)} bag(s), rate {self.rate:g}'
                               f'{", loop" if self.loop else ""}'
                               f'{", filter " + self.filter_text if self.filter_text else ""}')
        self._thread = threading.Thread(target=self._guarded, args=(target,), daemon=True)
        self._thread.start()

    def _make_publishers(self) -> None:
        wanted = {t for t in self.topic_list if t}
        for bag in self.bags:
            for topic, info in bag.topics.items():
                if (wanted and topic not in wanted) or topic in self.topic_publishers \
                        or topic in self.skipped_topics:
                    continue
                try:
                    self.topic_publishers[topic] = self.create_publisher(
                        message_class(info.msgtype), topic, recorded_qos(info.offered_qos))
                except (ImportError, AttributeError, ValueError) as error:
                    self.skipped_topics[topic] = info.msgtype
                    self.get_logger().error(
                        f'not replaying {topic}: message type {info.msgtype} is not installed '
                        f'here ({type(error).__name__}); the other topics are played')

    def _guarded(self, target) -> None:
        try:
            while not all(self.outputs[t].get_subscription_count() for t in self.wait_for):
                if not self._sleep_until(time.monotonic() + 0.05):
                    return
            if self._sleep_until(time.monotonic() + self.delay):
                target()
        except BagError as error:
            self.get_logger().error(f'replay stopped: {error}')
        self.done = True

    def _sleep_until(self, due: float) -> bool:
        """Wait until monotonic time `due`; False when the node is stopping."""
        return not self._halt.wait(max(0.0, due - time.monotonic()))

    def _passes(self):
        while not self._halt.is_set():
            yield
            self.loops += 1
            if not self.loop:
                return

    def _play(self) -> None:
        for _ in self._passes():
            skip_until = None
            for bag in self.bags:
                # Each bag starts right after the previous one: sessions recorded days apart
                # play back to back, consecutive splits of one session keep their timing.
                first = None
                for record in bag.records(list(self.topic_publishers)):
                    if skip_until is None:
                        skip_until = record.timestamp + int(self.start_offset * 1e9)
                    if record.timestamp < skip_until:
                        continue
                    if first is None:
                        first, started = record.timestamp, time.monotonic()
                    if record.topic == self.action_topic and self.action_filter:
                        action = bag.decode(record)
                        if not action_matches(self.action_filter, action.index, action.names,
                                              action.values):
                            self.filtered += 1
                            continue
                    if not self._sleep_until(started + (record.timestamp - first) * 1e-9
                                             / self.rate):
                        return
                    if self.clock_pub is not None:
                        self.clock_pub.publish(Clock(clock=Time(
                            sec=record.timestamp // 10**9, nanosec=record.timestamp % 10**9)))
                    self.topic_publishers[record.topic].publish(record.data)
                    self.published += 1

    def _publish_frame(self, pixels):
        msg = numpy_to_image(pixels, 'rgb8')
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = 'camera'
        self.image_pub.publish(msg)
        self.published += 1
        return msg.header.stamp

    def _stand_in(self) -> None:
        for _ in self._passes():
            previous = None  # the recorded time of the frame published last
            first = self.dataset[0].stamp if len(self.dataset) else 0.0
            for i in range(len(self.dataset)):
                sample = self.dataset[i]
                if sample.stamp < first + self.start_offset:
                    continue
                if previous is None or abs(sample.stamp - previous[0]) > 1e-9:
                    stamp = self._publish_frame(sample.observation)
                else:
                    stamp = previous[1]
                self.executed_pub.publish(make_action(
                    sample.action_index, sample.action_names, sample.action_values,
                    sample.action_duration, source='replay', stamp=stamp))
                self.published += 1
                next_time = sample.next_stamp
                gap = min(max(next_time - sample.stamp, 0.0), MAX_GAP_S) / self.rate
                if not self._sleep_until(time.monotonic() + gap):
                    return
                previous = (next_time, self._publish_frame(sample.next_observation))

    def status(self):
        """Report what was published and skipped."""
        values = {'published': self.published, 'filtered': self.filtered,
                  'loops': self.loops, 'done': self.done, 'bags': len(self.bags),
                  'skipped_topics': self.skipped_topics}
        if self.skipped_topics:
            return WARN, f'types not installed: {sorted(self.skipped_topics)}', values
        return OK, 'finished' if self.done else f'{self.mode} running', values

    def on_shutdown(self) -> None:
        """Stop the playing thread, then report."""
        self._halt.set()
        self._thread.join(2.0)
        super().on_shutdown()


def main(args=None):
    """Run the replay node."""
    raise SystemExit(run(ReplayNode, args))


if __name__ == '__main__':
    main()
