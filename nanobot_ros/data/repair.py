"""Recover bags whose writer was killed: `./run.sh nanobot bag repair <bag or session folder>`.

A split cut off by SIGKILL or a power cut has a storage file without index (MCAP: no summary,
footer, maybe half a chunk; sqlite3: an uncommitted transaction) and no metadata.yaml. Repair
reads every complete record (MCAP: up to the last complete chunk, which the recorder closes and
fsyncs at least once a second; sqlite3: every committed row), writes them into a fresh bag with
the same topics, types, definitions and offered QoS, restores custom_data from the session's
session.yaml, writes metadata.yaml, and swaps the fresh bag in (the damaged one is kept beside it
as <name>.damaged with --keep-original). Finished bags are left alone.

A split a live recorder is writing (its <split>.lock is held) is refused: repair raises before
touching anything, for the whole folder. A lock file left by a killed recorder is stale (the
kernel dropped its flock); repair goes ahead and deletes it.
"""
from dataclasses import dataclass
from pathlib import Path
import shutil
import sqlite3
from typing import List

from mcap.writer import MCAP0_MAGIC as MCAP_MAGIC
from mcap.records import Channel, Message, Schema
from rosbags.rosbag2.metadata import parse_qos
from tqdm import tqdm
import yaml

from nanobot_ros.data.bag_writer import BagWriter
from nanobot_ros.data.bags import Bag, BagError, make_typestore, scan_mcap_stream, \
    STORAGE_SUFFIXES
from nanobot_ros.data.recording import holder, lock_file, SESSION_FILE


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


def _repair(path: Path, keep_original: bool) -> RepairResult:
    if _is_healthy(path):
        return RepairResult(path, False, Bag(path).message_count, 'finished bag, no repair')
    storages = sorted((p for p in path.iterdir() if p.suffix in STORAGE_SUFFIXES),
                      key=_split_order)
    if not storages:
        raise BagError(f'{path}: no .mcap or .db3 file to recover')
    kind = 'mcap' if storages[0].suffix == '.mcap' else 'sqlite3'
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
    return [_repair_checked(d, keep_original)
            for d in tqdm(dirs, desc='repair', unit='bag', disable=None)]
