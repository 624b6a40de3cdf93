"""Write one rosbag2 bag with `rosbags`, crash-safe: after `flush()` all so far is recoverable.

    with BagWriter(path, storage='mcap', custom_data={'nanobot.robot_type': 'jetbot'}) as bag:
        bag.add_topic(ACTION.fqn(), ACTION.msgtype)            # /robot/action (contract)
        bag.write(ACTION.fqn(), timestamp_ns, cdr_bytes)       # or write_message(..., msg)
        bag.flush()                                             # at least once a second

Crash safety. rosbags keeps the open MCAP chunk in memory (up to 1 MiB) and commits sqlite3
only at close, so a killed writer would lose far more than a second. `flush()` closes the
pending MCAP chunk, hands it to the OS and fsyncs the file (sqlite3: commits, which syncs), so
what arrived before the last flush survives SIGKILL and a power cut alike; the first flush also
fsyncs the bag's folder and its parent, so the new file's name is on disk too. `nanobot bag
repair` then restores the index and metadata.yaml.

Compression. `chunk_compression` ('none', 'fast', 'small') compresses MCAP chunks with zstd, as
rosbag2's `zstd_fast` / `zstd_small` storage presets do: the file stays an indexed MCAP that
`ros2 bag`, Foxglove and the `mcap` tools read as it is, and each flush still ends a chunk.
sqlite3 has no chunks: there it is ignored. `compression_mode` ('file' or 'message') writes what
`ros2 bag record --compression-mode file|message --compression-format zstd` writes (file mode
compresses the storage file at close: nothing is readable before, so the recorder never uses it).
This reaches into rosbags' storage objects (`close_chunk`, `bio`, `conn`, `compressor`), which is
why rosbags is pinned in requirements/python.txt.
"""
import os
from pathlib import Path
from typing import Dict, Optional, Sequence

from rosbags.rosbag2 import Writer, WriterError
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin
from rosbags.rosbag2.metadata import parse_qos
from rosbags.typesys.base import TypesysError
import zstandard

from nanobot_ros.data.bags import BagError, make_typestore, normalize_msgtype, \
    register_definition
from nanobot_ros.durable import fsync_folder

STORAGES = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
# zstd levels of MCAP chunk compression: 'fast' is rosbag2's zstd_fast (level 1), 'small' trades
# recorder CPU for bytes (bench/recorder_throughput.py --compression measures both).
CHUNK_COMPRESSION_LEVELS = {'none': None, 'fast': 1, 'small': 9}
COMPRESSION_MODES = {'': CompressionMode.NONE, 'file': CompressionMode.FILE,
                     'message': CompressionMode.MESSAGE}


def qos_profiles(profiles: Sequence[dict]):
    """Return rosbags Qos objects from dicts with rosbag2's offered_qos_profiles keys."""
    return parse_qos(list(profiles))


class BagWriter:
    """One bag directory written by rosbags (MCAP or sqlite3), with counts and `flush()`."""

    def __init__(self, path, storage: str = 'mcap', typestore=None,
                 custom_data: Optional[Dict[str, str]] = None, chunk_compression: str = 'none',
                 compression_mode: str = ''):
        if storage not in STORAGES:
            raise BagError(f'unknown storage {storage!r}; choose one of {sorted(STORAGES)}')
        if chunk_compression not in CHUNK_COMPRESSION_LEVELS:
            raise BagError(f'unknown chunk compression {chunk_compression!r}; choose one of '
                           f'{list(CHUNK_COMPRESSION_LEVELS)}')
        if compression_mode not in COMPRESSION_MODES:
            raise BagError(f'unknown compression mode {compression_mode!r}; choose file, '
                           f'message or none')
        self.path = Path(path)
        self.storage = storage
        self.typestore = typestore or make_typestore()
        level = CHUNK_COMPRESSION_LEVELS[chunk_compression] if storage == 'mcap' else None
        try:
            self._writer = Writer(self.path, version=9, storage_plugin=STORAGES[storage])
            if compression_mode:
                self._writer.set_compression(COMPRESSION_MODES[compression_mode],
                                             CompressionFormat.ZSTD)
            elif level is not None:
                self._writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
            for key, value in (custom_data or {}).items():
                self._writer.set_custom_data(key, str(value))
            self._writer.open()
        except WriterError as error:
            raise BagError(str(error)) from None
        if level is not None and not compression_mode:
            # rosbags compresses chunks at zstd's default level 3; the preset's level instead.
            self._writer.storage.compressor = zstandard.ZstdCompressor(level=level).compress
        self._connections = {}
        self.messages = 0
        self.bytes = 0
        self.first_timestamp: Optional[int] = None
        self.last_timestamp: Optional[int] = None
        self._names_synced = False

    @property
    def storage_file(self) -> Path:
        """Return the storage file being written."""
        return self._writer.storage.path

    def has_topic(self, topic: str) -> bool:
        """Return whether `topic` has a connection in this bag."""
        return topic in self._connections

    def add_topic(self, topic: str, msgtype: str, offered_qos: Sequence[dict] = (),
                  definition: str = '', encoding: str = 'ros2msg', qos_objects=None) -> None:
        """Add a connection; BagError if `msgtype` is unknown and no definition is given.

        A given definition (a bag's own, when repair copies it) is stored as it is.
        """
        msgtype = normalize_msgtype(msgtype)
        if definition:
            try:
                register_definition(self.typestore, msgtype, encoding, definition)
            except (TypesysError, KeyError, ValueError) as error:
                raise BagError(f'the definition of {msgtype} for {topic} cannot be used '
                               f'({type(error).__name__}: {str(error).splitlines()[0]})'
                               ) from None
        if msgtype not in self.typestore.types:
            raise BagError(f'unknown message type {msgtype!r} for {topic}: not a ROS 2 Jazzy '
                           f'or nanobot_msgs type and no definition given')
        qos = qos_objects if qos_objects is not None else qos_profiles(offered_qos)
        given = {'msgdef': definition, 'rihs01': self.typestore.hash_rihs01(msgtype)} \
            if definition else {}
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, typestore=self.typestore, offered_qos_profiles=qos, **given)

    def write(self, topic: str, timestamp: int, data: bytes) -> None:
        """Write one serialized (CDR) message logged at `timestamp` ns."""
        self._writer.write(self._connections[topic], timestamp, data)
        self.messages += 1
        self.bytes += len(data)
        if self.first_timestamp is None:
            self.first_timestamp = timestamp
        self.last_timestamp = timestamp

    def write_message(self, topic: str, timestamp: int, msg) -> None:
        """Serialize a rosbags message object and write it."""
        msgtype = self._connections[topic].msgtype
        self.write(topic, timestamp, bytes(self.typestore.serialize_cdr(msg, msgtype)))

    def flush(self) -> None:
        """Make everything written so far recoverable after a crash (see module docstring)."""
        storage = self._writer.storage
        if storage is None:
            return
        if self.storage == 'mcap':
            if storage.chunk.bio.tell():
                storage.close_chunk()
            storage.bio.flush()
            os.fsync(storage.bio.fileno())
        else:
            storage.conn.commit()
        if not self._names_synced:
            for folder in (self.path, self.path.parent):
                fsync_folder(folder)
            self._names_synced = True

    def abort(self) -> None:
        """Release the storage without index or metadata.yaml (what reached the disk stays)."""
        storage, self._writer.storage = self._writer.storage, None
        if storage is not None:
            storage.abort()

    def close(self) -> None:
        """Finish the bag: index, summary and metadata.yaml (it opens without repair)."""
        if self._writer.storage is not None:
            self._writer.close()

    def __enter__(self):
        """Return the open writer."""
        return self

    def __exit__(self, *exc_info):
        """Close the bag, also when the block raised (what was written is kept)."""
        self.close()
        return False
