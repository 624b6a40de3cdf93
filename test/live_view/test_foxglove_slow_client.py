"""A client that reads nothing for 10 s neither starves a fast one nor grows the server.

The real foxglove node relays a 640x480 camera (921 KB a frame) published at 15 Hz over DDS.
Two clients subscribe; the slow one stops reading. Without a bound the server would queue the
slow client's 150 frames (138 MB); with `client_backlog` 16 it keeps at most 16 and drops the
oldest. The fast client keeps the frame rate it had while both read (a rate, not a count of
frames published: on a loaded machine DDS and the test's own publishing lose some), the node's
resident memory stays within the backlog's size, and the slow client, reading again, gets the
newest frames, not a 10-second-old backlog.
"""
import threading
import time

import numpy as np

from nanobot_ros import contract
from nanobot_ros.data.convert import numpy_to_image
from nanobot_ros.nodes.common import qos_profile
from foxglove_client import FoxgloveClient, free_port
from sensor_msgs.msg import Image

CAMERA = contract.IMAGE.fqn()
HEIGHT, WIDTH, RATE_HZ, BACKLOG, STALL_S = 480, 640, 15.0, 16, 10.0
FRAME_MB = HEIGHT * WIDTH * 3 / 1e6


def _rss_mb(pid: int) -> float:
    for line in open(f'/proc/{pid}/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    raise AssertionError(f'no VmRSS for {pid}')


def test_a_stalled_client_costs_neither_the_fast_one_nor_memory(ros, nodes):
    camera = ros.node.create_publisher(Image, CAMERA, qos_profile(contract.IMAGE.qos))
    port = free_port()
    foxglove = nodes.start('foxglove', params={'port': port, 'client_backlog': BACKLOG,
                                               'topics': [CAMERA]})
    fast, slow = FoxgloveClient(f'ws://127.0.0.1:{port}', timeout=60), None
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    sent, fast_times, stop = [0], [], threading.Event()

    def publish_for(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            frame[:] = sent[0] % 256  # the frame number, readable in any pixel
            msg = numpy_to_image(frame, 'rgb8')
            msg.header.stamp = ros.node.get_clock().now().to_msg()
            camera.publish(msg)
            sent[0] += 1
            ros.spin_for(1.0 / RATE_HZ)

    def read_fast() -> None:
        while not stop.is_set():
            if not fast.subscribed(CAMERA):  # (again, if the server refused it: foxglove_client)
                fast.subscribe(CAMERA)
            event = fast.receive(timeout=0.2)
            if event and event[0] == 'message':
                fast_times.append(time.monotonic())

    try:
        deadline = time.monotonic() + 30
        while not fast.channel(CAMERA) and time.monotonic() < deadline:
            publish_for(0.2)
            fast.receive(timeout=0.05)
        assert fast.channel(CAMERA), nodes.output(foxglove)
        slow = FoxgloveClient(f'ws://127.0.0.1:{port}', timeout=10)
        while not slow.channel(CAMERA):
            slow.receive(timeout=1.0)
        slow.subscribe(CAMERA)
        reader = threading.Thread(target=read_fast, daemon=True)
        reader.start()
        publish_for(1.0)  # both read: the node's memory settles
        both_start = time.monotonic()
        publish_for(4.0)
        both_rate = sum(1 for t in fast_times if t >= both_start) / (time.monotonic() - both_start)
        baseline = _rss_mb(foxglove.pid)

        # The slow client reads nothing while the camera runs for STALL_S.
        start, sent_before = time.monotonic(), sent[0]
        peak = baseline
        while time.monotonic() - start < STALL_S:
            publish_for(0.5)
            peak = max(peak, _rss_mb(foxglove.pid))
        stalled_sent = sent[0] - sent_before
        stalled_rate = sum(1 for t in fast_times if t >= start) / (time.monotonic() - start)

        # Reading again, the slow client gets what its queue kept, then live frames.
        slow_frames, first_wait = [], time.monotonic()
        while len(slow_frames) < BACKLOG + 20 and time.monotonic() - first_wait < 30:
            publish_for(0.05)
            if not slow.subscribed(CAMERA):
                slow.subscribe(CAMERA)
            event = slow.receive(timeout=0.05)
            while event is not None:
                if event[0] == 'message':
                    slow_frames.append(event[3][-1])  # the last pixel byte: the frame number
                event = slow.receive(timeout=0.001)
    finally:
        stop.set()
        fast.close()
        if slow is not None:
            slow.close()
    # The fast client kept its frame rate.
    assert stalled_sent >= STALL_S * RATE_HZ * 0.5, stalled_sent
    assert both_rate >= 3 and stalled_rate >= 0.8 * both_rate, (both_rate, stalled_rate)
    # The node held at most about BACKLOG frames for the slow client (plus slack for the
    # allocator), not the 10 s of frames it did not read.
    growth = peak - baseline
    assert growth < BACKLOG * FRAME_MB + 40, (baseline, peak)
    assert growth < 0.5 * stalled_sent * FRAME_MB, (baseline, peak, stalled_sent)
    # The slow client was not cut off and did not get all that it missed: frames were dropped.
    assert len(slow_frames) >= BACKLOG + 20, len(slow_frames)
    numbers = np.array(slow_frames, dtype=int)
    gaps = np.diff(numbers) % 256
    assert (gaps > 1).any(), numbers  # a jump: dropped frames
    assert nodes.stop(foxglove) == 0
