"""Read rosbag2 bags (MCAP or sqlite3) without a ROS graph: raw CDR records and decoded messages.

    bag = Bag('saved/sessions/toroidal_dot/20260101-120000/20260101-120000_000')
    bag.topics                      # {recorded name: TopicInfo(msgtype, count, qos), ...}
    for record in bag.records([find_topic(bag.topics, ACTION.name)]):  # in any namespace
        action = bag.decode(record)  # a rosbags dataclass with the message's fields

Why not `rosbags.rosbag2.Reader` alone: users bring bags they did not record, and rosbags 0.11.9
yields no messages when metadata.yaml's offered-QoS text differs from the storage's own (bags
written by ROS 2's rosbag2 do that). So each storage file is read on its own terms: MCAP with the
`mcap` library (schemas and channels from the file itself), sqlite3 with the standard library
(topics and definitions from its tables). metadata.yaml is used only to list the files.

Types: ROS 2 Jazzy's standard messages, nanobot_msgs (from its .msg files) and whatever
definitions a bag carries (MCAP schema records, the sqlite3 message_definitions table) are
registered in a rosbags Typestore, so test_msgs and other foreign types decode too: legacy
names without /msg/ are normalised, an empty definition is a type without fields, and a
service event's definition (the .srv text) gives <pkg>/srv/<Name>_Event as rosidl generates
it. A topic whose type is neither known nor (parseably) defined is listed with its count and
the reason in `undecodable`; the other topics read normally.

Compression, as rosbag2 writes it: MCAP chunks compressed with zstd or lz4 (read by the `mcap`
library), `--compression-mode file` (each storage file is `<split>.mcap.zstd` / `.db3.zstd`:
decompressed once into a temporary folder that lives as long as the Bag) and
`--compression-mode message` (each message's CDR bytes are a zstd frame: decompressed as read).

Errors are BagError with a message that says what to do (path missing, not a bag, a storage
file truncated by a crash -> `nanobot bag repair <path>`).
"""
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePath
import re
import sqlite3
import struct
import tempfile
from typing import Dict, Iterable, Iterator, List, Optional

from mcap.exceptions import McapError
from mcap.reader import make_reader
from mcap.stream_reader import StreamReader
from rosbags.interfaces import Nodetype
from rosbags.rosbag2 import ReaderError
from rosbags.rosbag2.metadata import parse_qos
from rosbags.serde import SerdeError
from rosbags.typesys import get_types_from_idl, get_types_from_msg, Stores, get_typestore
from rosbags.typesys.base import TypesysError
import yaml
import zstandard

STORAGE_SUFFIXES = {'.mcap': 'mcap', '.db3': 'sqlite3'}
# rosbag2's compression formats (its one compressor plugin): the suffix file mode appends.
COMPRESSED_SUFFIXES = {'.zstd': 'zstd'}
IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
DEFINITION_SEPARATOR = '=' * 80 + '\n'
REPAIR_HINT = 'recover it with `./run.sh nanobot bag repair {path}`'


class BagError(Exception):
    """A bag cannot be read: the message says why and what to do."""


@dataclass(frozen=True)
class TopicInfo:
    """One topic of a bag: its type, how many messages it holds and the offered QoS text."""

    msgtype: str
    count: int
    offered_qos: str = ''


def qos_summary(offered_qos: str) -> str:
    """Return offered QoS text as 'reliable, volatile, keep_last 10', '; ' between publishers."""
    try:
        profiles = parse_qos(offered_qos or [])
    except ReaderError:
        return 'unreadable QoS'
    return '; '.join(f'{q.reliability.name.lower()}, {q.durability.name.lower()}'
                     + (f', keep_last {q.depth}' if q.history.name == 'KEEP_LAST' else '')
                     for q in profiles)


@dataclass(frozen=True)
class Record:
    """One stored message: topic, type, log time (ns since epoch) and its CDR bytes."""

    topic: str
    msgtype: str
    timestamp: int
    data: bytes


def _msg_dir() -> Path:
    """Return the folder with nanobot_msgs' .msg files (installed share/ or the source tree)."""
    try:
        from ament_index_python.packages import get_package_share_directory
        installed = Path(get_package_share_directory('nanobot_msgs')) / 'msg'
        if installed.is_dir():
            return installed
    except Exception:  # noqa: B902 - no ament index (plain checkout): use the source tree
        pass
    return Path(__file__).resolve().parents[2] / 'msg' / 'msg'


@lru_cache(maxsize=1)
def _nanobot_types() -> dict:
    types = {}
    for path in sorted(_msg_dir().glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(), f'nanobot_msgs/msg/{path.stem}'))
    return types


def make_typestore():
    """Return a rosbags Typestore with ROS 2 Jazzy's messages and nanobot_msgs."""
    store = get_typestore(Stores.ROS2_JAZZY)
    store.register(_nanobot_types())
    return store


def normalize_msgtype(msgtype: str) -> str:
    """Return rosbag2's current name of a type: legacy 'pkg/Type' -> 'pkg/msg/Type'."""
    parts = msgtype.split('/')
    return f'{parts[0]}/msg/{parts[1]}' if len(parts) == 2 else msgtype


_SERVICE_EVENT = re.compile(r'^[^/]+/srv/[^/]+_Event$')
_SERVICE = re.compile(r'^[^/]+/srv/[^/]+(?<!_Event)(?<!_Request)(?<!_Response)$')


def is_service_event(topic: str, msgtype: str) -> bool:
    """Return whether a topic holds service events, by rosbag2's rule (name and type)."""
    return topic.endswith('/_service_event') and bool(_SERVICE_EVENT.match(msgtype))


def _service_event_types(msgtype: str, text: str) -> dict:
    """Return the types of `<pkg>/srv/<Name>_Event` from rosbag2's definition: the .srv text.

    rosbag2 stores a service event's definition as the service's .srv file (request `---`
    response) followed by its dependencies; the event itself is generated by rosidl:
    `service_msgs/ServiceEventInfo info`, `<Name>_Request[<=1] request`,
    `<Name>_Response[<=1] response`.
    """
    package, _, event = msgtype.split('/')
    service = msgtype[:-len('_Event')]
    if text.startswith(DEFINITION_SEPARATOR):  # newer rosbag2: a `SRV: <type>` header first
        text = text[len(DEFINITION_SEPARATOR):].partition('\n')[2]
    top, separator, dependencies = text.partition(DEFINITION_SEPARATOR)
    halves = re.split(r'^---[ \t]*$', top, maxsplit=1, flags=re.MULTILINE)
    if len(halves) != 2:
        raise TypesysError(f'{msgtype}: a service event definition needs the .srv text '
                           f'(request --- response)')
    types = {}
    for part, half in zip(('Request', 'Response'), halves):
        # Parsed as a message of the service's package (for its package-relative field types),
        # then renamed to the srv namespace rosidl gives it.
        name = f'{package}/msg/{event[:-len("_Event")]}_{part}'
        parsed = get_types_from_msg(half + '\n' + separator + dependencies, name)
        types.update(parsed)
        types[f'{service}_{part}'] = types.pop(name)
    types[msgtype] = _event_type(msgtype)
    return types


def _event_type(msgtype: str) -> tuple:
    """Return the rosbags fields of `<pkg>/srv/<Name>_Event` (what rosidl generates)."""
    service = msgtype[:-len('_Event')]
    return ([], [
        ('info', (Nodetype.NAME, 'service_msgs/msg/ServiceEventInfo')),
        ('request', (Nodetype.SEQUENCE, ((Nodetype.NAME, f'{service}_Request'), 1))),
        ('response', (Nodetype.SEQUENCE, ((Nodetype.NAME, f'{service}_Response'), 1)))])


def register_definition(store, msgtype: str, encoding: str, text: str) -> None:
    """Register `msgtype` (and the types it embeds) from a bag's definition text, if new.

    An empty text is a type without fields (test_msgs/msg/Empty) unless the encoding says the
    writer had no definition ('unknown' or none): then nothing is registered. Raises
    TypesysError when the text does not parse.
    """
    msgtype = normalize_msgtype(msgtype)
    if msgtype in store.types or encoding in ('', 'unknown'):
        return
    if encoding in ('ros2idl', 'idl', 'omgidl'):
        types = {}
        for part in text.split(DEFINITION_SEPARATOR):
            if part.startswith('IDL: '):
                part = part.split('\n', 1)[1]
            if part.strip():
                types.update(get_types_from_idl(part))
        if _SERVICE_EVENT.match(msgtype) and msgtype not in types:
            types[msgtype] = _event_type(msgtype)  # the .srv's IDL has request and response
    elif _SERVICE_EVENT.match(msgtype):
        types = _service_event_types(msgtype, text)
    else:
        types = get_types_from_msg(text, msgtype)
    store.register({k: v for k, v in types.items() if k not in store.types})


def storage_suffix(path: Path) -> str:
    """Return a storage file's kind suffix ('.mcap', '.db3'), also when file-compressed."""
    path = Path(path)
    if path.suffix in COMPRESSED_SUFFIXES:
        path = path.with_suffix('')
    return path.suffix if path.suffix in STORAGE_SUFFIXES else ''


def is_bag(path: Path) -> bool:
    """Return whether `path` is a finished bag directory (has metadata.yaml) or storage file."""
    path = Path(path)
    if path.is_file():
        return bool(storage_suffix(path))
    return (path / 'metadata.yaml').is_file()


def decompress_file(source: Path, folder: Path) -> Path:
    """Return a plain copy in `folder` of a file-mode compressed storage file (`x.mcap.zstd`)."""
    target = Path(folder) / source.with_suffix('').name
    try:
        with open(source, 'rb') as packed, open(target, 'wb') as plain:
            zstandard.ZstdDecompressor().copy_stream(packed, plain)
    except zstandard.ZstdError as error:
        raise BagError(f'{source}: not a complete zstd file ({error})') from None
    return target


def find_bags(root, finished_only: bool = True) -> List[Path]:
    """Return the bags under `root` (itself, or any folder below it), sorted by path.

    A bag directory without metadata.yaml is still being written (or was cut off by a crash);
    it is left out unless `finished_only` is False.
    """
    root = Path(root)
    if not root.exists():
        raise BagError(f'{root}: no such bag or folder (path does not exist)')
    if is_bag(root):
        return [root]
    found = set()
    for meta in root.rglob('metadata.yaml'):
        found.add(meta.parent)
    if not finished_only:
        for storage in list(root.rglob('*.mcap')) + list(root.rglob('*.db3')):
            found.add(storage.parent)
    return sorted(found)


class Bag:
    """One rosbag2 bag: a directory (metadata.yaml + storage files) or a single .mcap/.db3 file.

    `records()` streams raw records in log-time order, `decode()` turns one into a message;
    `read_at()` fetches one topic's message at a known log time (random access).
    """

    def __init__(self, path, typestore=None):
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f'{self.path}: no such bag (path does not exist)')
        self.typestore = typestore or make_typestore()
        self.metadata = {}
        # rosbag2's compression: '' (none; MCAP chunk compression is the storage's own),
        # 'file' or 'message'; the format is zstd.
        self.compression_mode = self.compression_format = ''
        if self.path.is_file():
            self.files = [self.path]
        else:
            meta = self.path / 'metadata.yaml'
            if meta.is_file():
                try:
                    self.metadata = yaml.safe_load(meta.read_text())['rosbag2_bagfile_information']
                    # Old rosbag2 versions wrote the paths with the bag's folder in front.
                    self.files = [self.path / PurePath(name).name
                                  for name in self.metadata['relative_file_paths']]
                except (yaml.YAMLError, KeyError, TypeError) as error:
                    raise BagError(f'{meta}: not a rosbag2 metadata file ({error})') from None
                # rosbag2 writes FILE / MESSAGE, rosbags file / message.
                self.compression_mode = str(self.metadata.get('compression_mode') or '').lower()
                self.compression_format = str(self.metadata.get('compression_format') or '')
                if self.compression_mode not in ('', 'file', 'message') or (
                        self.compression_mode and self.compression_format != 'zstd'):
                    raise BagError(f'{self.path}: compression {self.compression_format!r} in '
                                   f'{self.compression_mode!r} mode is not one rosbag2 writes '
                                   f'(zstd in file or message mode)')
            else:
                self.files = sorted(p for p in self.path.iterdir() if storage_suffix(p))
                if self.files:
                    raise BagError(f'{self.path}: metadata.yaml is missing (the recording was '
                                   f'interrupted?); {REPAIR_HINT.format(path=self.path)}')
        if not self.files:
            raise BagError(f'{self.path}: not a rosbag2 bag (no metadata.yaml, no .mcap or '
                           f'.db3 file)')
        for file in self.files:
            if not file.is_file():
                raise BagError(f'{file}: listed in metadata.yaml but missing')
            if not storage_suffix(file):
                raise BagError(f'{file}: unsupported storage (unknown format); supported: '
                               f'.mcap, .db3, compressed .mcap.zstd, .db3.zstd')
        self.stored_files = list(self.files)  # as on disk (file mode: the compressed ones)
        self._plain_folder = None
        if any(f.suffix in COMPRESSED_SUFFIXES for f in self.files):
            self.compression_mode, self.compression_format = 'file', 'zstd'
            self._plain_folder = tempfile.TemporaryDirectory(prefix='nanobot-bag-')
            self.files = [decompress_file(f, self._plain_folder.name)
                          if f.suffix in COMPRESSED_SUFFIXES else f for f in self.files]
        self._unpack = (zstandard.ZstdDecompressor().decompressobj
                        if self.compression_mode == 'message' else None)
        self.topics: Dict[str, TopicInfo] = {}
        # topic -> why its messages cannot be decoded (listed, counted, skipped by readers)
        self.undecodable: Dict[str, str] = {}
        self._definition_errors: Dict[str, str] = {}
        self.definitions: Dict[str, tuple] = {}  # msgtype -> (encoding, text) the bag carries
        self.start_ns = self.end_ns = 0  # log times of the first and the last message
        self._scan()

    @property
    def custom_data(self) -> dict:
        """Return custom_data from metadata.yaml: session metadata of nanobot recordings."""
        return dict(self.metadata.get('custom_data') or {})

    @property
    def message_count(self) -> int:
        """Return the number of messages in the storage files."""
        return sum(t.count for t in self.topics.values())

    def _truncated(self, file: Path, error) -> BagError:
        return BagError(f'{file}: storage is truncated or corrupt ({type(error).__name__}: '
                        f'{error}); {REPAIR_HINT.format(path=self.path)}')

    def _scan(self) -> None:
        counts, types, qos = {}, {}, {}
        for file in self.files:
            if storage_suffix(file) == '.mcap':
                self._scan_mcap(file, counts, types, qos)
            else:
                self._scan_sqlite(file, counts, types, qos)
        for topic, msgtype in types.items():
            self.topics[topic] = TopicInfo(msgtype, counts.get(topic, 0), qos.get(topic, ''))
            if msgtype in self._definition_errors:
                self.undecodable[topic] = self._definition_errors[msgtype]
            elif msgtype not in self.typestore.types:
                self.undecodable[topic] = (f'type {msgtype!r} is neither a ROS 2 Jazzy or '
                                           f'nanobot_msgs type nor defined in the bag')

    def _extend_times(self, first: int, last: int) -> None:
        self.start_ns = min(self.start_ns, first) if self.start_ns else first
        self.end_ns = max(self.end_ns, last)

    def _register(self, msgtype: str, encoding: str, text: str) -> None:
        """Register a definition the bag carries; remember why, if it does not parse.

        rosbag2 files a service event's definition (the .srv text) under the service's type
        (`<pkg>/srv/<Name>`: the sqlite3 message_definitions table does so): it defines the
        `<Name>_Event` its topics carry.
        """
        msgtype = normalize_msgtype(msgtype)
        if _SERVICE.match(msgtype):
            msgtype += '_Event'
        self.definitions.setdefault(msgtype, (encoding, text))
        try:
            register_definition(self.typestore, msgtype, encoding, text)
            if msgtype in self.typestore.types:
                self.typestore.get_msgdef(msgtype)  # every type it embeds is defined too
        except (TypesysError, ValueError, KeyError, IndexError) as error:
            self._definition_errors[msgtype] = (f'the bag\'s definition of {msgtype} cannot be '
                                                f'used ({type(error).__name__}: '
                                                f'{str(error).splitlines()[0]})')

    def _scan_mcap(self, file: Path, counts, types, qos) -> None:
        try:
            with open(file, 'rb') as stream:
                summary = make_reader(stream).get_summary()
        except (McapError, EOFError, OSError, ValueError) as error:
            raise self._truncated(file, error) from None
        if summary is None:
            raise BagError(f'{file}: MCAP has no summary section (recording cut off); '
                           f'{REPAIR_HINT.format(path=self.path)}')
        for schema in summary.schemas.values():
            self._register(schema.name, schema.encoding, schema.data.decode(errors='replace'))
        stats = summary.statistics.channel_message_counts if summary.statistics else {}
        if summary.statistics and summary.statistics.message_count:
            self._extend_times(summary.statistics.message_start_time,
                               summary.statistics.message_end_time)
        for channel_id, channel in summary.channels.items():
            schema = summary.schemas.get(channel.schema_id)
            types[channel.topic] = normalize_msgtype(schema.name) if schema else ''
            counts[channel.topic] = counts.get(channel.topic, 0) + stats.get(channel_id, 0)
            qos[channel.topic] = channel.metadata.get('offered_qos_profiles', '')

    def _scan_sqlite(self, file: Path, counts, types, qos) -> None:
        try:
            db = sqlite3.connect(f'file:{file}?mode=ro', uri=True)
            try:
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
                columns = [r[1] for r in db.execute('PRAGMA table_info(topics)')]
                qos_column = ('offered_qos_profiles' if 'offered_qos_profiles' in columns
                              else "''")
                for topic_id, name, msgtype, offered in db.execute(
                        f'SELECT id, name, type, {qos_column} FROM topics'):
                    types[name] = normalize_msgtype(msgtype)
                    qos[name] = offered
                    count = db.execute('SELECT COUNT(*) FROM messages WHERE topic_id = ?',
                                       (topic_id,)).fetchone()[0]
                    counts[name] = counts.get(name, 0) + count
                first, last = db.execute('SELECT MIN(timestamp), MAX(timestamp) FROM '
                                         'messages').fetchone()
                if first is not None:
                    self._extend_times(first, last)
                if 'message_definitions' in tables:
                    for msgtype, encoding, text in db.execute(
                            'SELECT topic_type, encoding, encoded_message_definition '
                            'FROM message_definitions'):
                        self._register(msgtype, encoding, text)
            finally:
                db.close()
        except sqlite3.DatabaseError as error:
            raise self._truncated(file, error) from None

    def _plain(self, data: bytes) -> bytes:
        """Return a stored message's CDR bytes (message mode: each is one zstd frame)."""
        if self._unpack is None:
            return data
        try:
            return self._unpack().decompress(data)
        except zstandard.ZstdError as error:
            raise BagError(f'{self.path}: a message is not a zstd frame although the bag is '
                           f'compressed in message mode ({error})') from None

    def records(self, topics: Optional[Iterable[str]] = None,
                start_ns: Optional[int] = None) -> Iterator[Record]:
        """Yield the stored messages, only `topics` if given, in log-time order, file by file.

        `start_ns`: only those logged at or after it (MCAP skips the chunks before it).
        """
        wanted = set(topics) if topics is not None else None
        end = None if start_ns is None else 2**63 - 1
        for file in self.files:
            if storage_suffix(file) == '.mcap':
                yield from self._mcap_records(file, wanted, start_ns, end)
            else:
                yield from self._sqlite_records(file, wanted, start_ns, end)

    def _mcap_records(self, file: Path, wanted, start=None, end=None) -> Iterator[Record]:
        try:
            with open(file, 'rb') as stream:
                reader = make_reader(stream)
                for schema, channel, message in reader.iter_messages(
                        topics=list(wanted) if wanted is not None else None,
                        starting_at=start, ending_before=end, log_time_order=True):
                    yield Record(channel.topic, self.topics[channel.topic].msgtype,
                                 message.log_time, self._plain(message.data))
        except (McapError, EOFError, ValueError) as error:
            raise self._truncated(file, error) from None

    def _sqlite_records(self, file: Path, wanted, start=None, end=None) -> Iterator[Record]:
        query = ('SELECT topics.name, topics.type, messages.timestamp, messages.data FROM '
                 'messages JOIN topics ON messages.topic_id = topics.id')
        conditions, args = [], []
        if wanted is not None:
            conditions.append(f'topics.name IN ({",".join("?" * len(wanted))})')
            args += list(wanted)
        if start is not None:
            conditions += ['messages.timestamp >= ?', 'messages.timestamp < ?']
            args += [start, end]
        if conditions:
            query += ' WHERE ' + ' AND '.join(conditions)
        try:
            db = sqlite3.connect(f'file:{file}?mode=ro', uri=True)
            try:
                for topic, _, timestamp, data in db.execute(
                        query + ' ORDER BY messages.timestamp', args):
                    yield Record(topic, self.topics[topic].msgtype, timestamp,
                                 self._plain(bytes(data)))
            finally:
                db.close()
        except sqlite3.DatabaseError as error:
            raise self._truncated(file, error) from None

    def read_at(self, topic: str, timestamp: int) -> Record:
        """Return `topic`'s record logged at `timestamp` (ns); KeyError if there is none.

        MCAP reads only the chunk that holds it (chunk index), sqlite3 one indexed row.
        """
        for file in self.files:
            reader = (self._mcap_records if storage_suffix(file) == '.mcap'
                      else self._sqlite_records)
            for record in reader(file, {topic}, timestamp, timestamp + 1):
                return record
        raise KeyError(f'{self.path}: no {topic} message at {timestamp} ns')

    def decodable_topics(self) -> List[str]:
        """Return the topics whose messages `decode()` can read (see `undecodable`)."""
        return [t for t in self.topics if t not in self.undecodable]

    def decode(self, record: Record):
        """Return the record's message as a rosbags dataclass.

        BagError if the topic's type is unknown (the reason is `undecodable[topic]`) or the
        bytes are not a CDR message of that type.
        """
        if record.topic in self.undecodable:
            raise BagError(f'{self.path}: cannot decode {record.topic}: '
                           f'{self.undecodable[record.topic]}')
        try:
            return self.typestore.deserialize_cdr(record.data, record.msgtype)
        except (KeyError, IndexError, ValueError, struct.error, SerdeError) as error:
            raise BagError(f'{self.path}: a {record.topic} message at {record.timestamp} ns is '
                           f'not a valid {record.msgtype} ({type(error).__name__}: {error})'
                           ) from None


def scan_mcap_stream(file: Path):
    """Yield the records of an MCAP file front to back, stopping where it is cut off.

    Used by repair: a file whose writer was killed has no summary, and its last chunk may be
    incomplete; everything before the first unreadable record is returned.
    """
    with open(file, 'rb') as stream:
        reader = StreamReader(stream, skip_magic=False)
        try:
            yield from reader.records
        except Exception:  # noqa: B902 - any error past this point is the cut-off tail
            return
