"""Recover bags whose writer was killed: `./run.sh nanobot bag repair <bag or session folder>`.

A split cut off by SIGKILL or a power cut has a storage file without index (MCAP: no summary,
footer, maybe half a chunk; sqlite3: an uncommitted transaction) and no metadata.yaml. Repair
reads every complete record (MCAP: up to the last complete chunk, which the recorder closes and
fsyncs at least once a second; sqlite3: every committed row), writes them into a fresh bag with
the same topics, types, definitions and offered QoS, restores custom_data from the session's
session.yaml, writes metadata.yaml, and swaps the fresh bag in (the damaged one is kept beside it
as <name>.damaged with --keep-original). Finished bags are left alone.

Storage files that are all complete but have no metadata.yaml (split files copied without it:
what `ros2 bag reindex` is for) are reindexed: metadata.yaml is written from the files' own
topics, counts, times and QoS, and the files stay as they are (any type, definition or not).

A split a live recorder is writing (its <split>.lock is held) is refused: repair raises before
touching anything, for the whole folder. A lock file left by a killed recorder is stale (the
kernel dropped its flock); repair goes ahead and deletes it, and the stale lock a recorder killed
at a split leaves for the next split before its bag exists.
"""
from dataclasses import dataclass
from pathlib import Path
import shutil
import sqlite3
from typing import List, Optional

from mcap.writer import MCAP0_MAGIC as MCAP_MAGIC
from mcap.records import Channel, Message, Schema
from rosbags.rosbag2.metadata import parse_qos
from tqdm import tqdm
import yaml

from nanobot_ros.data.bag_writer import BagWriter
from nanobot_ros.data.bags import Bag, BagError, make_typestore, scan_mcap_stream, \
    STORAGE_SUFFIXES
from nanobot_ros.data.recording import holder, lock_file, LOCK_SUFFIX, SESSION_FILE
from nanobot_ros.durable import atomic_write


@dataclass
class RepairResult:
    """What repair did to one bag directory."""

    path: Path
    repaired: bool
    messages: int
    note: str


def _bag_dirs(path: Path) -> List[Path]:
    """Return the bag directories at or below `path` (those with storage files)."""
    if any(p.suffix in STORAGE_SUFFIXES for p in path.iterdir() if p.is_file()):
        return [path]
    dirs = {p.parent for suffix in STORAGE_SUFFIXES for p in path.rglob('*' + suffix)}
    return sorted(d for d in dirs if not d.name.endswith('.damaged'))


def _is_healthy(path: Path) -> bool:
    if not (path / 'metadata.yaml').is_file():
        return False
    try:
        bag = Bag(path)
        for _ in bag.records():
            pass
        return True
    except BagError:
        return False


def _custom_data(path: Path) -> dict:
    """Return the session metadata (session.yaml of the session folder), plus the split index."""
    session_file = path.parent / SESSION_FILE
    data = {}
    if session_file.is_file():
        try:
            loaded = yaml.safe_load(session_file.read_text()) or {}
            data = {str(k): str(v) for k, v in loaded.items()}
        except (yaml.YAMLError, AttributeError) as error:
            raise BagError(f'{session_file}: not a session file ({error}); move it away to '
                           f'repair without the session metadata. Nothing was changed.') from None
        prefix = path.parent.name + '_'
        if path.name.startswith(prefix):
            data['nanobot.split'] = str(int(path.name[len(prefix):] or 0))
    return data


def _copy_mcap(source: Path, bag: BagWriter) -> None:
    with open(source, 'rb') as stream:
        head = stream.read(len(MCAP_MAGIC))
    if not MCAP_MAGIC.startswith(head):  # a shorter head: cut off as it was being created
        raise BagError(f'{source}: not an MCAP file (no MCAP magic at its start); nothing '
                       f'was changed')
    schemas, channels = {}, {}
    for record in scan_mcap_stream(source):
        if isinstance(record, Schema):
            schemas[record.id] = record
        elif isinstance(record, Channel):
            channels[record.id] = record
        elif isinstance(record, Message) and record.channel_id in channels:
            channel = channels[record.channel_id]
            if not bag.has_topic(channel.topic):
                schema = schemas.get(channel.schema_id)
                if schema is None:
                    raise BagError(f'{source}: channel {channel.topic} has no schema record')
                qos = parse_qos(channel.metadata.get('offered_qos_profiles', '') or [])
                bag.add_topic(channel.topic, schema.name, definition=schema.data.decode(),
                              encoding=schema.encoding, qos_objects=qos)
            bag.write(channel.topic, record.log_time, record.data)


def _split_order(file: Path) -> tuple:
    """Sort key of a storage file: rosbag2's split index (<name>_<index>), then the name."""
    stem, _, index = file.stem.rpartition('_')
    return (stem, int(index)) if index.isdigit() else (file.stem, -1)


def _copy_sqlite(source: Path, bag: BagWriter) -> None:
    # Opening read-write lets sqlite roll back the killed writer's hot journal first.
    try:
        sqlite3.connect(source).execute('SELECT count(*) FROM sqlite_master').fetchall()
    except sqlite3.DatabaseError as error:
        raise BagError(f'{source}: not a sqlite3 bag ({error}); nothing was changed') from None
    reader = Bag(source, bag.typestore)
    for topic, info in reader.topics.items():
        if not bag.has_topic(topic):  # each split repeats the bag's topics
            encoding, definition = reader.definitions.get(info.msgtype, ('', ''))
            bag.add_topic(topic, info.msgtype, definition=definition, encoding=encoding,
                          qos_objects=parse_qos(info.offered_qos or []))
    for record in reader.records():
        bag.write(record.topic, record.timestamp, record.data)


def _refuse_live(dirs: List[Path]) -> None:
    """Raise BagError naming the bags a live recorder is writing, if there are any."""
    live = [(d, holder(lock_file(d))) for d in dirs]
    live = [f'{d} (recorder pid {pid})' for d, pid in live if pid]
    if live:
        raise BagError(f'not repairing: being recorded right now: {", ".join(live)}; stop the '
                       f'recorder (or wait for the split to close) and run repair again. '
                       f'Nothing was changed.')


def repair_bag(path: Path, keep_original: bool = False) -> RepairResult:
    """Repair one bag directory (see module docstring); a healthy bag is left untouched."""
    _refuse_live([path])
    return _repair_checked(path, keep_original)


def _repair_checked(path: Path, keep_original: bool) -> RepairResult:
    """Repair a bag no live recorder holds; delete its stale lock file."""
    result = _repair(path, keep_original)
    lock_file(path).unlink(missing_ok=True)  # stale: its recorder is gone
    return result


def _complete(storages: List[Path]) -> Optional[List[Bag]]:
    """Return each storage file read as a bag if every one is complete, else None.

    Complete: an MCAP file with its summary, a sqlite3 file without an uncommitted transaction
    (no hot journal). Then only metadata.yaml is missing, `ros2 bag reindex`'s case.
    """
    bags = []
    for file in storages:
        if any(file.with_name(file.name + suffix).exists() for suffix in ('-journal', '-wal')):
            return None
        try:
            bags.append(Bag(file))
        except BagError:
            return None
    return bags


def _reindex(path: Path, kind: str, bags: List[Bag]) -> RepairResult:
    """Write metadata.yaml (version 7) for complete storage files; the files stay as they are.

    The offered QoS text is the storage's own, so readers that compare the two (rosbags) match.
    """
    topics = {}
    for bag in bags:
        for name, info in bag.topics.items():
            previous = topics.get(name, (info, 0))[1]
            topics[name] = (info, previous + info.count)
    timed = [b for b in bags if b.message_count]
    start = min((b.start_ns for b in timed), default=0)
    end = max((b.end_ns for b in timed), default=0)
    messages = sum(b.message_count for b in bags)
    info = {
        'version': 7, 'storage_identifier': kind,
        'relative_file_paths': [b.path.name for b in bags],
        'duration': {'nanoseconds': end - start},
        'starting_time': {'nanoseconds_since_epoch': start},
        'message_count': messages,
        'topics_with_message_count': [
            {'topic_metadata': {'name': name, 'type': topic.msgtype,
                                'serialization_format': 'cdr',
                                'offered_qos_profiles': topic.offered_qos,
                                'type_description_hash': ''},
             'message_count': count} for name, (topic, count) in topics.items()],
        'compression_format': '', 'compression_mode': '',
        'files': [{'path': b.path.name,
                   'starting_time': {'nanoseconds_since_epoch': b.start_ns},
                   'duration': {'nanoseconds': b.end_ns - b.start_ns},
                   'message_count': b.message_count} for b in bags],
        'custom_data': _custom_data(path)}
    atomic_write(path / 'metadata.yaml', yaml.safe_dump(
        {'rosbag2_bagfile_information': info}, sort_keys=False).encode())
    return RepairResult(path, True, messages,
                        f'reindexed {len(bags)} files, {messages} messages')


def _repair(path: Path, keep_original: bool) -> RepairResult:
    if _is_healthy(path):
        return RepairResult(path, False, Bag(path).message_count, 'finished bag, no repair')
    storages = sorted((p for p in path.iterdir() if p.suffix in STORAGE_SUFFIXES),
                      key=_split_order)
    if not storages:
        raise BagError(f'{path}: no .mcap or .db3 file to recover')
    kind = 'mcap' if storages[0].suffix == '.mcap' else 'sqlite3'
    complete = _complete(storages)
    if complete is not None:
        return _reindex(path, kind, complete)
    work = path.parent / f'.repair-{path.name}'
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    fresh = work / path.name
    try:
        with BagWriter(fresh, kind, make_typestore(), _custom_data(path)) as bag:
            for storage in storages:
                (_copy_mcap if storage.suffix == '.mcap' else _copy_sqlite)(storage, bag)
            messages = bag.messages
        if keep_original:
            damaged = path.with_name(path.name + '.damaged')
            shutil.rmtree(damaged, ignore_errors=True)
            path.rename(damaged)
        else:
            shutil.rmtree(path)
        fresh.rename(path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return RepairResult(path, True, messages, f'recovered {messages} messages')


def repair(path, keep_original: bool = False) -> List[RepairResult]:
    """Repair a bag directory or every bag below a folder (a session, a robot's sessions)."""
    path = Path(path)
    if not path.exists():
        raise BagError(f'{path}: no such bag or folder (path does not exist)')
    if path.is_file():
        raise BagError(f'{path}: give the bag directory (the folder holding this file)')
    dirs = _bag_dirs(path)
    if not dirs:
        raise BagError(f'{path}: no bag found (no .mcap or .db3 file below it)')
    _refuse_live(dirs)  # all before any: nothing changes when one is live
    results = [_repair_checked(d, keep_original)
               for d in tqdm(dirs, desc='repair', unit='bag', disable=None)]
    _remove_stale_locks_without_bag(path, dirs)
    return results


def _remove_stale_locks_without_bag(folder: Path, dirs: List[Path]) -> None:
    """Delete the stale locks below `folder` of splits that have no bag.

    A recorder killed at a split leaves the next split's lock before that bag exists.
    """
    for lock in folder.rglob('*' + LOCK_SUFFIX):
        split = lock.with_name(lock.name[:-len(LOCK_SUFFIX)])
        if split not in dirs and not holder(lock):
            lock.unlink(missing_ok=True)
