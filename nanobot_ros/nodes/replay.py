"""replay: publishes recorded bags on their original topics, or stands in for the robot.

mode `play` (like `ros2 bag play`): every message of `bags` (bag directories or folders of
them, in path order, back to back) on its original topic, byte for byte, with the original
timing divided by `rate`, from `start_offset_s` after the first message on, optionally in a
`loop`. It starts once every topic of `wait_for_subscribers` has a subscriber and `delay_s`
passed. `topics` limits what is played; `action_filter` (the reference's
`--filter-action motor_right=0.12`, or `index=1`) drops actions on `action_topic` that do not
match. Topics play under their recorded (full) names, as `ros2 bag play` does, whatever this
node's namespace; `topics`, `action_topic` and `wait_for_subscribers` may name them relatively
(camera/image_raw finds /robot1/camera/image_raw: contract.find_topic). Each topic is
published with the QoS its publishers offered when it was recorded (the bag's
offered_qos_profiles, as `ros2 bag play` does; contract.recorded_qos): best effort if any of
them was, else reliable; transient local (with the recorded depth, what a late subscriber got)
if all of them were, else volatile, depth 100. A topic recorded without QoS is published
reliable, volatile, depth 100 (it also serves best-effort subscribers). With several bags the
first bag holding a topic decides. With `clock` (like `ros2 bag play --clock`) /clock
(rosgraph_msgs/Clock) carries the recorded time of each message just before it is published,
so nodes with use_sim_time see the recording's time.

Pass time: the recorded seconds since the pass began, the bags laid end to end (each starts
where the previous one ended). `start_offset_s` (like --start-offset) starts each pass there,
`duration_s` (like --playback-duration) ends it that much later; `remap` ('/from:=/to', like
-m/--remap) publishes a recorded topic under another name; `exclude_regex` (like -x/--exclude)
leaves out the topics it matches (re.search on the recorded name); `qos_overrides_path` (a
rosbag2 --qos-profile-overrides-path YAML file) offers a named topic (recorded name) with that
QoS instead of the recorded one.
Control (std_srvs/Trigger, like ros2 bag play's services): ~/pause, ~/resume, ~/toggle_paused;
`start_paused` (like --start-paused) waits for ~/resume. Setting `rate` while playing (like
~/set_rate) changes the speed from that moment on. Seek (like ~/seek): set the parameter
`seek_s` to a pass time (`ros2 param set /replay seek_s 12.5`; rosbag2_interfaces/srv/Seek is
not in the PyPI-only path): playback goes on from the first message at or after it, paused
or not as it was; a time outside the pass is refused with the reason.

mode `robot` (the reference's ReplayRobot): the robot's side of the live loop, from recorded
transitions (nanobot_ros.data.dataset): frame -> the recorded action answering it -> next frame,
restamped with the current time, frames on `image_topic` and each recorded action as what the
robot executed on `executed_topic` (both in this node's namespace; header.stamp = the frame it
answered, source "replay"), as the sim reports its steps, at the recorded pace divided by
`rate`. The world model labels its transitions with these reports, so it trains on recorded
sessions through the very same loop it learns in live, and its own commands on robot/action go
nowhere: nothing here publishes there.
`action_filter` keeps only matching transitions.

Bad input: a missing or unreadable bag fails at start with a clear error (exit code 2); a topic
whose type is not installed here is reported and skipped, the rest is played.
Status (diagnostics): published, filtered, skipped topics, loops, done, paused, position_s.
"""
import re
import threading
import time

from builtin_interfaces.msg import Time
from rcl_interfaces.msg import SetParametersResult
from std_srvs.srv import Trigger

from nanobot_ros.contract import CLOCK, find_topic, IMAGE, recorded_qos, REPLAY
from nanobot_ros.data.action_filter import action_matches, parse_action_filter
from nanobot_ros.data.bags import Bag, BagError, find_bags
from nanobot_ros.data.convert import make_action, numpy_to_image
from nanobot_ros.data.dataset import BagDataset
from nanobot_ros.data.playback import PlaybackClock
from nanobot_ros.data.recording import load_qos_overrides
from nanobot_ros.data.replay_config import ReplayConfig
from nanobot_ros.nodes.common import message_class, NanobotNode, OK, qos_profile, run, WARN
from nanobot_msgs.msg import Action
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image

MAX_GAP_S = 1.0  # robot mode: a pause longer than this in the recording is shortened to it


DESCRIPTIONS = {
    'bags': 'bag directories or folders of bags',
    'rate': 'speed factor on the recorded timing; mode play: settable while playing',
    'loop': 'start again at the end',
    'start_offset_s': 'skip this many seconds of each pass',
    'topics': 'topics to play; [""] = all',
    'action_filter': 'play only matching actions, e.g. motor_right=0.12',
    'action_topic': 'the action topic',
    'mode': 'play (like ros2 bag play) or robot',
    'delay_s': 'wait this long before playing (s), e.g. for a recorder to subscribe',
    'wait_for_subscribers': 'topics that must have a subscriber before playing (e.g. when a '
                            'recorder records the replay); [""] = none',
    'image_topic': 'robot mode: camera topic',
    'executed_topic': 'robot mode: where the recorded actions go, as what the robot executed',
    'clock': 'mode play: publish the recorded time on /clock, like ros2 bag play --clock',
    'remap': 'mode play: publish recorded topics under other names, "/from:=/to" (like '
             'ros2 bag play --remap); [""] = none',
    'duration_s': 'mode play: play this many recorded seconds of each pass (like '
                  '--playback-duration); 0 = all',
    'start_paused': 'mode play: wait for ~/resume before the first message',
    'exclude_regex': 'mode play: do not play topics whose recorded name this matches (like '
                     'ros2 bag play -x); "" = none',
    'qos_overrides_path': 'mode play: rosbag2 QoS overrides YAML ({topic: {reliability: ..., '
                          'durability: ..., depth: ...}}) for the publishers; "" = none',
    'seek_s': 'mode play: set it (ros2 param set) to a pass time to go on from there, like '
              'ros2 bag play\'s ~/seek; -1 = none',
}
SEEK_PARAMETER = 'seek_s'
_SEEK, _HALT = 'seek', 'halt'  # why waiting for a message's due time ended early


class ReplayNode(NanobotNode):
    """Plays bags (mode play) or replays transitions as the robot (mode robot)."""

    def __init__(self):
        super().__init__('replay')
        config = ReplayConfig(**self.declare_config(ReplayConfig, DESCRIPTIONS))
        self.rate, self.loop, self.start_offset = config.rate, config.loop, config.start_offset_s
        self.topic_list, self.filter_text = config.topics, config.action_filter
        self.action_topic, self.mode, self.delay = config.action_topic, config.mode, config.delay_s
        self.wait_for = [t for t in config.wait_for_subscribers if t]
        self.image_topic, self.executed_topic = config.image_topic, config.executed_topic
        publish_clock = config.clock
        self.remap = config.remappings()
        self.exclude = re.compile(config.exclude_regex) if config.exclude_regex else None
        self.qos_overrides = (load_qos_overrides(config.qos_overrides_path)
                              if config.qos_overrides_path else {})
        self.duration = config.duration_s
        self.action_filter = parse_action_filter(self.filter_text)
        paths = [p for p in config.bags if p]
        try:
            self.bags = [Bag(p) for root in paths for p in find_bags(root)]
        except BagError as error:
            raise ValueError(str(error)) from None
        if not self.bags:
            raise ValueError(f'no finished bag under {paths}')
        # The recorded name of the action topic in each bag (bags may come from several robots).
        self.action_topics = {find_topic(bag.topics, self.action_topic) for bag in self.bags}
        self.published = 0
        self.filtered = 0
        self.loops = 0
        self.done = False
        self.skipped_topics = {}
        self.topic_publishers = {}
        self._halt = threading.Event()
        # Wakes the playing thread at once on pause, resume, seek and shutdown.
        self._control = threading.Event()
        self._control_lock = threading.Lock()
        self.clock = PlaybackClock(self.rate)
        if config.start_paused:
            self.clock.pause()
        self._seek_to = None  # a pass time asked for by seek_s, until the thread takes it
        self.position = self.start_offset  # pass time of the last message published
        # Pass time of the first message of each bag: they play end to end.
        self.bag_offsets, offset = [], 0.0
        for bag in self.bags:
            self.bag_offsets.append(offset)
            offset += (bag.end_ns - bag.start_ns) * 1e-9
        self.pass_length = offset
        if config.seek_s >= 0:  # given at start: a seek before the first message
            if config.seek_s > self.pass_length:
                raise ValueError(f'seek_s {config.seek_s} is beyond the pass '
                                 f'({self.pass_length:.3f} s)')
            self._seek_to = config.seek_s
        self.clock_pub = None
        if self.mode == 'play':
            self._make_publishers()
            for name, handler in (('pause', self._on_pause), ('resume', self._on_resume),
                                  ('toggle_paused', self._on_toggle)):
                self.create_service(Trigger, f'~/{name}', handler)
            self.add_on_set_parameters_callback(self._on_set_parameters)
            if publish_clock:
                # Reliable like ros2 bag play's /clock, so no subscriber misses a jump.
                self.clock_pub = self.create_publisher(Clock, CLOCK.name, qos_profile(CLOCK))
            self.outputs = {self.remap.get(t, t): p for t, p in self.topic_publishers.items()}
            target = self._play
        else:
            self.dataset = BagDataset(paths, image_topic=self.image_topic,
                                      action_topic=self.action_topic,
                                      action_filter=self.filter_text)
            self.image_pub = self.create_publisher(Image, self.image_topic, qos_profile(IMAGE))
            self.executed_pub = self.create_publisher(Action, self.executed_topic,
                                                      qos_profile(REPLAY))
            self.outputs = {self.topic_name(self.image_topic): self.image_pub,
                            self.topic_name(self.executed_topic): self.executed_pub}
            target = self._stand_in
        self.wait_for = [find_topic(self.outputs, t) or t for t in self.wait_for]
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
        for bag in self.bags:
            wanted = {find_topic(bag.topics, t) for t in self.topic_list if t}
            for topic, info in bag.topics.items():
                if (wanted and topic not in wanted) or topic in self.topic_publishers \
                        or topic in self.skipped_topics \
                        or (self.exclude and self.exclude.search(topic)):
                    continue
                qos = self.qos_overrides.get(topic) or recorded_qos(info.offered_qos)
                try:
                    self.topic_publishers[topic] = self.create_publisher(
                        message_class(info.msgtype), self.remap.get(topic, topic),
                        qos_profile(qos))
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

    # -- play: pause, resume, seek ------------------------------------------------------------
    def _control_changed(self) -> None:
        self._control.set()

    def _pause(self):
        with self._control_lock:
            changed = self.clock.pause()
        self._control_changed()
        return True, 'paused' if changed else 'already paused'

    def _resume(self):
        with self._control_lock:
            changed = self.clock.resume()
        self._control_changed()
        return True, 'resumed' if changed else 'already playing'

    def _on_pause(self, request, response):
        response.success, response.message = self._pause()
        return response

    def _on_resume(self, request, response):
        response.success, response.message = self._resume()
        return response

    def _on_toggle(self, request, response):
        response.success, response.message = (self._resume() if self.clock.paused
                                              else self._pause())
        return response

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        """Take seek_s (a seek) and rate (like ~/set_rate: timing goes on from here)."""
        for parameter in parameters:
            value = parameter.value
            if parameter.name == SEEK_PARAMETER:
                if not isinstance(value, (int, float)) or not 0 <= value <= self.pass_length:
                    return SetParametersResult(successful=False, reason=(
                        f'seek_s must be a pass time in [0, {self.pass_length:.3f}] s, got '
                        f'{value!r}'))
                with self._control_lock:
                    self._seek_to = float(value)
            elif parameter.name == 'rate':
                if not isinstance(value, (int, float)) or value <= 0:
                    return SetParametersResult(successful=False,
                                               reason=f'rate must be > 0, got {value!r}')
                with self._control_lock:
                    self.clock.set_rate(float(value))
                    self.rate = float(value)
            else:
                continue
            self._control_changed()
        return SetParametersResult(successful=True)

    def _publish_when_due(self, position: float, publish):
        """Call `publish` when pass time `position` is due; None then, else _SEEK or _HALT.

        It runs under the control lock, so once ~/pause answered nothing more goes out.
        """
        while True:
            with self._control_lock:
                if self._halt.is_set():
                    return _HALT
                if self._seek_to is not None:
                    return _SEEK
                wait = None if self.clock.paused else self.clock.due(position) - time.monotonic()
                if wait is not None and wait <= 0:
                    publish()
                    return None
            self._control.wait(wait)
            self._control.clear()

    def _play(self) -> None:
        for _ in self._passes():
            position = self.start_offset
            while position is not None:
                position = self._play_from(position)
            if self._halt.is_set():
                return

    def _play_from(self, position: float):
        """Play the pass from pass time `position`; return a seek's pass time, or None."""
        end = self.start_offset + self.duration if self.duration else None
        with self._control_lock:
            self.clock.start(position)
        for bag, offset in zip(self.bags, self.bag_offsets):
            if offset + (bag.end_ns - bag.start_ns) * 1e-9 < position:
                continue
            start_ns = bag.start_ns + max(0, int(round((position - offset) * 1e9)))
            for record in bag.records(list(self.topic_publishers), start_ns):
                at = offset + (record.timestamp - bag.start_ns) * 1e-9
                if end is not None and at > end + 1e-9:
                    return None
                if record.topic in self.action_topics and self.action_filter:
                    action = bag.decode(record)
                    if not action_matches(self.action_filter, action.index, action.names,
                                          action.values):
                        self.filtered += 1
                        continue
                outcome = self._publish_when_due(at, lambda: self._publish(record, at))
                if outcome == _HALT:
                    return None
                if outcome == _SEEK:
                    with self._control_lock:
                        target, self._seek_to = self._seek_to, None
                    return target
        return None

    def _publish(self, record, position: float) -> None:
        if self.clock_pub is not None:
            self.clock_pub.publish(Clock(clock=Time(
                sec=record.timestamp // 10**9, nanosec=record.timestamp % 10**9)))
        self.topic_publishers[record.topic].publish(record.data)
        self.published += 1
        self.position = position

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
                  'skipped_topics': self.skipped_topics, 'paused': self.clock.paused,
                  'position_s': round(self.position, 6)}
        if self.skipped_topics:
            return WARN, f'types not installed: {sorted(self.skipped_topics)}', values
        return OK, 'finished' if self.done else f'{self.mode} running', values

    def on_shutdown(self) -> None:
        """Stop the playing thread, then report."""
        self._halt.set()
        self._control_changed()
        self._thread.join(2.0)
        super().on_shutdown()


def main(args=None):
    """Run the replay node."""
    raise SystemExit(run(ReplayNode, args))


if __name__ == '__main__':
    main()
