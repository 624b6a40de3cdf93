"""Parquet bridge (pyarrow): bag topics -> Parquet for pandas users; collector chunks -> bag.

Export: one Parquet file per non-image topic, `<topic with / as __>.parquet`, with a
`log_time_ns` column (when the recorder received it) and one column per message field,
nested fields joined with dots (`header.stamp.sec`), arrays as list columns.

Import: the reference's telemetry collector (nanobot.md, scripts/collect_telemetry.py) writes
chunks of rows: a time column (`timestamp` / `time` / `t` in seconds, or `timestamp_ns`), an
optional `sequence` / `seq` column, and sensor columns. Every numeric column becomes a named
value of a nanobot_msgs/Telemetry on /robot/telemetry (list columns expand to `name_0`,
`name_1`, ...), except a `surface` list column, which becomes a nanobot_msgs/SurfaceVector on
/robot/surface. Chunks are read in file-name order and written in time order.
"""
from pathlib import Path
from typing import Dict, List

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from nanobot_ros.data.bag_writer import BagWriter
from nanobot_ros.data.bags import Bag, BagError, IMAGE_TYPES

TIME_COLUMNS = {'timestamp': 1e9, 'time': 1e9, 't': 1e9, 'timestamp_ns': 1}
SEQUENCE_COLUMNS = ('sequence', 'seq')
SURFACE_COLUMN = 'surface'


def _flatten(msg, prefix: str = '', row: dict = None) -> dict:
    row = {} if row is None else row
    for name in msg.__dataclass_fields__:
        if name.startswith('__'):
            continue
        value = getattr(msg, name)
        key = f'{prefix}{name}'
        if hasattr(value, '__dataclass_fields__'):
            _flatten(value, key + '.', row)
        elif isinstance(value, np.ndarray):
            row[key] = value.tolist()
        elif isinstance(value, list):
            row[key] = [str(v) if hasattr(v, '__dataclass_fields__') else v for v in value]
        else:
            row[key] = value
    return row


def topic_file_name(topic: str) -> str:
    """Return the Parquet file name for `topic` ('/robot/telemetry' -> robot__telemetry)."""
    return topic.strip('/').replace('/', '__') + '.parquet'


def export_parquet(bag_path, out_dir) -> Dict[str, Path]:
    """Write every non-image topic of a bag to Parquet; return {topic: file}."""
    bag = Bag(bag_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    topics = [t for t, info in bag.topics.items()
              if info.msgtype not in IMAGE_TYPES and info.count]
    rows = {t: [] for t in topics}
    for record in bag.records(topics):
        rows[record.topic].append({'log_time_ns': record.timestamp,
                                   **_flatten(bag.decode(record))})
    written = {}
    for topic, topic_rows in rows.items():
        path = out_dir / topic_file_name(topic)
        pq.write_table(pa.Table.from_pylist(topic_rows), path)
        written[topic] = path
    return written


def _time_ns(table: pa.Table, path: Path) -> np.ndarray:
    for name, scale in TIME_COLUMNS.items():
        if name in table.column_names:
            column = table.column(name)
            if pa.types.is_timestamp(column.type):
                return column.cast(pa.timestamp('ns')).cast(pa.int64()).to_numpy()
            return np.round(column.to_numpy(zero_copy_only=False).astype(np.float64)
                            * scale).astype(np.int64)
    raise BagError(f'{path}: no time column (one of {", ".join(TIME_COLUMNS)})')


def _chunk_rows(path: Path) -> List[tuple]:
    """Return (time_ns, sequence, names, values, surface) per row of one collector chunk."""
    table = pq.read_table(path)
    times = _time_ns(table, path)
    skip = set(TIME_COLUMNS) | set(SEQUENCE_COLUMNS) | {SURFACE_COLUMN}
    sequence_column = next((c for c in SEQUENCE_COLUMNS if c in table.column_names), None)
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if name in skip:
            continue
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or \
                pa.types.is_boolean(column.type):
            columns[name] = column.to_pylist()
        elif pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            columns[name] = column.to_pylist()
    surface = table.column(SURFACE_COLUMN).to_pylist() \
        if SURFACE_COLUMN in table.column_names else None
    sequences = table.column(sequence_column).to_pylist() if sequence_column else None
    rows = []
    for i, t in enumerate(times):
        names, values = [], []
        for name, column in columns.items():
            value = column[i]
            if isinstance(value, list):
                names += [f'{name}_{j}' for j in range(len(value))]
                values += [float('nan') if v is None else float(v) for v in value]
            else:
                names.append(name)
                values.append(float('nan') if value is None else float(value))
        sequence = int(sequences[i]) if sequences else i
        rows.append((int(t), sequence % 2**32, names, values,
                     surface[i] if surface is not None else None))
    return rows


def import_parquet(chunks, out_bag, storage: str = 'mcap',
                   telemetry_topic: str = '/robot/telemetry',
                   surface_topic: str = '/robot/surface') -> int:
    """Write collector chunks (files or a folder of *.parquet) into a new bag; return count."""
    paths = []
    for item in [chunks] if isinstance(chunks, (str, Path)) else chunks:
        item = Path(item)
        if not item.exists():
            raise BagError(f'{item}: no such Parquet file or folder')
        paths += sorted(item.glob('*.parquet')) if item.is_dir() else [item]
    if not paths:
        raise BagError(f'no .parquet files in {chunks}')
    rows = sorted((row for path in paths for row in _chunk_rows(path)), key=lambda r: r[0])
    with BagWriter(out_bag, storage, custom_data={'nanobot.source': 'parquet import'}) as bag:
        types = bag.typestore.types
        bag.add_topic(telemetry_topic, 'nanobot_msgs/msg/Telemetry')
        if any(r[4] is not None for r in rows):
            bag.add_topic(surface_topic, 'nanobot_msgs/msg/SurfaceVector')
        for t, sequence, names, values, surface in rows:
            stamp = types['builtin_interfaces/msg/Time'](sec=t // 10**9, nanosec=t % 10**9)
            header = types['std_msgs/msg/Header'](stamp=stamp, frame_id='')
            bag.write_message(telemetry_topic, t, types['nanobot_msgs/msg/Telemetry'](
                header=header, sequence=sequence, names=names,
                values=np.asarray(values, np.float32)))
            if surface is not None:
                bag.write_message(surface_topic, t, types['nanobot_msgs/msg/SurfaceVector'](
                    header=header, sequence=sequence, source='parquet',
                    data=np.asarray(surface, np.float32)))
        return bag.messages
