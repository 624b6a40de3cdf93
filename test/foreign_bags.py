"""Bags as ROS 2's rosbag2 writes them, assembled by hand (mcap library, sqlite3, YAML).

Not written with the project's BagWriter nor with rosbags: each storage file is laid out as
rosbag2's storage plugins lay it out (MCAP profile ros2: one schema per type with the
definition rosbag2 found, one channel per topic with its offered QoS; sqlite3: the topics,
messages and message_definitions tables), so the reader is checked against the format itself.
"""
from pathlib import Path
import sqlite3
from typing import List, NamedTuple

from mcap.writer import CompressionType, Writer as McapWriter
import yaml

QOS = ('- history: 3\n  depth: 0\n  reliability: 1\n  durability: 2\n  deadline:\n    sec: 0\n'
       '    nsec: 0\n  lifespan:\n    sec: 0\n    nsec: 0\n  liveliness: 1\n'
       '  liveliness_lease_duration:\n    sec: 0\n    nsec: 0\n'
       '  avoid_ros_namespace_conventions: false')
QOS_V9 = [{'history': 'unknown', 'depth': 0, 'reliability': 'reliable', 'durability': 'volatile',
           'deadline': {'sec': 0, 'nsec': 0}, 'lifespan': {'sec': 0, 'nsec': 0},
           'liveliness': 'automatic', 'liveliness_lease_duration': {'sec': 0, 'nsec': 0},
           'avoid_ros_namespace_conventions': False}]
START_NS = 1_750_000_000 * 10**9


class Topic(NamedTuple):
    """One topic as rosbag2 stores it: name, type, definition encoding and text."""

    name: str
    msgtype: str
    encoding: str = 'ros2msg'
    definition: str = ''


class Message(NamedTuple):
    """One stored message."""

    topic: str
    timestamp: int
    data: bytes


def write_mcap(file: Path, topics: List[Topic], messages: List[Message],
               compression: CompressionType = CompressionType.ZSTD) -> None:
    """Write one MCAP storage file as rosbag2's mcap plugin does (zstd chunks by default)."""
    with open(file, 'wb') as stream:
        writer = McapWriter(stream, compression=compression)
        writer.start(profile='ros2', library='rosbag2 (hand-assembled for a test)')
        schemas, channels = {}, {}
        for topic in topics:
            if topic.msgtype not in schemas:
                schemas[topic.msgtype] = writer.register_schema(
                    topic.msgtype, topic.encoding, topic.definition.encode())
            channels[topic.name] = writer.register_channel(
                topic.name, 'cdr', schemas[topic.msgtype], {'offered_qos_profiles': QOS})
        for sequence, message in enumerate(messages):
            writer.add_message(channels[message.topic], message.timestamp, message.data,
                               message.timestamp, sequence)
        writer.finish()


def write_sqlite(file: Path, topics: List[Topic], messages: List[Message],
                 definitions: bool = True) -> None:
    """Write one .db3 storage file as rosbag2's sqlite3 plugin (Jazzy: schema 4) does."""
    db = sqlite3.connect(file)
    db.executescript(
        'CREATE TABLE schema(schema_version INTEGER PRIMARY KEY, ros_distro TEXT NOT NULL);'
        'INSERT INTO schema VALUES (4, "jazzy");'
        'CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, '
        'serialization_format TEXT NOT NULL, offered_qos_profiles TEXT NOT NULL, '
        'type_description_hash TEXT NOT NULL);'
        'CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL, '
        'timestamp INTEGER NOT NULL, data BLOB NOT NULL);'
        'CREATE INDEX timestamp_idx ON messages (timestamp ASC);')
    if definitions:
        db.execute('CREATE TABLE message_definitions(id INTEGER PRIMARY KEY, topic_type TEXT '
                   'NOT NULL, encoding TEXT NOT NULL, encoded_message_definition TEXT NOT NULL, '
                   'type_description_hash TEXT NOT NULL)')
    ids = {}
    for topic in topics:
        ids[topic.name] = db.execute(
            'INSERT INTO topics (name, type, serialization_format, offered_qos_profiles, '
            'type_description_hash) VALUES (?, ?, "cdr", ?, "")',
            (topic.name, topic.msgtype, QOS)).lastrowid
        # rosbag2 files a service event's definition (the .srv) under the service's type.
        defined = (topic.msgtype[:-len('_Event')] if topic.name.endswith('/_service_event')
                   else topic.msgtype)
        if definitions and not db.execute('SELECT 1 FROM message_definitions WHERE '
                                          'topic_type = ?', (defined,)).fetchone():
            db.execute('INSERT INTO message_definitions (topic_type, encoding, '
                       'encoded_message_definition, type_description_hash) VALUES '
                       '(?, ?, ?, "")', (defined, topic.encoding, topic.definition))
    db.executemany('INSERT INTO messages (topic_id, timestamp, data) VALUES (?, ?, ?)',
                   [(ids[m.topic], m.timestamp, m.data) for m in messages])
    db.commit()
    db.close()


def metadata(version: int, storage: str, files: List[str], topics: List[Topic],
             messages: List[Message], folder_prefix: str = '') -> dict:
    """Return metadata.yaml's content as rosbag2 wrote it at metadata `version` (1 to 9).

    v1-2: paths, counts, topics; v3: offered QoS; v4: compression; v5: per-file entries;
    v6: custom_data; v7: type_description_hash; v8: ros_distro; v9: QoS as a list.
    """
    times = [m.timestamp for m in messages] or [0]
    topic_entries = []
    for topic in topics:
        entry = {'name': topic.name, 'type': topic.msgtype, 'serialization_format': 'cdr'}
        if version >= 3:
            entry['offered_qos_profiles'] = QOS_V9 if version >= 9 else QOS
        if version >= 7:
            entry['type_description_hash'] = ''
        topic_entries.append({'topic_metadata': entry, 'message_count': sum(
            m.topic == topic.name for m in messages)})
    info = {'version': version, 'storage_identifier': storage,
            'relative_file_paths': [folder_prefix + name for name in files],
            'duration': {'nanoseconds': max(times) - min(times)},
            'starting_time': {'nanoseconds_since_epoch': min(times)},
            'message_count': len(messages), 'topics_with_message_count': topic_entries}
    if version >= 4:
        info.update(compression_format='', compression_mode='')
    if version >= 5:
        info['files'] = [{'path': name, 'starting_time': {'nanoseconds_since_epoch': 0},
                          'duration': {'nanoseconds': 0}, 'message_count': 0}
                         for name in files]
    if version >= 6:
        info['custom_data'] = {}
    if version >= 8:
        info['ros_distro'] = 'jazzy'
    return {'rosbag2_bagfile_information': info}


def write_bag(folder: Path, storage: str, topics: List[Topic], messages: List[Message],
              version: int = 9, splits: int = 1, with_metadata: bool = True) -> Path:
    """Write a bag folder: `splits` storage files (consecutive runs of messages), metadata.yaml.

    Every split carries every topic, as rosbag2's splits do.
    """
    folder.mkdir(parents=True)
    suffix = '.mcap' if storage == 'mcap' else '.db3'
    files = [f'{folder.name}_{i}{suffix}' for i in range(splits)]
    per_split = -(-len(messages) // splits)
    for i, name in enumerate(files):
        part = messages[i * per_split:(i + 1) * per_split]
        if storage == 'mcap':
            write_mcap(folder / name, topics, part)
        else:
            write_sqlite(folder / name, topics, part)
    if with_metadata:
        (folder / 'metadata.yaml').write_text(yaml.safe_dump(
            metadata(version, storage, files, topics, messages)))
    return folder
