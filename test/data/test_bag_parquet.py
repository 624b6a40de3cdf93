"""Parquet bridge: a bag's non-image topics to Parquet; collector chunks into a bag."""
from pathlib import Path

import cv2
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bag_fixtures import write_session_bag
from nanobot_ros.contract import IMAGE, INSTRUCTION, recorded_qos, SURFACE, TELEMETRY
from nanobot_ros.cli import bag as bag_cli
from nanobot_ros.data.bags import Bag
from nanobot_ros.data.convert import image_to_numpy

START_S = 1_700_000_000.0
ROWS_PER_CHUNK = 4
CHUNKS = 3


def test_export_writes_every_non_image_topic(tmp_path):
    bag = write_session_bag(tmp_path / 'bag', steps=6)
    assert bag_cli.main(['export-parquet', str(bag), str(tmp_path / 'out')]) == 0
    files = sorted(p.name for p in (tmp_path / 'out').iterdir())
    assert files == ['instruction.parquet', 'robot__action.parquet', 'robot__telemetry.parquet']
    actions = pq.read_table(tmp_path / 'out' / 'robot__action.parquet').to_pylist()
    assert [a['index'] for a in actions] == [0, 1, 0, 1, 0, 1]
    assert np.allclose([a['values'][0] for a in actions], [0, 0.12] * 3)
    assert actions[1]['header.stamp.nanosec'] == 100_000_000 and actions[0]['source'] == 'test'
    assert all(a['log_time_ns'] > 0 for a in actions)
    telemetry = pq.read_table(tmp_path / 'out' / 'robot__telemetry.parquet')
    assert telemetry.column('sequence').to_pylist() == list(range(6))


def test_import_keeps_extra_numeric_columns_and_their_seq(tmp_path):
    chunks = tmp_path / 'live_telemetry'
    chunks.mkdir()
    for part in range(2):
        times = [1_700_000_000.0 + part + 0.1 * i for i in range(5)]
        pq.write_table(pa.table({
            'timestamp': times, 'seq': list(range(part * 5, part * 5 + 5)),
            'accel_x': [0.5 * i for i in range(5)],
            'joints': [[1.0, 2.0]] * 5, 'surface': [[0.1, 0.2, 0.3]] * 5,
        }), chunks / f'chunk_{part:04d}.parquet')
    assert bag_cli.main(['import-parquet', str(chunks), str(tmp_path / 'bag')]) == 0
    bag = Bag(tmp_path / 'bag')
    assert bag.topics[TELEMETRY.fqn()].count == 10
    assert bag.topics[SURFACE.fqn()].count == 10
    telemetry = [bag.decode(r) for r in bag.records([TELEMETRY.fqn()])]
    assert [t.sequence for t in telemetry] == list(range(10))
    assert list(telemetry[3].names) == ['accel_x', 'joints_0', 'joints_1']
    assert np.allclose(telemetry[3].values, [1.5, 1.0, 2.0])
    assert telemetry[5].header.stamp.sec == 1_700_000_001
    surface = bag.decode(next(bag.records([SURFACE.fqn()])))
    assert np.allclose(surface.data, [0.1, 0.2, 0.3])


def collector_row(k: int) -> dict:
    """Return row k as scripts/collect_telemetry.py builds it (its generate_mock_data keys).

    The image is a real JPEG (OpenCV) of a solid colour that changes with k; the text changes
    every second row (the importer writes /instruction only on change); timestamp is seconds.
    """
    rgb = np.zeros((64, 48, 3), np.uint8)
    rgb[:] = (10 * k, 200 - 10 * k, 60)
    ok, jpeg = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return {'text': f'instruction {k // 2}', 'image': jpeg.tobytes(),
            'sensors': [k + 0.01 * j for j in range(16)],
            'surface': [-k - 0.5 * j for j in range(32)],
            'timestamp': START_S + 0.25 * k}


def write_collector_chunks(folder: Path, rows) -> None:
    """Write rows the way the collector does: pa.Table.from_pylist, one file per chunk."""
    folder.mkdir()
    for part in range(0, len(rows), ROWS_PER_CHUNK):
        chunk = rows[part:part + ROWS_PER_CHUNK]
        name = f'telemetry_{int(chunk[0]["timestamp"])}_{part // ROWS_PER_CHUNK}.parquet'
        pq.write_table(pa.Table.from_pylist(chunk), folder / name)


def test_import_maps_the_reference_collector_schema(tmp_path):
    rows = [collector_row(k) for k in range(ROWS_PER_CHUNK * CHUNKS)]
    write_collector_chunks(tmp_path / 'live_telemetry', rows)
    schema = pq.read_schema(next((tmp_path / 'live_telemetry').iterdir()))
    assert {f.name: str(f.type) for f in schema} == {
        'text': 'string', 'image': 'binary', 'sensors': 'list<element: double>',
        'surface': 'list<element: double>', 'timestamp': 'double'}
    assert bag_cli.main(['import-parquet', str(tmp_path / 'live_telemetry'),
                         str(tmp_path / 'bag')]) == 0

    bag = Bag(tmp_path / 'bag')
    n = len(rows)
    assert {t: (i.msgtype, i.count) for t, i in bag.topics.items()} == {
        TELEMETRY.fqn(): ('nanobot_msgs/msg/Telemetry', n),
        SURFACE.fqn(): ('nanobot_msgs/msg/SurfaceVector', n),
        IMAGE.fqn(): ('sensor_msgs/msg/Image', n),
        INSTRUCTION.fqn(): ('std_msgs/msg/String', n // 2)}
    stamps_ns = [int(round(row['timestamp'] * 1e9)) for row in rows]
    by_topic = {}
    for record in bag.records():
        by_topic.setdefault(record.topic, []).append((record.timestamp, bag.decode(record)))
    telemetry = by_topic[TELEMETRY.fqn()]
    assert [t for t, _ in telemetry] == stamps_ns
    assert [m.sequence for _, m in telemetry] == list(range(n))  # counts on across chunks
    for (t, msg), row in zip(telemetry, rows):
        assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == t
        assert list(msg.names) == [f'value_{j}' for j in range(16)]
        assert np.allclose(msg.values, row['sensors'], atol=1e-6)
    for (t, msg), row, k in zip(by_topic[SURFACE.fqn()], rows, range(n)):
        assert t == stamps_ns[k] and msg.sequence == k and msg.source == 'parquet'
        assert np.allclose(msg.data, row['surface'], atol=1e-6)
    for (t, msg), row, k in zip(by_topic[IMAGE.fqn()], rows, range(n)):
        assert t == stamps_ns[k] and msg.header.frame_id == 'camera'
        pixels = image_to_numpy(msg)
        assert (msg.encoding, pixels.shape) == ('rgb8', (64, 48, 3))
        expected = cv2.cvtColor(cv2.imdecode(np.frombuffer(row['image'], np.uint8),
                                             cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert np.array_equal(pixels, expected)
        # rgb, not bgr: the colour drawn is the colour read back (JPEG is lossy by a few levels)
        assert np.abs(pixels.astype(int) - (10 * k, 200 - 10 * k, 60)).max() <= 3
    instructions = by_topic[INSTRUCTION.fqn()]
    assert [m.data for _, m in instructions] == [f'instruction {i}' for i in range(n // 2)]
    assert [t for t, _ in instructions] == stamps_ns[::2]
    # Latched as the project's nodes publish it: replay offers it transient local again.
    replay_qos = recorded_qos(bag.topics[INSTRUCTION.fqn()].offered_qos)
    assert (replay_qos.durability, replay_qos.depth) == ('transient_local', 1)

    [storage] = list((tmp_path / 'bag').glob('*.mcap'))
    decoded = {}
    with open(storage, 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        for _, channel, message, msg in reader.iter_decoded_messages(log_time_order=True):
            decoded.setdefault(channel.topic, []).append((message.log_time, msg))
    assert {t: len(m) for t, m in decoded.items()} == {t: i.count for t, i in bag.topics.items()}
    assert [m.sequence for _, m in decoded[TELEMETRY.fqn()]] == list(range(n))
    assert [t for t, _ in decoded[IMAGE.fqn()]] == stamps_ns
    assert [m.data for _, m in decoded[INSTRUCTION.fqn()]] == [m.data for _, m in instructions]
    for (_, msg), (_, ours) in zip(decoded[IMAGE.fqn()], by_topic[IMAGE.fqn()]):
        assert (msg.width, msg.height, msg.step) == (48, 64, 144)
        assert bytes(msg.data) == image_to_numpy(ours).tobytes()
    last = decoded[SURFACE.fqn()][-1][1]
    assert np.allclose(list(last.data), rows[-1]['surface'], atol=1e-6)


def test_import_reports_columns_and_images_it_cannot_take(tmp_path, capsys):
    rows = [collector_row(k) for k in range(3)]
    rows[1]['image'] = b'not a jpeg'
    for k, row in enumerate(rows):
        row.update(battery=12.0 - k, label=f'run {k}', tags=['a', 'b'])
    write_collector_chunks(tmp_path / 'chunks', rows)
    whole = (tmp_path / 'chunks' / f'telemetry_{int(START_S)}_0.parquet').read_bytes()
    cut_off = tmp_path / 'chunks' / f'telemetry_{int(START_S)}_1.parquet'
    cut_off.write_bytes(whole[:len(whole) // 2])  # as if the collector died while writing
    assert bag_cli.main(['import-parquet', str(tmp_path / 'chunks'),
                         str(tmp_path / 'bag')]) == 0
    err = capsys.readouterr().err
    assert f'chunk {cut_off} not imported: {cut_off}: not a readable Parquet file' in err
    assert "column 'label' not imported: string" in err
    assert "column 'tags' not imported: list<element: string>" in err
    assert '1 images are not decodable JPEG' in err
    bag = Bag(tmp_path / 'bag')
    assert bag.topics[IMAGE.fqn()].count == 2
    assert bag.topics[TELEMETRY.fqn()].count == 3
    telemetry = [bag.decode(r) for r in bag.records([TELEMETRY.fqn()])]
    assert list(telemetry[2].names) == [f'value_{j}' for j in range(16)] + ['battery']
    assert telemetry[2].values[-1] == 10.0


def test_import_of_only_bad_chunks_fails_with_the_reasons(tmp_path, capsys):
    pq.write_table(pa.table({'sensors': [[1.0, 2.0]]}), tmp_path / 'no_time.parquet')
    assert bag_cli.main(['import-parquet', str(tmp_path / 'no_time.parquet'),
                         str(tmp_path / 'bag')]) == 1
    err = capsys.readouterr().err
    assert f'nothing to import: {tmp_path / "no_time.parquet"}: no time column' in err
    assert not (tmp_path / 'bag').exists()
