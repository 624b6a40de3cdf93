"""Parquet bridge: a bag's non-image topics to Parquet; collector chunks into a bag."""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bag_fixtures import write_session_bag
from nanobot_ros.data import bag_cli
from nanobot_ros.data.bags import Bag


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


def test_import_turns_collector_chunks_into_telemetry_and_surface(tmp_path):
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
    assert bag.topics['/robot/telemetry'].count == 10
    assert bag.topics['/robot/surface'].count == 10
    telemetry = [bag.decode(r) for r in bag.records(['/robot/telemetry'])]
    assert [t.sequence for t in telemetry] == list(range(10))
    assert list(telemetry[3].names) == ['accel_x', 'joints_0', 'joints_1']
    assert np.allclose(telemetry[3].values, [1.5, 1.0, 2.0])
    assert telemetry[5].header.stamp.sec == 1_700_000_001
    surface = bag.decode(next(bag.records(['/robot/surface'])))
    assert np.allclose(surface.data, [0.1, 0.2, 0.3])
