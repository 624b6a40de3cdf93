"""The recorder splits by duration: every split a complete bag, no message lost across them."""
import time

from bag_fixtures import engine_recorder, put_blobs, wait_written
from nanobot_ros.data.bags import Bag

SPLIT_S = 0.5


def test_a_new_split_every_split_duration(tmp_path):
    recorder = engine_recorder(tmp_path, 'splitbot', split_size_mb=0, split_duration_s=SPLIT_S)
    recorder.start()
    started = time.monotonic()
    put_blobs(recorder, 40, pause_s=0.05)  # about 2 s of messages
    elapsed = time.monotonic() - started
    wait_written(recorder, 40)
    recorder.stop()
    splits = recorder.splits
    # A split closes at its first message after SPLIT_S, in the writer thread: at most one per
    # started SPLIT_S of recording (fewer only if a loaded machine delays the writer).
    assert 2 <= len(splits) <= int(elapsed / SPLIT_S) + 1, (elapsed, splits)
    counts = [Bag(split).message_count for split in splits]  # each opens without repair
    assert sum(counts) == 40 and all(counts), counts
    assert [s.name for s in splits] == sorted(s.name for s in splits)
