"""recorder: records topics into rosbag2 session folders (MCAP by default) with `rosbags`.

Topics (in): every name in `topics` (default contract.RECORDED: camera, telemetry, surface,
action, instruction, world model status), resolved in the node's namespace (relative names
under `__ns:=/robot1` are /robot1/...) and recorded under that full name, as `ros2 bag record`
does; subscribed as serialized messages (no decode) once a publisher shows its type. QoS per
topic follows the publishers (contract.compatible_qos, rosbag2's rule): best effort if any
publisher is best effort (cameras, telemetry: sensor data), else reliable; depth 1000 (image
topics 60). Spun by rclpy's C++ EventsExecutor: several 640x480 cameras plus 1 kHz telemetry
(docs/recording.md, bench/recorder_throughput.py).

Output: <output_dir>/<robot_type>/<session>/<session>_NNN/ (one rosbag2 bag per split) and
session.yaml, MCAP with zstd-compressed chunks by default (`compression`: none / fast / small);
output_dir defaults to <run_dir>/sessions under the stack runner, else saved/sessions. Each
split's metadata.yaml custom_data holds the session metadata (robot type, action space, stack
config, software version). See nanobot_ros/data/recording.py.

Which topics: `topics` (names), plus every topic whose full name `topics_regex` matches
(re.search, like `ros2 bag record -e`; '.*' = all) and every topic of a type in `topic_types`,
minus those `exclude_regex` matches (like --exclude-regex) and those of a type in
`exclude_topic_types`. `qos_overrides_path`: a rosbag2 --qos-profile-overrides-path YAML file; a
topic named there is subscribed with that QoS instead of the one matching its publishers.

Snapshot mode (`snapshot_duration_s` > 0, like --snapshot-mode with a cache duration): nothing
is written while the last that many seconds stay in memory (at most queue_size_mb); ~/snapshot
writes them as one split of their own, e.g. when something went wrong.

Services (std_srvs/Trigger): ~/start, ~/stop, ~/split, ~/snapshot, ~/pause, ~/resume (while
paused, messages are not recorded; `start_paused` starts so, like --start-paused), ~/is_paused
(success = paused).
Status (/diagnostics, every second): messages received / written / dropped, per topic too,
session folder, split, bytes written; ERROR when recording stopped on its own (the free space
would fall below `min_free_gb` (at least 1 MB): the split is closed cleanly; a disk filled by
someone else or a disk error: the split is left for repair), WARN when messages were dropped
or a type is unknown.

Crash safety: the writer thread flushes and fsyncs every `flush_period_s` (<= 1 s); after
SIGKILL or a power cut, `./run.sh nanobot bag repair <session folder>` recovers everything up to
the last flush. The split being written is locked (<split>.lock): repair refuses it meanwhile.

Disk cap: `max_disk_gb` per robot type, checked at each split and flush: the oldest complete
sessions go first, then the oldest closed splits of this session (listed in deleted_sessions /
deleted_splits on diagnostics); never the split being written.
"""
import sys

from rclpy.experimental import EventsExecutor
from rclpy.qos import QoSProfile
from std_srvs.srv import Trigger

from nanobot_ros.contract import compatible_qos
from nanobot_ros.data.bags import BagError, IMAGE_TYPES
from nanobot_ros.data.recording import (load_qos_overrides, RecorderConfig, RecorderSetup,
                                        SessionRecorder)
from nanobot_ros.nodes.common import (ERROR, message_class, NanobotNode, OK, qos_profile,
                                      qos_spec, run, WARN)
from nanobot_ros.version import software_version

DESCRIPTIONS = {
    'topics': 'topics to record',
    'run_dir': 'run folder of the stack runner ("" = none)',
    'output_dir': 'sessions folder; "" = <run_dir>/sessions or saved/sessions',
    'config_file': 'stack config stored with the session; "" = <run_dir>/config.yaml if present',
    'action_space': 'action space stored in the session metadata',
    'autostart': 'start a session at once',
    'discovery_period_s': 'how often to look for new publishers (s)',
    'topics_regex': 'also record every topic whose full name this matches (like ros2 bag '
                    'record -e); "" = none, ".*" = all',
    'exclude_regex': 'never record topics whose full name this matches (like --exclude-regex)',
    'topic_types': 'also record every topic of these types (like --topic-types); [""] = none',
    'exclude_topic_types': 'never record topics of these types (like --exclude-topic-types); '
                           '[""] = none',
    'qos_overrides_path': 'rosbag2 QoS overrides YAML ({topic: {reliability: ..., depth: ...}}) '
                          'for the subscriptions; "" = none',
    'start_paused': 'start paused: nothing is recorded until ~/resume',
    'snapshot_duration_s': 'snapshot mode if > 0: keep the last this many seconds in memory, '
                           'write them on ~/snapshot',
    'robot_type': 'robot type: sessions go to <output_dir>/<robot_type>/',
    'storage': 'mcap or sqlite3',
    'compression': 'MCAP chunk compression: none, fast (zstd level 1, rosbag2 zstd_fast) or '
                   'small (zstd level 9); sqlite3 stays plain',
    'split_size_mb': 'start a new split after this many MB; 0 = never',
    'split_duration_s': 'start a new split after this many s; 0 = never',
    'max_disk_gb': 'per-robot cap: oldest sessions are deleted above it',
    'min_free_gb': 'free-space reserve: recording stops before the free space falls below it '
                   '(at least 1 MB)',
    'flush_period_s': 'flush interval (<= 1 s): what a crash can lose',
    'queue_size_mb': 'write queue bound; messages beyond it are dropped',
}
# Deep enough to ride out a second of the executor being descheduled at 1 kHz; images (up to
# megabytes each) get two seconds at 30 Hz, so DDS holds at most ~60 frames per camera.
SUBSCRIPTION_DEPTH = 1000
IMAGE_SUBSCRIPTION_DEPTH = 60


def subscription_depth(msgtype: str) -> int:
    """Return the subscription depth for a type: its messages held while the executor lags."""
    return IMAGE_SUBSCRIPTION_DEPTH if msgtype in IMAGE_TYPES else SUBSCRIPTION_DEPTH


def subscription_qos(publisher_profiles, msgtype: str) -> QoSProfile:
    """Return a QoS that matches every publisher: best effort if any is, else reliable."""
    return qos_profile(compatible_qos([int(p.reliability) for p in publisher_profiles],
                                      [int(p.durability) for p in publisher_profiles],
                                      subscription_depth(msgtype)))


class RecorderNode(NanobotNode):
    """Subscribes to the configured topics and hands raw messages to a SessionRecorder."""

    def __init__(self):
        super().__init__('recorder')
        setup = RecorderSetup(**self.declare_config(RecorderSetup, DESCRIPTIONS))
        setup.topics = [self.topic_name(t) for t in setup.topics if t]
        setup.validate()
        self.setup = setup
        self.qos_overrides = ({self.topic_name(t): q for t, q in
                               load_qos_overrides(setup.qos_overrides_path).items()}
                              if setup.qos_overrides_path else {})
        self.config = RecorderConfig(
            root=setup.sessions_folder(),
            metadata={'nanobot.action_space': setup.action_space,
                      'nanobot.config': setup.stack_config(),
                      'nanobot.software_version': software_version()},
            **self.declare_config(RecorderConfig, DESCRIPTIONS, skip=('root', 'metadata')))
        autostart, discovery_period = setup.autostart, setup.discovery_period_s
        self.recorder = SessionRecorder(self.config, log=self.get_logger().warning)
        self.subscribed = {}
        self.unknown_types = {}
        self.active = False
        self.paused = setup.start_paused
        self.skipped_while_paused = 0
        self.create_service(Trigger, '~/start', self._on_start)
        self.create_service(Trigger, '~/stop', self._on_stop)
        self.create_service(Trigger, '~/split', self._on_split)
        self.create_service(Trigger, '~/snapshot', self._on_snapshot)
        self.create_service(Trigger, '~/pause', self._on_pause)
        self.create_service(Trigger, '~/resume', self._on_resume)
        self.create_service(Trigger, '~/is_paused', self._on_is_paused)
        self.create_timer(discovery_period, self._discover)
        if autostart:
            self._start()

    # -- sessions ----------------------------------------------------------------------------
    def _start(self):
        try:
            session = self.recorder.start()
        except BagError as error:
            self.get_logger().error(str(error))
            return False, str(error)
        self.active = True
        self.get_logger().info(f'recording into {session} ({self.config.storage})')
        return True, str(session)

    def _stop(self):
        self.active = False
        self.recorder.stop()
        return True, f'stopped; {self.recorder.counts()["written"]} messages written'

    def _on_start(self, request, response):
        response.success, response.message = self._start()
        return response

    def _on_stop(self, request, response):
        response.success, response.message = self._stop()
        return response

    def _on_split(self, request, response):
        if not self.recorder.recording:
            response.success, response.message = False, 'not recording'
        else:
            self.recorder.request_split()
            response.success, response.message = True, 'split requested'
        return response

    def _on_snapshot(self, request, response):
        if self.recorder.snapshot_buffer is None:
            response.success, response.message = False, ('not in snapshot mode '
                                                         '(snapshot_duration_s is 0)')
        elif not self.recorder.recording:
            response.success, response.message = False, 'not recording'
        else:
            count = self.recorder.snapshot()
            response.success = True
            response.message = f'snapshot {self.recorder.snapshots}: {count} messages'
        return response

    def _on_pause(self, request, response):
        response.success, response.message = True, ('already paused' if self.paused
                                                    else 'paused')
        self.paused = True
        return response

    def _on_resume(self, request, response):
        response.success, response.message = True, ('resumed' if self.paused
                                                    else 'already recording')
        self.paused = False
        return response

    def _on_is_paused(self, request, response):
        response.success, response.message = self.paused, ('paused' if self.paused
                                                           else 'recording')
        return response

    # -- topics ------------------------------------------------------------------------------
    def _discover(self):
        types = dict(self.get_topic_names_and_types())
        for topic in sorted(types):
            msgtype = types[topic][0]
            if topic in self.subscribed or topic in self.unknown_types \
                    or not self.setup.selects(topic, msgtype):
                continue
            profiles = [i.qos_profile for i in self.get_publishers_info_by_topic(topic)]
            if not profiles:  # only subscribers so far: the publishers' QoS decides ours
                continue
            try:
                cls = message_class(msgtype)
                self.recorder.add_topic(topic, msgtype, [qos_spec(p).offered() for p in profiles])
            except (ImportError, AttributeError, BagError) as error:
                self.unknown_types[topic] = msgtype
                self.get_logger().error(f'not recording {topic}: type {msgtype} is unknown '
                                        f'here ({error}); the other topics are recorded')
                continue
            qos = (qos_profile(self.qos_overrides[topic]) if topic in self.qos_overrides
                   else subscription_qos(profiles, msgtype))
            self.subscribed[topic] = self.create_subscription(
                cls, topic, lambda data, topic=topic: self._on_message(topic, data), qos,
                raw=True)
            self.get_logger().info(f'recording {topic} ({msgtype}, '
                                   f'{qos.reliability.name.lower()})')

    def _on_message(self, topic: str, data: bytes) -> None:
        if self.active and self.paused:
            self.skipped_while_paused += 1
        elif self.active:
            self.recorder.put(topic, self.get_clock().now().nanoseconds, data)

    # -- status ------------------------------------------------------------------------------
    def status(self):
        """Report counts, the session and why recording stopped, if it stopped on its own."""
        counts = self.recorder.counts()
        values = {
            'bag': str(self.recorder.session or ''),
            'split': str(self.recorder.current_split or ''),
            'messages_received': counts['received'], 'messages_written': counts['written'],
            'messages_dropped': counts['dropped'], 'bytes_written': counts['bytes_written'],
            'splits': len(self.recorder.splits), 'topics': counts['topics'],
            'paused': self.paused, 'skipped_while_paused': self.skipped_while_paused,
            'snapshots': self.recorder.snapshots,
            'subscribed': sorted(self.subscribed),
            'unknown_types': self.unknown_types,
            'deleted_sessions': [str(p) for p in self.recorder.deleted_sessions],
            'deleted_splits': [str(p) for p in self.recorder.deleted_splits],
            'recording': self.recorder.recording}
        if self.recorder.stopped_reason:
            values['stopped_reason'] = self.recorder.stopped_reason
            return ERROR, self.recorder.stopped_reason, values
        if not self.active:
            return OK, 'not recording', values
        if self.paused:
            return OK, 'paused', values
        if counts['dropped'] or self.unknown_types:
            return WARN, (f'recording; {counts["dropped"]} dropped, unknown types: '
                          f'{sorted(self.unknown_types) or "none"}'), values
        return OK, f'recording {len(self.subscribed)} topics', values

    def on_shutdown(self) -> None:
        """Close the split (metadata.yaml) before the final status report."""
        self.active = False
        self.recorder.stop()
        super().on_shutdown()


# The writer thread copies megabytes per frame holding the GIL; with Python's default 5 ms
# switch interval the executor then takes a message only every few ms and best-effort topics
# overflow their DDS history (docs/recording.md, "The executor", has the losses measured).
GIL_SWITCH_INTERVAL_S = 0.0005


def main(args=None):
    """Run the recorder node."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    raise SystemExit(run(RecorderNode, args, executor_factory=EventsExecutor))


if __name__ == '__main__':
    main()
