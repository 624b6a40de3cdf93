"""SIGKILL the recorder mid-write 10 times: `nanobot bag repair` recovers all but the last 1 s."""
import random
import subprocess
import sys
import time

from bag_fixtures import Diagnostics, frame, make_image, make_telemetry, wait_for_recorder
from nanobot_ros.contract import COMMAND, IMAGE, TELEMETRY
from nanobot_ros.cli import bag as bag_cli
from nanobot_ros.data.bags import Bag, find_bags
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Telemetry
from sensor_msgs.msg import Image

KILLS = 10
MAX_LOSS_S = 1.0


def test_every_killed_recording_is_recoverable(ros, nodes, tmp_path):
    # Reliable publishers: every message up to the kill reaches the recorder, in order.
    telemetry = ros.node.create_publisher(Telemetry, TELEMETRY.fqn(), qos_profile(COMMAND))
    images = ros.node.create_publisher(Image, IMAGE.fqn(), qos_profile(COMMAND))
    diagnostics = Diagnostics(ros)
    rng = random.Random(4)
    for attempt in range(KILLS):
        out = tmp_path / f'kill{attempt}'
        recorder = nodes.start('recorder', params={
            'output_dir': str(out), 'topics': f"['{TELEMETRY.fqn()}', '{IMAGE.fqn()}']",
            'split_size_mb': 0.3})
        wait_for_recorder(ros, diagnostics, out, topics=2)
        # On a loaded machine DDS may match the recorder's subscriptions a while after it
        # reports them: publish only once both publishers see it.
        assert ros.spin_until(lambda: telemetry.get_subscription_count() >= 1
                              and images.get_subscription_count() >= 1, timeout=30)
        # Kill mid-write: the clock starts once the recorder says messages reach it (on a
        # loaded machine the first ones can take a while even after both sides matched).
        end = None
        give_up = time.monotonic() + 30
        sequence = 0
        sent_ns = []  # when each message went out
        while end is None or time.monotonic() < end:
            if end is None and diagnostics.recorder(out).get('messages_received', 0) > 0:
                end = time.monotonic() + rng.uniform(1.2, 2.0)
            assert time.monotonic() < give_up, f'attempt {attempt}: the recorder got nothing'
            stamp = ros.node.get_clock().now().to_msg()
            telemetry.publish(make_telemetry(sequence, stamp))
            sent_ns.append(time.time_ns())
            if sequence % 4 == 0:
                images.publish(make_image(frame(sequence, 64), sequence, stamp))
            sequence += 1
            ros.spin_for(0.005)
        recorder.kill()
        killed_ns = time.time_ns()
        recorder.wait()
        ros.spin_for(0.2)

        [session] = [p for p in (out / 'toroidal_dot').iterdir()]
        assert list(session.glob('*.lock')), 'the killed split leaves its (stale) lock'
        if attempt == 0:  # the documented command, as a user runs it
            result = subprocess.run([sys.executable, '-m', 'nanobot_ros.cli', 'bag', 'repair',
                                     str(session)], capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr
        else:  # the same command in-process: spares a Python start-up per attempt
            assert bag_cli.main(['repair', str(session)]) == 0
        assert not list(session.glob('*.lock')), 'repair removes stale locks'
        splits = find_bags(session)
        assert splits, f'attempt {attempt}: no bag after repair'
        received = []
        for split in splits:
            bag = Bag(split)  # opens without further repair
            assert bag.custom_data['nanobot.robot_type'] == 'toroidal_dot'
            for record in bag.records([TELEMETRY.fqn()]):
                received.append(bag.decode(record).sequence)
        # The first messages may go before DDS matched the new recorder; after that, none
        # may be missing or out of order.
        assert received, f'attempt {attempt}: nothing recovered'
        assert received == list(range(received[0], received[0] + len(received))), \
            f'attempt {attempt}: gap or reorder'
        # What was lost went out in the last loss_s before the kill (measured from when the
        # first lost message was sent: a busy machine may leave seconds between two sends).
        first_lost = received[-1] + 1
        loss_s = (killed_ns - sent_ns[first_lost]) * 1e-9 if first_lost < sequence else 0.0
        print(f'attempt {attempt}: kept {len(received)} of {sequence}, lost {loss_s:.2f} s')
        assert loss_s <= MAX_LOSS_S, (f'attempt {attempt}: lost the last {loss_s:.2f} s '
                                      f'({len(received)} of {sequence} messages kept)')
