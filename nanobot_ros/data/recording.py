"""The recorder's engine, without rclpy: sessions, splits, a writer thread, disk cap and reserve.

    recorder = SessionRecorder(RecorderConfig(root=Path('saved/sessions'), robot_type='jetbot'))
    recorder.add_topic(IMAGE.fqn(), IMAGE.msgtype, offered_qos)    # contract.IMAGE
    recorder.start()
    recorder.put(IMAGE.fqn(), receive_time_ns, cdr_bytes)          # from a callback: O(1)
    recorder.stop()

Compression: MCAP splits have zstd-compressed chunks by default (`compression` fast; small
trades CPU for bytes; none): still indexed MCAP files that `ros2 bag`, Foxglove and the `mcap`
tools read as they are. sqlite3 splits are plain.

Layout: <root>/<robot_type>/<session>/ holds session.yaml (the session metadata) and one bag
directory per split, <session>_000/, <session>_001/, ... Every split is a complete rosbag2 bag
(metadata.yaml with the session metadata in custom_data) as soon as it is closed; the split
being written is recoverable after a crash with `nanobot bag repair` (see bag_writer.py).

While a split is open its writer holds an flock on <split>.lock beside it (the pid inside, for
people). The kernel drops the lock when the process dies, even by SIGKILL, so a lock file that
nobody holds is stale: repair goes ahead, while a held one makes repair refuse and the disk cap
of another recorder leave that session alone. At a split the next split's lock is taken before
the closed one's is dropped, so a killed recorder always leaves a lock where it was writing (the
next split's, before its bag exists, when killed in between: repair deletes it).

Disk cap: the robot folder holds at most `max_disk_gb` plus the split being written. When over,
the oldest complete sessions go first, then the oldest closed splits of the current session;
never a split that is being written. It is checked at each split and at each flush.

Free space: recording stops before the free space falls below `min_free_gb`, and at least
CLOSE_RESERVE, so the split is closed cleanly even when the disk fills: the free space is
measured at each flush and each message's bytes are counted against it. A disk someone else
fills meanwhile makes a write fail: recording stops, the split is left for `nanobot bag repair`
(everything flushed is in it) and the status says so.

Threading: `put()` only appends to a queue bounded in bytes; a background thread writes,
flushes every `flush_period_s`, splits, enforces the disk cap and watches the free space. When
the queue is full a message is dropped and counted, never blocking the caller (the executor).
"""
from collections import Counter, deque
from dataclasses import dataclass, field
import datetime
import fcntl
import os
from pathlib import Path
import re
import shutil
import threading
import time
from typing import Dict, List, Optional

import yaml

from nanobot_ros.contract import Qos, RECORDED
from nanobot_ros.data.bag_writer import BagWriter, CHUNK_COMPRESSION_LEVELS
from nanobot_ros.data.bags import BagError, make_typestore
from nanobot_ros.durable import atomic_write

GB = 1024 ** 3
MB = 1024 ** 2
# Free space always kept to close the split being written (MCAP summary, metadata.yaml) when
# the disk fills, and the framing and index bytes a message costs beyond its data (generous).
CLOSE_RESERVE = 1 * MB
RECORD_OVERHEAD = 64
SESSION_FILE = 'session.yaml'
LOCK_SUFFIX = '.lock'


@dataclass
class RecorderConfig:
    """Where and how to record; sizes in MB/GB, times in seconds (0 disables a limit)."""

    root: Path
    robot_type: str = 'toroidal_dot'
    storage: str = 'mcap'
    compression: str = 'fast'  # MCAP zstd chunks: none, fast (rosbag2's zstd_fast), small
    split_size_mb: float = 1024.0
    split_duration_s: float = 0.0
    max_disk_gb: float = 10.0
    min_free_gb: float = 1.0
    flush_period_s: float = 0.5
    queue_size_mb: float = 512.0
    # > 0: snapshot mode (rosbag2's --snapshot-mode): keep the last this many seconds (by log
    # time, from the newest message; at most queue_size_mb) in memory, write them on snapshot()
    snapshot_duration_s: float = 0.0
    metadata: Dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ValueError when a setting makes no sense."""
        if self.storage not in ('mcap', 'sqlite3'):
            raise ValueError(f'storage must be mcap or sqlite3, got {self.storage!r}')
        if self.compression not in CHUNK_COMPRESSION_LEVELS:
            raise ValueError(f'compression must be one of {list(CHUNK_COMPRESSION_LEVELS)}, '
                             f'got {self.compression!r}')
        for name in ('split_size_mb', 'split_duration_s', 'max_disk_gb', 'min_free_gb'):
            if getattr(self, name) < 0:
                raise ValueError(f'{name} must be >= 0, got {getattr(self, name)}')
        if not 0 < self.flush_period_s <= 1.0:
            raise ValueError(f'flush_period_s must be in (0, 1] so a crash loses at most a '
                             f'second, got {self.flush_period_s}')
        if self.snapshot_duration_s < 0:
            raise ValueError(f'snapshot_duration_s must be >= 0 (0 = record everything), got '
                             f'{self.snapshot_duration_s}')
        if self.queue_size_mb <= 0:
            raise ValueError(f'queue_size_mb must be > 0, got {self.queue_size_mb}')
        if not self.robot_type or '/' in self.robot_type:
            raise ValueError(f'robot_type must be a folder name, got {self.robot_type!r}')


@dataclass
class RecorderSetup:
    """The recorder node's settings beside RecorderConfig: what, where sessions go, when."""

    # Relative names resolve in the recorder's namespace and are recorded by their full names.
    topics: List[str] = field(default_factory=lambda: [t.name for t in RECORDED])
    topics_regex: str = ''      # also every topic whose full name this matches ('' = none)
    exclude_regex: str = ''     # never the topics whose full name this matches ('' = none)
    topic_types: List[str] = field(default_factory=lambda: [''])  # also every topic of these
    exclude_topic_types: List[str] = field(default_factory=lambda: [''])  # never these types
    qos_overrides_path: str = ''  # YAML {topic: {reliability, durability, depth, ...}}
    start_paused: bool = False
    run_dir: str = ''           # run folder of the stack runner ('' = none)
    output_dir: str = ''        # '' = <run_dir>/sessions, or saved/sessions without a run
    config_file: str = ''       # '' = <run_dir>/config.yaml if present
    action_space: str = 'discrete: 0 = stay, 1 = move right'
    autostart: bool = True
    discovery_period_s: float = 0.5

    def validate(self) -> None:
        """Raise ValueError when a setting makes no sense (a regex that does not compile)."""
        for name in ('topics_regex', 'exclude_regex'):
            try:
                re.compile(getattr(self, name))
            except re.error as error:
                raise ValueError(f'{name} {getattr(self, name)!r} is not a regular '
                                 f'expression: {error}') from None

    def selects(self, topic: str, msgtype: str) -> bool:
        """Return whether `topic` (a full name) of `msgtype` is recorded: chosen, not excluded.

        Chosen: listed in `topics`, matched by `topics_regex` or of a type in `topic_types`;
        excluded: matched by `exclude_regex` or of a type in `exclude_topic_types`. `topics`
        must be resolved to full names by the caller (the node's namespace).
        """
        if (self.exclude_regex and re.search(self.exclude_regex, topic)) \
                or msgtype in self.exclude_topic_types:
            return False
        return (topic in self.topics or msgtype in self.topic_types
                or bool(self.topics_regex and re.search(self.topics_regex, topic)))

    def sessions_folder(self) -> Path:
        """Return the folder the robot-type folders of the sessions go into."""
        if self.output_dir:
            return Path(self.output_dir).resolve()
        return (Path(self.run_dir) / 'sessions' if self.run_dir
                else Path('saved/sessions')).resolve()

    def stack_config(self) -> str:
        """Return the text of the stack config stored with each session ('' = none)."""
        path = self.config_file
        if not path and self.run_dir and (Path(self.run_dir) / 'config.yaml').is_file():
            path = str(Path(self.run_dir) / 'config.yaml')
        return Path(path).read_text() if path else ''


QOS_OVERRIDE_KEYS = ('reliability', 'durability', 'history', 'depth', 'deadline', 'lifespan',
                     'liveliness', 'liveliness_lease_duration',
                     'avoid_ros_namespace_conventions')


def load_qos_overrides(path) -> Dict[str, Qos]:
    """Return {topic: Qos} from a rosbag2 `--qos-profile-overrides-path` YAML file.

    Each topic maps to the policies it overrides (names as rosbag2 writes them: reliable /
    best_effort, volatile / transient_local, keep_last / keep_all, depth; durations as
    {sec, nsec}); the rest keep Qos's defaults. ValueError says what is wrong.
    """
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f'QoS overrides {path}: {error}') from None
    if not isinstance(data, dict):
        raise ValueError(f'QoS overrides {path}: expected {{topic: {{policy: value}}}}')
    overrides = {}
    for topic, policies in data.items():
        unknown = set(policies or {}) - set(QOS_OVERRIDE_KEYS)
        if not isinstance(policies, dict) or unknown:
            raise ValueError(f'QoS overrides {path}: {topic}: unknown policies '
                             f'{sorted(unknown) if isinstance(policies, dict) else policies}')
        try:
            qos = Qos.from_policies(policies)
        except KeyError as error:
            raise ValueError(f'QoS overrides {path}: {topic}: unknown value {error}') from None
        overrides[str(topic)] = qos
    return overrides


class SnapshotBuffer:
    """The newest messages of the last `duration_s` (log time, from the newest one), bounded.

    rosbag2's snapshot mode: kept in memory, handed over on a trigger. A message older than the
    window, or beyond `max_bytes` (oldest first), leaves the buffer.
    """

    def __init__(self, duration_s: float, max_bytes: int):
        self.window_ns = int(duration_s * 1e9)
        self.max_bytes = max_bytes
        self._items = deque()
        self._bytes = 0
        self._lock = threading.Lock()

    def add(self, topic: str, timestamp: int, data: bytes) -> None:
        """Keep one message; forget what fell out of the window."""
        with self._lock:
            self._items.append((topic, timestamp, data))
            self._bytes += len(data)
            horizon = timestamp - self.window_ns
            while self._items and (self._items[0][1] < horizon or self._bytes > self.max_bytes):
                self._bytes -= len(self._items.popleft()[2])

    def take(self) -> list:
        """Return the buffered (topic, timestamp, data) in arrival order and empty the buffer."""
        with self._lock:
            items, self._items, self._bytes = list(self._items), deque(), 0
        return items


def folder_bytes(path: Path) -> int:
    """Return the bytes of all files below `path`."""
    return sum(f.stat().st_size for f in Path(path).rglob('*') if f.is_file())


def split_index(split: Path) -> int:
    """Return the index of a split bag directory of a session: <session>_<index>."""
    return int(split.name.rpartition('_')[2])


def lock_file(split: Path) -> Path:
    """Return the lock file of a split bag directory: <split>.lock beside it."""
    return split.with_name(split.name + LOCK_SUFFIX)


class SplitLock:
    """An exclusive flock on <split>.lock, held while the split is written."""

    def __init__(self, split: Path):
        self.split = split
        self.path = lock_file(split)
        self._file = open(self.path, 'a+')
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise BagError(f'{split} is being written by another process '
                           f'(pid {holder(self.path)})') from None
        self._file.truncate(0)
        self._file.write(f'{os.getpid()}\n')
        self._file.flush()

    def release(self) -> None:
        """Delete the lock file and drop the lock (unlinked first: no one sees it unheld)."""
        if self._file.closed:
            return
        self.path.unlink(missing_ok=True)
        self._file.close()


def holder(lock: Path) -> Optional[str]:
    """Return the pid written in `lock` if a live process holds it, else None (stale, absent)."""
    try:
        with open(lock) as file:
            try:
                fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return file.read().strip() or '?'
            return None
    except FileNotFoundError:
        return None


def live_locks(folder: Path) -> List[Path]:
    """Return the lock files at or below `folder` that a live recorder holds."""
    return sorted(lock for lock in Path(folder).rglob('*' + LOCK_SUFFIX) if holder(lock))


@dataclass
class CapResult:
    """What one disk-cap pass deleted and what it left."""

    deleted_sessions: List[Path] = field(default_factory=list)
    deleted_splits: List[Path] = field(default_factory=list)
    total_bytes: int = 0       # bytes left below the robot folder
    deletable_bytes: int = 0   # of those, what a later pass could still delete


def enforce_disk_cap(robot_dir: Path, cap_bytes: int, current_session: Optional[Path] = None,
                     current_split: Optional[Path] = None) -> CapResult:
    """Delete the oldest data of `robot_dir` until it holds at most `cap_bytes`.

    First the other sessions, oldest (by name: their start time) first, except those a live
    recorder holds a lock in; then the closed splits of `current_session`, oldest first, never
    `current_split` (the one being written) nor a locked one. So the total can exceed the cap
    by the split being written, and by sessions other live recorders write.
    """
    robot_dir = Path(robot_dir)
    sessions = sorted(p for p in robot_dir.iterdir() if p.is_dir()) if robot_dir.is_dir() else []
    current = Path(current_session).resolve() if current_session else None
    candidates = []  # (folder, is a whole session) in the order they may go
    for session in sessions:
        if session.resolve() != current and not live_locks(session):
            candidates.append((session, True))
    if current is not None and current.is_dir():
        writing = Path(current_split).resolve() if current_split else None
        candidates += [(split, False) for split in sorted(current.iterdir())
                       if split.is_dir() and split.resolve() != writing
                       and not holder(lock_file(split))]
    result = CapResult(total_bytes=folder_bytes(robot_dir) if robot_dir.is_dir() else 0)
    sizes = {folder: folder_bytes(folder) for folder, _ in candidates}
    result.deletable_bytes = sum(sizes.values())
    for folder, is_session in candidates:
        if result.total_bytes <= cap_bytes:
            break
        shutil.rmtree(folder, ignore_errors=True)
        result.total_bytes -= sizes[folder]
        result.deletable_bytes -= sizes[folder]
        (result.deleted_sessions if is_session else result.deleted_splits).append(folder)
    return result


_SPLIT, _STOP = object(), object()


class SessionRecorder:
    """Record topics into a session folder of split bags from a background thread."""

    def __init__(self, config: RecorderConfig, typestore=None, log=print):
        config.validate()
        self.config = config
        self.typestore = typestore or make_typestore()
        self.log = log
        self.topics: Dict[str, tuple] = {}  # topic -> (msgtype, offered qos dicts)
        self.received = Counter()
        self.written = Counter()
        self.dropped = Counter()
        self.bytes_written = 0
        self.splits: List[Path] = []
        self.deleted_sessions: List[Path] = []
        self.deleted_splits: List[Path] = []
        self.session: Optional[Path] = None
        self.stopped_reason = ''
        self._queue = deque()
        self._queued_bytes = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._writer: Optional[BagWriter] = None
        self._split_lock: Optional[SplitLock] = None
        self._split_started = 0.0
        # From the last disk-cap pass: the robot folder's bytes but the split being written,
        # and what could be deleted; with them a flush checks the cap with one folder's stat.
        self._settled_bytes = 0
        self._deletable_bytes = 0
        # Bytes that may still be written before the free space would fall below the reserve:
        # measured at each flush, counted down by each message (see _write).
        self._room = 0
        self._accepting = False  # the writer thread takes messages (under _lock)
        self.snapshots = 0
        self.flushes = 0  # periodic flushes done: all written before one is recoverable
        self.snapshot_buffer = (SnapshotBuffer(config.snapshot_duration_s,
                                               int(config.queue_size_mb * MB))
                                if config.snapshot_duration_s else None)

    # -- called from the node (any thread) -------------------------------------------------
    @property
    def recording(self) -> bool:
        """Return whether the writer thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def add_topic(self, topic: str, msgtype: str, offered_qos=()) -> None:
        """Declare a topic to record; BagError if its type is unknown (nothing else changes)."""
        if msgtype not in self.typestore.types:
            raise BagError(f'cannot record {topic}: message type {msgtype!r} is unknown '
                           f'(not a ROS 2 Jazzy or nanobot_msgs type)')
        self.topics[topic] = (msgtype, list(offered_qos))

    def free_bytes(self) -> int:
        """Return the free bytes on the recording disk."""
        path = self.config.root
        while not path.exists():
            path = path.parent
        return shutil.disk_usage(path).free

    def start(self) -> Path:
        """Open a new session and start writing; return the session folder.

        Raises BagError when the free space is already below the reserve.
        """
        if self.recording:
            return self.session
        reserve = self.config.min_free_gb * GB
        if self.free_bytes() < reserve:
            self.stopped_reason = (f'not recording: {self.free_bytes() / GB:.2f} GB free, below '
                                   f'the reserve of {self.config.min_free_gb:g} GB')
            raise BagError(self.stopped_reason)
        robot_dir = self.config.root / self.config.robot_type
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
        session = robot_dir / stamp
        suffix = 1
        while session.exists():
            session = robot_dir / f'{stamp}-{suffix}'
            suffix += 1
        session.mkdir(parents=True)
        self.session = session
        self.splits = []
        self.stopped_reason = ''
        metadata = {'nanobot.session': session.name, 'nanobot.robot_type':
                    self.config.robot_type, **self.config.metadata}
        # Durable: repair reads it back after a power cut.
        atomic_write(session / SESSION_FILE, yaml.safe_dump(metadata, sort_keys=False).encode())
        self._custom_data = metadata
        self._thread = threading.Thread(target=self._run, name='recorder-writer', daemon=True)
        self._accepting = True
        self._thread.start()
        return session

    def put(self, topic: str, timestamp: int, data: bytes) -> bool:
        """Queue one message for writing; False (and counted as dropped) if the queue is full."""
        self.received[topic] += 1
        if self.snapshot_buffer is not None:
            self.snapshot_buffer.add(topic, timestamp, data)
            return True
        size = len(data)
        with self._lock:
            if not self._accepting or self._queued_bytes + size > self.config.queue_size_mb * MB:
                self.dropped[topic] += 1
                return False
            self._queue.append((topic, timestamp, data))
            self._queued_bytes += size
        self._wake.set()
        return True

    def snapshot(self) -> int:
        """Snapshot mode: write the buffered window as one split of its own; return its count.

        Not recording (or not in snapshot mode): 0, nothing written.
        """
        if self.snapshot_buffer is None or not self.recording:
            return 0
        items = self.snapshot_buffer.take()
        with self._lock:
            if not self._accepting:
                return 0
            self._queue.extend(items)
            self._queued_bytes += sum(len(data) for _, _, data in items)
            self._queue.append((_SPLIT, 0, b''))
        self.snapshots += 1
        self._wake.set()
        return len(items)

    def request_split(self) -> None:
        """Close the current split and open the next one (done by the writer thread)."""
        with self._lock:
            self._queue.append((_SPLIT, 0, b''))
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Write what is queued, close the split (metadata.yaml) and stop the thread."""
        if not self.recording:
            return
        with self._lock:
            self._queue.append((_STOP, 0, b''))
        self._wake.set()
        self._thread.join(timeout)

    @property
    def current_split(self) -> Optional[Path]:
        """Return the split bag being written (None when not recording)."""
        return self._writer.path if self._writer is not None else None

    # -- writer thread ----------------------------------------------------------------------
    def _next_split(self) -> Path:
        """Return the path of the split after the last one opened (none: the first)."""
        index = split_index(self._split_lock.split) + 1 if self._split_lock else 0
        return self.session / f'{self.session.name}_{index:03d}'

    def _open_split(self, lock: Optional[SplitLock] = None) -> None:
        """Open the next split, under `lock` if it is already taken."""
        self._split_lock = lock or SplitLock(self._next_split())
        path = self._split_lock.split
        custom = {**self._custom_data, 'nanobot.split': str(split_index(path))}
        try:
            self._writer = BagWriter(path, self.config.storage, self.typestore, custom,
                                     chunk_compression=self.config.compression)
        except BaseException:
            self._split_lock.release()
            raise
        self.splits.append(path)
        self._split_started = time.monotonic()

    def _close_split(self) -> None:
        try:
            if self._writer is not None:
                writer, self._writer = self._writer, None
                writer.close()
                if self.snapshot_buffer is not None and not writer.messages:
                    # Snapshot mode: the split waiting for the next snapshot got none.
                    shutil.rmtree(writer.path, ignore_errors=True)
                    self.splits.remove(writer.path)
        finally:
            if self._split_lock is not None:
                self._split_lock.release()
                self._split_lock = None

    def _reserve(self) -> int:
        """Return the free bytes recording keeps: min_free_gb, at least CLOSE_RESERVE."""
        return max(int(self.config.min_free_gb * GB), CLOSE_RESERVE)

    def _measure_room(self) -> None:
        """Measure the free space (after a flush: nothing of ours is pending in memory)."""
        self._room = self.free_bytes() - self._reserve()

    def _out_of_room(self) -> str:
        """Return why recording stops: the free space reached the reserve."""
        return (f'stopped recording: the free space on {self.config.root} '
                f'({self.free_bytes() / MB:.1f} MB) would fall below the reserve of '
                f'{self._reserve() / MB:g} MB (min_free_gb {self.config.min_free_gb:g}, at '
                f'least what closing a split needs)')

    def _write(self, topic: str, timestamp: int, data: bytes) -> bool:
        """Write one message; False (nothing written) when it would eat into the reserve."""
        cost = len(data) + RECORD_OVERHEAD
        if cost > self._room:
            return False
        self._room -= cost
        if not self._writer.has_topic(topic):
            msgtype, qos = self.topics[topic]
            self._writer.add_topic(topic, msgtype, qos)
        self._writer.write(topic, timestamp, data)
        self.written[topic] += 1
        self.bytes_written += len(data)
        return True

    def _split_due(self) -> bool:
        writer, config = self._writer, self.config
        if config.split_size_mb and writer.bytes >= config.split_size_mb * MB:
            return True
        return bool(config.split_duration_s and writer.messages
                    and time.monotonic() - self._split_started >= config.split_duration_s)

    def _enforce_cap(self) -> None:
        cap = int(self.config.max_disk_gb * GB)
        result = enforce_disk_cap(self.session.parent, cap, self.session, self.current_split)
        for deleted in result.deleted_sessions:
            self.deleted_sessions.append(deleted)
            self.log(f'disk cap {self.config.max_disk_gb:g} GB: deleted session {deleted}')
        for deleted in result.deleted_splits:
            self.deleted_splits.append(deleted)
            self.log(f'disk cap {self.config.max_disk_gb:g} GB: deleted split {deleted} of the '
                     f'session being recorded (no older complete session was left)')
        writing = folder_bytes(self.current_split) if self.current_split else 0
        self._settled_bytes = result.total_bytes - writing
        self._deletable_bytes = result.deletable_bytes

    def _over_cap(self) -> bool:
        """Return whether the last pass's total plus the split being written is over the cap."""
        total = self._settled_bytes + folder_bytes(self.current_split)
        return self._deletable_bytes > 0 and total > self.config.max_disk_gb * GB

    def _run(self) -> None:
        last_flush = time.monotonic()
        out_of_room = False  # stopping in the reserve: the split is closed (said once it is)
        try:
            # The writer is opened here: sqlite3 connections belong to the thread that made them.
            self._enforce_cap()
            self._open_split()
            self._measure_room()
            while True:
                self._wake.wait(self.config.flush_period_s / 2)
                self._wake.clear()
                stop = self._drain()
                now = time.monotonic()
                if stop:
                    break
                if now - last_flush >= self.config.flush_period_s:
                    self._writer.flush()
                    self.flushes += 1
                    last_flush = now
                    if self._over_cap():
                        self._enforce_cap()
                    self._measure_room()
                if self._room < 0:
                    self.stopped_reason = self._out_of_room()
                    out_of_room = True
                    break
        except OSError as error:
            # A write failed (a disk someone else filled, an I/O error): the storage may end in
            # a torn write, so it is not finished (that could index garbage), only released
            # for repair.
            self.stopped_reason = (
                f'stopped recording: {error.strerror or error} while writing '
                f'{self.current_split}; everything flushed before (at most '
                f'{self.config.flush_period_s:g} s earlier) is recoverable: '
                f'`nanobot bag repair {self.session}` once there is space')
            self.log(self.stopped_reason)
            self._abort_split()
        except Exception as error:  # noqa: B902 - a disk error must not vanish in a thread
            self.stopped_reason = f'stopped recording: {type(error).__name__}: {error}'
            self.log(self.stopped_reason)
        finally:
            with self._lock:
                self._accepting = False  # from now on put() counts as dropped at once
                dropped = [item for item in self._queue if isinstance(item[0], str)]
                for topic, _, _ in dropped:
                    self.dropped[topic] += 1
                self._queue.clear()
                self._queued_bytes = 0
            split = self.current_split
            try:
                self._close_split()
                if out_of_room:
                    self.stopped_reason += f'; split {split} closed'
                    self.log(self.stopped_reason)
            except Exception as error:  # noqa: B902 - already failing: say so, keep the node
                # E.g. another writer took the reserve kept for closing: the split is left
                # for repair, and the reason says so rather than claiming it was closed.
                failed = (f'could not close {split}: {error}; everything flushed before is '
                          f'recoverable: `nanobot bag repair {self.session}` once there is '
                          f'space')
                self.stopped_reason = (f'{self.stopped_reason}; {failed}'
                                       if self.stopped_reason else f'stopped recording: {failed}')
                self.log(self.stopped_reason)
                self._writer = None

    def _drain(self) -> bool:
        """Write everything queued; return True when asked to stop."""
        while True:
            with self._lock:
                if not self._queue:
                    return False
                topic, timestamp, data = self._queue.popleft()
                self._queued_bytes -= len(data)
            if topic is _STOP:
                return True
            if topic is _SPLIT:
                self._rotate()
                continue
            if not self._write(topic, timestamp, data):
                self.dropped[topic] += 1
                self._room = -1  # stop: the caller closes the split in the reserve
                return False
            if self._split_due():
                self._rotate()

    def _rotate(self) -> None:
        following = SplitLock(self._next_split())  # before the closing split's lock goes
        self._close_split()
        self._open_split(following)
        self._enforce_cap()
        self._measure_room()

    def _abort_split(self) -> None:
        """Release the split being written without finishing it (left for repair)."""
        try:
            if self._writer is not None:
                self._writer.abort()
        except OSError:
            pass  # the disk is still full: the file keeps what reached it
        self._writer = None
        self._close_split()

    def counts(self) -> dict:
        """Return received / written / dropped totals and per topic."""
        return {
            'received': sum(self.received.values()), 'written': sum(self.written.values()),
            'dropped': sum(self.dropped.values()), 'bytes_written': self.bytes_written,
            'topics': {t: {'received': self.received[t], 'written': self.written[t],
                           'dropped': self.dropped[t]} for t in sorted(self.received)},
        }
