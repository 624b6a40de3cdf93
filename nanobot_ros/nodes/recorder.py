"""recorder: records topics into rosbag2 session folders (MCAP by default) with `rosbags`.

Topics (in): every name in `topics` (default camera, telemetry, surface, action, instruction,
world model status), subscribed as serialized messages (no decode) once a publisher shows its
type. QoS per topic follows the publishers, as `ros2 bag record` does: best effort if any
publisher is best effort (cameras, telemetry: sensor data), else reliable.

Output: <output_dir>/<robot_type>/<session>/<session>_NNN/ (one rosbag2 bag per split) and
session.yaml; output_dir defaults to <run_dir>/sessions under the stack runner, else
saved/sessions. Each split's metadata.yaml custom_data holds the session metadata (robot type,
action space, stack config, software version). See nanobot_ros/data/recording.py.

Services (std_srvs/Trigger): ~/start, ~/stop, ~/split.
Status (/diagnostics, every second): messages received / written / dropped, per topic too,
session folder, split, bytes written; ERROR when recording stopped on its own (free space
below `min_free_gb`, disk error), WARN when messages were dropped or a type is unknown.

Crash safety: the writer thread flushes and fsyncs every `flush_period_s` (<= 1 s); after
SIGKILL or a power cut, `./run.sh nanobot bag repair <session folder>` recovers everything up to
the last flush. The split being written is locked (<split>.lock): repair refuses it meanwhile.

Disk cap: `max_disk_gb` per robot type, checked at each split and flush: the oldest complete
sessions go first, then the oldest closed splits of this session (listed in deleted_sessions /
deleted_splits on /diagnostics); never the split being written.
"""
from pathlib import Path

from rclpy.qos import QoSProfile
from std_srvs.srv import Trigger

from nanobot_ros.data.bags import BagError
from nanobot_ros.data.recording import RecorderConfig, SessionRecorder
from nanobot_ros.nodes.common import compatible_qos, ERROR, message_class, NanobotNode, OK, run, \
    WARN
from nanobot_ros.version import software_version

DEFAULT_TOPICS = ['/camera/image_raw', '/robot/telemetry', '/robot/surface', '/robot/action',
                  '/instruction', '/world_model/status']
# Deep enough to ride out a second of the executor being descheduled at 1 kHz.
SUBSCRIPTION_DEPTH = 1000


def _duration(ns: int) -> dict:
    return {'sec': int(ns // 10**9), 'nsec': int(ns % 10**9)}


def offered_qos(profile) -> dict:
    """Return a publisher's QoS as rosbag2's offered_qos_profiles entry."""
    return {'history': int(profile.history), 'depth': int(profile.depth),
            'reliability': int(profile.reliability), 'durability': int(profile.durability),
            'deadline': _duration(profile.deadline.nanoseconds),
            'lifespan': _duration(profile.lifespan.nanoseconds),
            'liveliness': int(profile.liveliness),
            'liveliness_lease_duration': _duration(
                profile.liveliness_lease_duration.nanoseconds),
            'avoid_ros_namespace_conventions': bool(
                profile.avoid_ros_namespace_conventions)}


def subscription_qos(publisher_profiles) -> QoSProfile:
    """Return a QoS that matches every publisher: best effort if any is, else reliable."""
    return compatible_qos([p.reliability for p in publisher_profiles],
                          [p.durability for p in publisher_profiles], SUBSCRIPTION_DEPTH)


class RecorderNode(NanobotNode):
    """Subscribes to the configured topics and hands raw messages to a SessionRecorder."""

    def __init__(self):
        super().__init__('recorder')
        self.wanted = list(self.param('topics', DEFAULT_TOPICS, 'topics to record'))
        run_dir = self.param('run_dir', '', 'run folder of the stack runner ("" = none)')
        output_dir = self.param('output_dir', '',
                                'sessions folder; "" = <run_dir>/sessions or saved/sessions')
        config_file = self.param('config_file', '',
                                 'stack config stored with the session; "" = <run_dir>/'
                                 'config.yaml if present')
        if not output_dir:
            output_dir = str(Path(run_dir) / 'sessions') if run_dir else 'saved/sessions'
        if not config_file and run_dir and (Path(run_dir) / 'config.yaml').is_file():
            config_file = str(Path(run_dir) / 'config.yaml')
        config_text = Path(config_file).read_text() if config_file else ''
        self.config = RecorderConfig(
            root=Path(output_dir).resolve(),
            robot_type=self.param('robot_type', 'toroidal_dot',
                                  'robot type: sessions go to <output_dir>/<robot_type>/'),
            storage=self.param('storage', 'mcap', 'mcap or sqlite3'),
            split_size_mb=float(self.param('split_size_mb', 1024.0,
                                           'start a new split after this many MB; 0 = never')),
            split_duration_s=float(self.param('split_duration_s', 0.0,
                                              'start a new split after this many s; 0 = never')),
            max_disk_gb=float(self.param('max_disk_gb', 10.0,
                                         'per-robot cap: oldest sessions are deleted above it')),
            min_free_gb=float(self.param('min_free_gb', 1.0,
                                         'free-space reserve: recording stops below it')),
            flush_period_s=float(self.param('flush_period_s', 0.5,
                                            'flush interval (<= 1 s): what a crash can lose')),
            queue_size_mb=float(self.param('queue_size_mb', 512.0,
                                           'write queue bound; messages beyond it are dropped')),
            metadata={
                'nanobot.action_space': self.param(
                    'action_space', 'discrete: 0 = stay, 1 = move right',
                    'action space stored in the session metadata'),
                'nanobot.config': config_text,
                'nanobot.software_version': software_version()})
        autostart = bool(self.param('autostart', True, 'start a session at once'))
        discovery_period = float(self.param('discovery_period_s', 0.5,
                                            'how often to look for new publishers (s)'))
        self.recorder = SessionRecorder(self.config, log=self.get_logger().warning)
        self.subscribed = {}
        self.unknown_types = {}
        self.active = False
        self.create_service(Trigger, '~/start', self._on_start)
        self.create_service(Trigger, '~/stop', self._on_stop)
        self.create_service(Trigger, '~/split', self._on_split)
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

    # -- topics ------------------------------------------------------------------------------
    def _discover(self):
        types = dict(self.get_topic_names_and_types())
        for topic in self.wanted:
            if topic in self.subscribed or topic in self.unknown_types or topic not in types:
                continue
            msgtype = types[topic][0]
            profiles = [i.qos_profile for i in self.get_publishers_info_by_topic(topic)]
            try:
                cls = message_class(msgtype)
                self.recorder.add_topic(topic, msgtype, [offered_qos(p) for p in profiles])
            except (ImportError, AttributeError, BagError) as error:
                self.unknown_types[topic] = msgtype
                self.get_logger().error(f'not recording {topic}: type {msgtype} is unknown '
                                        f'here ({error}); the other topics are recorded')
                continue
            qos = subscription_qos(profiles)
            self.subscribed[topic] = self.create_subscription(
                cls, topic, lambda data, topic=topic: self._on_message(topic, data), qos,
                raw=True)
            self.get_logger().info(f'recording {topic} ({msgtype}, '
                                   f'{qos.reliability.name.lower()})')

    def _on_message(self, topic: str, data: bytes) -> None:
        if self.active:
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
        if counts['dropped'] or self.unknown_types:
            return WARN, (f'recording; {counts["dropped"]} dropped, unknown types: '
                          f'{sorted(self.unknown_types) or "none"}'), values
        return OK, f'recording {len(self.subscribed)} topics', values

    def on_shutdown(self) -> None:
        """Close the split (metadata.yaml) before the final status report."""
        self.active = False
        self.recorder.stop()
        super().on_shutdown()


def main(args=None):
    """Run the recorder node."""
    raise SystemExit(run(RecorderNode, args))


if __name__ == '__main__':
    main()
