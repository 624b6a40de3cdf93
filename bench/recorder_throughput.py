"""Recorder throughput: 224x224 rgb8 at 30 Hz + 1 kHz telemetry from a separate process.

    ./run.sh python bench/recorder_throughput.py [--duration 60]

A publisher process (this file with --publish) sends the camera and telemetry streams for
--duration seconds; the recorder node runs as its own process, as in a stack. Afterwards the
same messages are written again with the raw `rosbags` Writer (no node, no queue, no thread) to
measure what the storage layer alone sustains on this machine in this run.

Prints: published, received, written, dropped, recorded MB/s, raw rosbags MB/s, and the ratio
(recorder MB/s / raw MB/s: the share of the raw writer's capacity the recording used).
"""
from nanobot_ros.contract import DIAGNOSTICS, IMAGE, SENSOR, STATUS, TELEMETRY
import argparse
import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BENCH_DOMAIN = '203'
IMAGE_HZ, TELEMETRY_HZ = 30.0, 1000.0


def publish(duration: float) -> None:
    """Publish the two streams for `duration` seconds, then print the counts as JSON."""
    import numpy as np
    import rclpy
    from nanobot_ros.data.convert import numpy_to_image
    from nanobot_ros.nodes.common import qos_profile
    from nanobot_msgs.msg import Telemetry
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node('throughput_publisher')
    images = node.create_publisher(Image, IMAGE.fqn(), qos_profile(SENSOR))
    telemetry = node.create_publisher(Telemetry, TELEMETRY.fqn(), qos_profile(SENSOR))
    while not (images.get_subscription_count() and telemetry.get_subscription_count()):
        time.sleep(0.05)
    time.sleep(1.0)  # let discovery settle on both ends
    rng = np.random.default_rng(0)
    frame = numpy_to_image(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8), 'rgb8')
    sample = Telemetry(names=[f'joint_{i}' for i in range(8)], values=[0.0] * 8)
    sent_images = sent_telemetry = 0
    start = time.monotonic()
    next_image = next_telemetry = start
    while True:
        now = time.monotonic()
        if now - start >= duration:
            break
        stamp = node.get_clock().now().to_msg()
        while next_telemetry <= now:
            sample.header.stamp = stamp
            sample.sequence = sent_telemetry % 2**32
            telemetry.publish(sample)
            sent_telemetry += 1
            next_telemetry += 1.0 / TELEMETRY_HZ
        if next_image <= now:
            frame.header.stamp = stamp
            images.publish(frame)
            sent_images += 1
            next_image += 1.0 / IMAGE_HZ
        time.sleep(0.0005)
    print(json.dumps({'images': sent_images, 'telemetry': sent_telemetry,
                      'seconds': time.monotonic() - start}), flush=True)
    node.destroy_node()
    rclpy.shutdown()


def raw_writer_speed(records, folder: Path) -> float:
    """Write `records` with rosbags' Writer alone; return MB/s."""
    from rosbags.rosbag2 import Writer
    from rosbags.rosbag2.enums import StoragePlugin
    from nanobot_ros.data.bags import make_typestore
    store = make_typestore()
    total = sum(len(r.data) for r in records)
    start = time.perf_counter()
    with Writer(folder, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {}
        for record in records:
            if record.topic not in connections:
                connections[record.topic] = writer.add_connection(
                    record.topic, record.msgtype, typestore=store)
            writer.write(connections[record.topic], record.timestamp, record.data)
    return total / 1e6 / (time.perf_counter() - start)


def run_bench(duration: float) -> None:
    """Run publisher and recorder processes, then the raw writer; print the figures."""
    from diagnostic_msgs.msg import DiagnosticArray
    import rclpy
    from tqdm import tqdm
    from nanobot_ros.data.bags import Bag, find_bags
    from nanobot_ros.nodes.common import qos_profile
    from nanobot_ros.stack import node_executable

    os.environ.setdefault('ROS_DOMAIN_ID', BENCH_DOMAIN)
    work = Path(tempfile.mkdtemp(prefix='recorder_throughput_'))
    rclpy.init()
    node = rclpy.create_node('throughput_bench')
    reports = {}

    def on_report(msg):
        for status in msg.status:
            if status.hardware_id == 'recorder':
                reports.update({kv.key: kv.value for kv in status.values})
    node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(), on_report, qos_profile(STATUS))
    recorder = subprocess.Popen(
        [node_executable('recorder'), '--ros-args', '-p', f'output_dir:={work / "sessions"}',
         '-p', 'robot_type:=bench', '-p', f"topics:=['{IMAGE.fqn()}', '{TELEMETRY.fqn()}']"],
        stdout=open(work / 'recorder.log', 'w'), stderr=subprocess.STDOUT)
    publisher = subprocess.Popen([sys.executable, __file__, '--publish', '--duration',
                                  str(duration)], stdout=subprocess.PIPE, text=True)
    with tqdm(total=round(duration), desc='recording', file=sys.stderr,
              bar_format='{l_bar}{bar}| {n:.0f}/{total:.0f} s {postfix}') as bar:
        while publisher.poll() is None:
            rclpy.spin_once(node, timeout_sec=0.5)
            bar.n = min(int(reports.get('messages_received', 0)) / (IMAGE_HZ + TELEMETRY_HZ),
                        duration)
            bar.set_postfix_str(f'written {reports.get("messages_written", 0)} dropped '
                                f'{reports.get("messages_dropped", 0)}')
    published = json.loads(publisher.stdout.read().strip().splitlines()[-1])
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
    recorder.send_signal(signal.SIGINT)
    while recorder.poll() is None:
        rclpy.spin_once(node, timeout_sec=0.1)
    for _ in range(10):
        rclpy.spin_once(node, timeout_sec=0.1)

    received = int(reports['messages_received'])
    written = int(reports['messages_written'])
    dropped = int(reports['messages_dropped'])
    megabytes = int(reports['bytes_written']) / 1e6
    recorded_speed = megabytes / published['seconds']
    records = [r for bag in find_bags(work / 'sessions') for r in Bag(bag).records()]
    raw_speed = raw_writer_speed(records, work / 'raw')
    sent = published['images'] + published['telemetry']
    print(f'published: {sent} ({published["images"]} images, {published["telemetry"]} '
          f'telemetry) in {published["seconds"]:.1f} s')
    topics = json.loads(reports['topics'])
    print(f'received:  {received} (' + ', '.join(
        f'{t} {c["received"]}' for t, c in sorted(topics.items())) + ')')
    print(f'written:   {written}')
    print(f'dropped:   {dropped}')
    print(f'recorded:  {megabytes:.1f} MB, {recorded_speed:.2f} MB/s')
    print(f'raw rosbags writer: {raw_speed:.1f} MB/s (same messages, same run)')
    print(f'ratio recorder / raw writer: {recorded_speed / raw_speed:.3f} '
          f'(headroom {raw_speed / recorded_speed:.0f}x)')
    node.destroy_node()
    rclpy.shutdown()
    shutil.rmtree(work)


def main() -> None:
    """Parse arguments; run the bench or, with --publish, the publisher process."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--duration', type=float, default=60.0, help='seconds of publishing')
    parser.add_argument('--publish', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        publish(args.duration)
    else:
        run_bench(args.duration)


if __name__ == '__main__':
    main()
