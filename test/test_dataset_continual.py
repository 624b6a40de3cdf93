"""BagDataset(continual=True) picks up splits that are finished after iteration started."""
import threading

from bag_fixtures import write_session_bag
from nanobot_ros.data.dataset import BagDataset


def test_continual_iteration_picks_up_new_splits(tmp_path):
    write_session_bag(tmp_path / 'session' / 'split_000', steps=5)
    data = BagDataset(tmp_path, continual=True, poll_interval=0.05, idle_timeout=3.0)
    assert len(data) == 4
    # An unfinished split (no metadata.yaml yet) is not read: it appears once it is closed.
    (tmp_path / 'session' / 'split_001').mkdir()
    (tmp_path / 'session' / 'split_001' / 'split_001.mcap').write_bytes(b'\x89MCAP0\r\n')
    seen = []

    def grow():
        (tmp_path / 'session' / 'split_001' / 'split_001.mcap').unlink()
        (tmp_path / 'session' / 'split_001').rmdir()
        write_session_bag(tmp_path / 'session' / 'split_001', steps=5, start_step=5)

    for sample in data:
        seen.append(sample.action_index)
        if len(seen) == 4:
            threading.Timer(0.2, grow).start()
        if len(seen) == 8:
            data.stop()
    assert len(seen) == 8 and len(data) == 8
    assert data[7].stamp > data[3].stamp
    assert not data.skipped
