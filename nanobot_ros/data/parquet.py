"""Parquet bridge (pyarrow): bag topics -> Parquet for pandas users; collector chunks -> bag.

Export: one Parquet file per non-image topic, `<topic with / as __>.parquet`, with a
`log_time_ns` column (when the recorder received it) and one column per message field,
nested fields joined with dots (`header.stamp.sec`), arrays as list columns.

Import: the reference's telemetry collector (nanobot.md, scripts/collect_telemetry.py) writes
chunks with `pa.Table.from_pylist` of rows {text: str, image: JPEG bytes, sensors: [16 floats],
surface: [32 floats], timestamp: time.time() seconds}, i.e. string, binary, list<double>,
list<double>, double. Each row becomes messages stamped (header.stamp and bag log time) with
its timestamp:
- sensors -> nanobot_msgs/Telemetry on /robot/telemetry (the contract's names, at the root
  namespace unless told otherwise), named `value_<i>` like the ESP32
  bridge names a device's unnamed channels; any other numeric column is appended under its own
  name (list columns as `name_0`, `name_1`, ...);
- surface -> nanobot_msgs/SurfaceVector on /robot/surface (`source: parquet`);
- image -> sensor_msgs/Image rgb8 on /camera/image_raw, decoded with OpenCV: the topic and
  encoding the project's camera nodes publish and its nodes and BagDataset read, so
  `ros2 bag play` drives them without an image_transport republisher;
- text -> std_msgs/String on /instruction when it differs from the previous row's text (an
  instruction is a state, published on change like the project's latched /instruction).
`sequence` comes from a `sequence` / `seq` column if there is one, else it counts rows in time
order across all chunks. Other time columns are accepted too (`time` / `t` in seconds,
`timestamp_ns`). What cannot be imported is reported in the result, not dropped silently:
columns (strings other than text, ...), unreadable chunk files, JPEGs OpenCV cannot decode.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from nanobot_ros.contract import IMAGE, INSTRUCTION, SURFACE, TELEMETRY
from nanobot_ros.data.bag_writer import BagWriter
from nanobot_ros.data.bags import Bag, BagError, IMAGE_TYPES

TIME_COLUMNS = {'timestamp': 1e9, 'time': 1e9, 't': 1e9, 'timestamp_ns': 1}
SEQUENCE_COLUMNS = ('sequence', 'seq')
SENSORS_COLUMN = 'sensors'
SURFACE_COLUMN = 'surface'
TEXT_COLUMN = 'text'
IMAGE_COLUMN = 'image'


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
    """Return the Parquet file name for `topic` (/robot/telemetry -> robot__telemetry)."""
    return topic.strip('/').replace('/', '__') + '.parquet'


def export_parquet(bag_path, out_dir) -> Dict[str, Path]:
    """Write every non-image topic of a bag to Parquet; return {topic: file}."""
    bag = Bag(bag_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    topics = [t for t, info in bag.topics.items()  # undecodable ones: `nanobot bag info`
              if info.msgtype not in IMAGE_TYPES and info.count and t not in bag.undecodable]
    rows = {t: [] for t in topics}
    total = sum(bag.topics[t].count for t in topics)
    for record in tqdm(bag.records(topics), total=total, desc=f'export {bag.path.name}',
                       unit='msg', disable=None):  # a bar on a terminal, silent in logs
        rows[record.topic].append({'log_time_ns': record.timestamp,
                                   **_flatten(bag.decode(record))})
    written = {}
    for topic, topic_rows in rows.items():
        path = out_dir / topic_file_name(topic)
        pq.write_table(pa.Table.from_pylist(topic_rows), path)
        written[topic] = path
    return written


@dataclass
class ChunkRow:
    """One collector row: its time, optional sequence and the data for each topic."""

    time_ns: int
    sequence: Optional[int]
    names: List[str]
    values: List[float]
    surface: Optional[list] = None
    text: Optional[str] = None
    jpeg: Optional[bytes] = None


@dataclass
class ImportResult:
    """What `import_parquet` wrote ({topic: count}) and what it left out, with the reason.

    skipped: {column: why}; skipped_chunks: {file: why} (unreadable, e.g. cut off while the
    collector wrote it, or without a time column); bad_images: JPEGs OpenCV cannot decode.
    """

    counts: Dict[str, int] = field(default_factory=dict)
    skipped: Dict[str, str] = field(default_factory=dict)
    skipped_chunks: Dict[str, str] = field(default_factory=dict)
    bad_images: int = 0

    @property
    def messages(self) -> int:
        """Return how many messages were written."""
        return sum(self.counts.values())


def _time_ns(table: pa.Table, path: Path) -> np.ndarray:
    for name, scale in TIME_COLUMNS.items():
        if name in table.column_names:
            column = table.column(name)
            if column.null_count:
                raise BagError(f'{path}: {column.null_count} rows have no {name}')
            if pa.types.is_timestamp(column.type):
                return column.cast(pa.timestamp('ns')).cast(pa.int64()).to_numpy()
            return np.round(column.to_numpy(zero_copy_only=False).astype(np.float64)
                            * scale).astype(np.int64)
    raise BagError(f'{path}: no time column (one of {", ".join(TIME_COLUMNS)})')


def _is_number(data_type) -> bool:
    return (pa.types.is_integer(data_type) or pa.types.is_floating(data_type)
            or pa.types.is_boolean(data_type))


def _is_number_list(data_type) -> bool:
    return ((pa.types.is_list(data_type) or pa.types.is_large_list(data_type))
            and _is_number(data_type.value_type))


def _is_text(data_type) -> bool:
    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type)


def _is_bytes(data_type) -> bool:
    return pa.types.is_binary(data_type) or pa.types.is_large_binary(data_type)


def _number(value) -> float:
    return float('nan') if value is None else float(value)


def _append_cell(name: str, value, names: List[str], values: List[float]) -> None:
    """Append one numeric cell: a list expands to `name_0`, `name_1`, ... (sensors: value_<i>)."""
    if isinstance(value, list):
        prefix = 'value' if name == SENSORS_COLUMN else name
        names += [f'{prefix}_{j}' for j in range(len(value))]
        values += [_number(v) for v in value]
    else:
        names.append(name)
        values.append(_number(value))


def _chunk_rows(path: Path, skipped: Dict[str, str]) -> List[ChunkRow]:
    """Return the rows of one collector chunk; add the columns it cannot import to `skipped`."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise BagError(f'{path}: not a readable Parquet file ({error})') from None
    times = _time_ns(table, path)
    sequence_column = next((c for c in SEQUENCE_COLUMNS if c in table.column_names
                            and pa.types.is_integer(table.column(c).type)), None)
    sequences = table.column(sequence_column).to_pylist() if sequence_column else None
    special = {SURFACE_COLUMN: _is_number_list, TEXT_COLUMN: _is_text, IMAGE_COLUMN: _is_bytes}
    cells = {}
    numeric = {}
    for name in table.column_names:
        data_type = table.column(name).type
        if name in TIME_COLUMNS or name == sequence_column:
            continue
        if name in special and special[name](data_type):
            cells[name] = table.column(name).to_pylist()
        elif _is_number(data_type) or _is_number_list(data_type):
            numeric[name] = table.column(name).to_pylist()
        else:
            skipped[name] = f'{data_type} is not a number, a list of numbers or one of ' \
                            f'{TEXT_COLUMN} (string), {IMAGE_COLUMN} (JPEG bytes), ' \
                            f'{SURFACE_COLUMN} (list of numbers)'
    # sensors first: they are the device's channels value_0..; extra columns follow by name
    ordered = sorted(numeric, key=lambda name: name != SENSORS_COLUMN)
    empty = [None] * len(times)
    surfaces, texts, jpegs = (cells.get(name, empty)
                              for name in (SURFACE_COLUMN, TEXT_COLUMN, IMAGE_COLUMN))
    rows = []
    for i, t in enumerate(times):
        names, values = [], []
        for name in ordered:
            _append_cell(name, numeric[name][i], names, values)
        sequence = sequences[i] if sequences is not None else None
        rows.append(ChunkRow(int(t), None if sequence is None else int(sequence) % 2**32,
                             names, values, surface=surfaces[i], text=texts[i], jpeg=jpegs[i]))
    return rows


def _decode_jpeg(data: bytes) -> Optional[np.ndarray]:
    """Return JPEG (or any OpenCV-readable) bytes as an (H, W, 3) rgb array, None if unreadable."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _chunk_paths(chunks) -> List[Path]:
    paths = []
    for item in [chunks] if isinstance(chunks, (str, Path)) else chunks:
        item = Path(item)
        if not item.exists():
            raise BagError(f'{item}: no such Parquet file or folder')
        paths += sorted(item.glob('*.parquet')) if item.is_dir() else [item]
    if not paths:
        raise BagError(f'no .parquet files in {chunks}')
    return paths


def import_parquet(chunks, out_bag, storage: str = 'mcap',
                   telemetry_topic: str = TELEMETRY.fqn(),
                   surface_topic: str = SURFACE.fqn(),
                   image_topic: str = IMAGE.fqn(),
                   instruction_topic: str = INSTRUCTION.fqn()) -> ImportResult:
    """Write collector chunks (files or folders of *.parquet) into a new bag, in time order."""
    result = ImportResult()
    rows = []
    for path in _chunk_paths(chunks):
        try:
            rows += _chunk_rows(path, result.skipped)
        except BagError as error:  # one bad chunk must not cost the others
            result.skipped_chunks[str(path)] = str(error)
    if not rows:
        reasons = '; '.join(result.skipped_chunks.values()) or 'the chunks have no rows'
        raise BagError(f'nothing to import: {reasons}')
    rows.sort(key=lambda row: row.time_ns)  # stable: equal times keep file and row order
    topics = {telemetry_topic: ('nanobot_msgs/msg/Telemetry', any(r.names for r in rows)),
              surface_topic: ('nanobot_msgs/msg/SurfaceVector',
                              any(r.surface is not None for r in rows)),
              image_topic: ('sensor_msgs/msg/Image', any(r.jpeg is not None for r in rows)),
              instruction_topic: ('std_msgs/msg/String', any(r.text is not None for r in rows))}
    with BagWriter(out_bag, storage, custom_data={'nanobot.source': 'parquet import'}) as bag:
        types = bag.typestore.types
        for topic, (msgtype, present) in topics.items():
            if present:
                bag.add_topic(topic, msgtype,
                              # latched as the nodes offer it: ros2 bag play and replay
                              # latch it too
                              [INSTRUCTION.qos.offered()] if topic == instruction_topic else ())
                result.counts[topic] = 0

        def write(topic, t, msg):
            bag.write_message(topic, t, msg)
            result.counts[topic] += 1

        instruction = None
        for index, row in enumerate(tqdm(rows, desc=f'import -> {Path(out_bag).name}',
                                         unit='row', disable=None)):
            t = row.time_ns
            sequence = index % 2**32 if row.sequence is None else row.sequence
            stamp = types['builtin_interfaces/msg/Time'](sec=t // 10**9, nanosec=t % 10**9)
            header = types['std_msgs/msg/Header'](stamp=stamp, frame_id='')
            if row.text is not None and row.text != instruction:
                instruction = row.text
                write(instruction_topic, t, types['std_msgs/msg/String'](data=row.text))
            if row.jpeg is not None:
                rgb = _decode_jpeg(row.jpeg)
                if rgb is None:
                    result.bad_images += 1
                else:
                    write(image_topic, t, types['sensor_msgs/msg/Image'](
                        header=types['std_msgs/msg/Header'](stamp=stamp, frame_id='camera'),
                        height=rgb.shape[0], width=rgb.shape[1], encoding='rgb8',
                        is_bigendian=0, step=rgb.shape[1] * 3, data=rgb.reshape(-1)))
            if row.names:
                write(telemetry_topic, t, types['nanobot_msgs/msg/Telemetry'](
                    header=header, sequence=sequence, names=row.names,
                    values=np.asarray(row.values, np.float32)))
            if row.surface is not None:
                write(surface_topic, t, types['nanobot_msgs/msg/SurfaceVector'](
                    header=header, sequence=sequence, source='parquet',
                    data=np.asarray([_number(v) for v in row.surface], np.float32)))
    return result
