"""BagDataset(continual=True) picks up splits that are finished after iteration started."""
import threading

import numpy as np

from bag_fixtures import frame, write_session_bag
from nanobot_ros.data.dataset import BagDataset


def test_continual_iteration_picks_up_new_splits(tmp_path):
    session = tmp_path / '20260101-120000'  # split names as recording.py writes them
    first = write_session_bag(session / '20260101-120000_000', steps=5)
    data = BagDataset(tmp_path, continual=True, poll_interval=0.05, idle_timeout=3.0)
    assert len(data) == 4
    # An unfinished split (no metadata.yaml yet) is not read: it appears once it is closed.
    second = session / '20260101-120000_001'
    second.mkdir()
    (second / f'{second.name}.mcap').write_bytes(b'\x89MCAP0\r\n')
    seen = []

    def grow():
        (second / f'{second.name}.mcap').unlink()
        second.rmdir()
        write_session_bag(second, steps=5, start_step=5, instruction='')

    for sample in data:
        seen.append(sample.action_index)
        if len(seen) == 4:
            threading.Timer(0.2, grow).start()
        if len(seen) == 9:
            data.stop()
    # The new split extends the session: frame 4 -> frame 5 became a sample too.
    assert len(seen) == 9 and len(data) == 9
    boundary = data[4]
    assert (boundary.bag, boundary.next_bag) == (str(first), str(second))
    np.testing.assert_array_equal(boundary.observation, frame(4))
    np.testing.assert_array_equal(boundary.next_observation, frame(5))
    assert data[8].stamp > data[4].stamp and data[8].instruction == 'move right'
    assert not data.skipped
