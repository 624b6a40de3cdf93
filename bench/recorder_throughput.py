"""Recorder load sweep: N cameras + 1 kHz telemetry, recorded plain and with compressed chunks.

    ./run.sh python bench/recorder_throughput.py [--cameras 1,2,4] [--duration 10]
        [--compression none,fast] [--frames noise|sim]

Frames: `noise` (default) 640x480 rgb8 random pixels at 30 Hz per camera (27.6 MB/s each; the
worst case for compression: nothing to gain, all the CPU spent); `sim` the sim stack's camera:
224x224 rgb8 frames of the toroidal dot world (a dot moving on a plain background) at 15 Hz.
For each N, with the same publishers (N processes, one camera each; the first also publishes the
telemetry), one phase after the other so they do not compete for the 2 cores:
  recorder   the recorder node as its own process, as in a stack (MCAP, fsync every flush), once
             per `--compression` (the recorder's parameter: none, fast, small);
  bare sub   floor 1: a bare rclpy process subscribing serialized (raw=True) to the same topics
             with the same QoS and executor, writing nothing: what DDS + rclpy deliver;
  raw writer floor 2: the same bytes (N x frames/s + 1 kHz telemetry, `--duration` s worth)
             written by rosbags' Writer alone, no DDS, no thread: what the storage sustains.
Per phase: published, received, written, dropped in the recorder's queue, lost in transport
(published - received: best effort sensor QoS drops what the subscriber does not take in
time), MB/s, bytes on disk (the session folder) and their ratio to the bytes written, CPU of the
receiving process (% of one core), its peak memory, and the machine's load average (the machine
is shared: the figures hold for the load shown).
"""
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

from nanobot_ros.contract import compatible_qos, DIAGNOSTICS, SENSOR, STATUS, TELEMETRY

BENCH_DOMAIN = '203'
TELEMETRY_HZ = 1000.0
# frames: (width, height, frames per second per camera)
FRAMES = {'noise': (640, 480, 30.0), 'sim': (224, 224, 15.0)}
SIM_FRAMES = 64  # distinct sim frames a publisher cycles through (a dot moving around)
TELEMETRY_TOPIC = TELEMETRY.fqn()


def camera_topic(index: int) -> str:
    """Return camera `index`'s topic."""
    return f'/camera_{index}/image_raw'


def camera_frames(kind: str, index: int):
    """Return the rgb frames camera `index` cycles through: random pixels or the sim's view."""
    import numpy as np
    width, height, _ = FRAMES[kind]
    if kind == 'noise':
        return [np.random.default_rng(index).integers(0, 256, (height, width, 3), np.uint8)]
    from nanobot_ros.robots.sim.toroidal_dot import ToroidalDotConfig, ToroidalDotWorld
    world = ToroidalDotWorld(ToroidalDotConfig(img_size=width, seed=index))
    actions = np.random.default_rng(index).integers(0, 2, SIM_FRAMES)
    views = []
    for action in actions:
        views.append(world.render())
        world.step(int(action))
    return views


def publish(index: int, duration: float, telemetry_too: bool, kind: str) -> None:
    """Publish camera `index` (and the telemetry) for `duration` s; print the counts as JSON."""
    import rclpy
    from rclpy.serialization import serialize_message
    from nanobot_ros.data.convert import numpy_to_image
    from nanobot_ros.nodes.common import qos_profile
    from nanobot_msgs.msg import Telemetry
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node(f'load_publisher_{index}')
    images = node.create_publisher(Image, camera_topic(index), qos_profile(SENSOR))
    publishers = [images]
    if telemetry_too:
        telemetry = node.create_publisher(Telemetry, TELEMETRY_TOPIC, qos_profile(SENSOR))
        publishers.append(telemetry)
    while not all(p.get_subscription_count() for p in publishers):
        time.sleep(0.05)
    time.sleep(1.0)  # let discovery settle on both ends
    image_hz = FRAMES[kind][2]
    # Serialized once; each frame gets its stamp patched in (header.stamp follows the 4-byte
    # CDR header): the publisher spends its time in DDS, not in Python message conversion.
    frames = [bytearray(serialize_message(numpy_to_image(pixels, 'rgb8')))
              for pixels in camera_frames(kind, index)]
    sample = Telemetry(names=[f'joint_{i}' for i in range(8)], values=[0.0] * 8)
    sent_images = sent_telemetry = 0
    print('streaming', flush=True)
    start = time.monotonic()
    next_image = next_telemetry = start
    while True:
        now = time.monotonic()
        if now - start >= duration:
            break
        stamp = node.get_clock().now().to_msg()
        while telemetry_too and next_telemetry <= now:
            sample.header.stamp = stamp
            sample.sequence = sent_telemetry % 2**32
            telemetry.publish(sample)
            sent_telemetry += 1
            next_telemetry += 1.0 / TELEMETRY_HZ
        if next_image <= now:
            frame = frames[sent_images % len(frames)]
            frame[4:12] = stamp.sec.to_bytes(4, 'little') + stamp.nanosec.to_bytes(4, 'little')
            images.publish(bytes(frame))
            sent_images += 1
            next_image += 1.0 / image_hz
        wake = min(next_image, next_telemetry if telemetry_too else next_image)
        time.sleep(max(0.0, wake - time.monotonic()))
    print(json.dumps({'images': sent_images, 'telemetry': sent_telemetry,
                      'image_bytes': len(frames[0]), 'seconds': time.monotonic() - start}),
          flush=True)
    node.destroy_node()
    rclpy.shutdown()


def subscribe(topics) -> None:
    """Floor 1: take every topic serialized, count, write nothing; print counts at SIGINT."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions
    from nanobot_ros.nodes.common import message_class, qos_profile
    from nanobot_ros.nodes.recorder import subscription_depth

    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node('bare_subscriber')
    counts = {topic: 0 for topic, _ in topics}
    received_bytes = [0]
    stop = []
    signal.signal(signal.SIGINT, lambda *args: stop.append(True))

    def on_message(topic, data):
        counts[topic] += 1
        received_bytes[0] += len(data)
    for topic, msgtype in topics:
        # What the recorder subscribes with.
        qos = qos_profile(compatible_qos(
            ['best_effort'], ['volatile'], subscription_depth(msgtype)))
        node.create_subscription(message_class(msgtype), topic,
                                 lambda data, topic=topic: on_message(topic, data), qos,
                                 raw=True)
    executor = SingleThreadedExecutor()  # as the nodes' run() spins
    executor.add_node(node)
    while not stop:
        executor.spin_once(timeout_sec=0.1)
    print(json.dumps({'topics': counts, 'bytes': received_bytes[0]}), flush=True)
    node.destroy_node()
    rclpy.shutdown()


def cpu_seconds(pid: int) -> float:
    """Return a process's user + system CPU seconds so far."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def peak_memory_mb(pid: int) -> float:
    """Return a process's peak resident memory (VmHWM) in MB."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
    return 0.0


def run_publishers(cameras: int, duration: float, kind: str, receiver_pid: int, spin):
    """Run the publisher processes against a receiving process; return (sent, cpu %)."""
    procs = [subprocess.Popen([sys.executable, __file__, '--publish', str(i), '--duration',
                               str(duration), '--frames', kind]
                              + (['--telemetry'] if i == 0 else []),
                              stdout=subprocess.PIPE, text=True) for i in range(cameras)]
    for proc in procs:
        while proc.stdout.readline().strip() != 'streaming':
            spin()
    cpu_start, wall_start = cpu_seconds(receiver_pid), time.monotonic()
    while any(p.poll() is None for p in procs):
        spin()
    cpu = (cpu_seconds(receiver_pid) - cpu_start) / (time.monotonic() - wall_start) * 100
    sent = [json.loads(p.stdout.read().strip().splitlines()[-1]) for p in procs]
    return sent, cpu


def topic_types(cameras: int):
    """Return the (topic, type) pairs of one sweep point."""
    return [(camera_topic(i), 'sensor_msgs/msg/Image') for i in range(cameras)] + [
        (TELEMETRY_TOPIC, 'nanobot_msgs/msg/Telemetry')]


def recorder_phase(cameras: int, duration: float, kind: str, compression: str, work: Path,
                   node) -> dict:
    """Phase 1: the recorder node under the load; return its figures."""
    import rclpy
    from nanobot_ros.data.recording import folder_bytes
    from nanobot_ros.stack import node_executable
    reports = node.reports
    reports.clear()
    topics = [t for t, _ in topic_types(cameras)]
    work.parent.mkdir(parents=True, exist_ok=True)
    recorder = subprocess.Popen(
        [node_executable('recorder'), '--ros-args', '-p', f'output_dir:={work}', '-p',
         'robot_type:=bench', '-p', f'topics:={json.dumps(topics)}', '-p',
         f'compression:={compression}'],
        stdout=open(work.parent / f'recorder_{cameras}_{compression}.log', 'w'),
        stderr=subprocess.STDOUT)

    def spin():
        rclpy.spin_once(node, timeout_sec=0.05)
    sent, cpu = run_publishers(cameras, duration, kind, recorder.pid, spin)
    end = time.monotonic() + 3.0  # let the writer drain its queue
    while time.monotonic() < end:
        spin()
    memory = peak_memory_mb(recorder.pid)
    recorder.send_signal(signal.SIGINT)
    while recorder.poll() is None:
        spin()
    for _ in range(10):
        spin()
    topics_report = json.loads(reports['topics'])
    on_disk = folder_bytes(work)
    shutil.rmtree(work)  # the bags; the log stays
    return {'sent': sent, 'cpu': cpu, 'memory_mb': memory, 'on_disk': on_disk,
            'received': int(reports['messages_received']),
            'written': int(reports['messages_written']),
            'dropped': int(reports['messages_dropped']),
            'bytes': int(reports['bytes_written']),
            'per_topic': {t: c for t, c in topics_report.items()}}


def bare_subscriber_phase(cameras: int, duration: float, kind: str) -> dict:
    """Phase 2 (floor 1): the bare serialized subscriber under the same load."""
    sub = subprocess.Popen([sys.executable, __file__, '--subscribe',
                            json.dumps(topic_types(cameras))], stdout=subprocess.PIPE, text=True)
    sent, cpu = run_publishers(cameras, duration, kind, sub.pid, lambda: time.sleep(0.05))
    time.sleep(1.0)
    memory = peak_memory_mb(sub.pid)
    sub.send_signal(signal.SIGINT)
    result = json.loads(sub.communicate(timeout=30)[0].strip().splitlines()[-1])
    return {'sent': sent, 'cpu': cpu, 'memory_mb': memory,
            'received': sum(result['topics'].values()), 'bytes': result['bytes'],
            'per_topic': result['topics']}


def raw_writer_phase(cameras: int, duration: float, image_hz: float, image_bytes: int,
                     folder: Path) -> float:
    """Phase 3 (floor 2): write the same bytes with rosbags' Writer alone; return MB/s."""
    from rosbags.rosbag2 import Writer
    from rosbags.rosbag2.enums import StoragePlugin
    from nanobot_ros.data.bags import make_typestore
    store = make_typestore()
    image = bytes(image_bytes)
    telemetry = bytes(120)
    frames, samples = int(duration * image_hz), int(duration * TELEMETRY_HZ)
    total = 0
    start = time.perf_counter()
    with Writer(folder, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {t: writer.add_connection(t, m, typestore=store)
                       for t, m in topic_types(cameras)}
        per_frame = samples // frames
        for f in range(frames):
            for c in range(cameras):
                writer.write(connections[camera_topic(c)], f, image)
                total += image_bytes
            for _ in range(per_frame):
                writer.write(connections[TELEMETRY_TOPIC], f, telemetry)
                total += len(telemetry)
    speed = total / 1e6 / (time.perf_counter() - start)
    shutil.rmtree(folder)
    return speed


def compression_cost(kind: str, compressions) -> str:
    """Return what zstd costs on this bench's frames: ms per MB and size ratio per level."""
    import zstandard
    from nanobot_ros.data.bag_writer import CHUNK_COMPRESSION_LEVELS
    data = b''.join(frame.tobytes() for frame in camera_frames(kind, 0))
    parts = []
    for name in compressions:
        level = CHUNK_COMPRESSION_LEVELS[name]
        if level is None:
            continue
        compressor = zstandard.ZstdCompressor(level=level)
        start = time.perf_counter()
        packed = compressor.compress(data)
        seconds = time.perf_counter() - start
        parts.append(f'{name} (zstd level {level}) {seconds * 1e3 / (len(data) / 1e6):.2f} ms '
                     f'per MB, {len(packed) / len(data):.3f} of the size')
    return f'{kind} frames, one thread: ' + '; '.join(parts) if parts else ''


def sent_totals(sent) -> tuple:
    """Return (messages, MB) the publishers sent."""
    messages = sum(s['images'] + s['telemetry'] for s in sent)
    megabytes = sum(s['images'] * s['image_bytes'] for s in sent) / 1e6
    return messages, megabytes


def run_sweep(cameras_list, duration: float, output_dir: str, kind: str,
              compressions) -> None:
    """Run every sweep point; print a Markdown table and the per-topic detail."""
    from diagnostic_msgs.msg import DiagnosticArray
    import rclpy
    from nanobot_ros.nodes.common import qos_profile

    os.environ.setdefault('ROS_DOMAIN_ID', BENCH_DOMAIN)
    work = Path(tempfile.mkdtemp(prefix='recorder_load_', dir=output_dir or None))
    rclpy.init()
    node = rclpy.create_node('load_bench')
    node.reports = {}

    def on_report(msg):
        for status in msg.status:
            if status.hardware_id == 'recorder':
                node.reports.update({kv.key: kv.value for kv in status.values})
    node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(), on_report, qos_profile(STATUS))
    rows, floors, details = [], [], []
    for cameras in cameras_list:
        for compression in compressions:
            load = os.getloadavg()[0]
            rec = recorder_phase(cameras, duration, kind, compression,
                                 work / f'sessions_{cameras}_{compression}', node)
            sent, offered_mb = sent_totals(rec['sent'])
            seconds = max(s['seconds'] for s in rec['sent'])
            rows.append(
                f'| {cameras} | {compression} | {offered_mb / seconds:.1f} | {sent} | '
                f'{rec["received"]} | {rec["written"]} | {rec["dropped"]} | '
                f'{sent - rec["received"]} | {rec["bytes"] / 1e6 / seconds:.1f} | '
                f'{rec["on_disk"] / 1e6:.1f} | {rec["on_disk"] / max(rec["bytes"], 1):.3f} | '
                f'{rec["cpu"]:.0f} | {rec["memory_mb"]:.0f} | {load:.1f} |')
            details.append((cameras, compression, rec))
            print(rows[-1], file=sys.stderr, flush=True)
        load = os.getloadavg()[0]
        bare = bare_subscriber_phase(cameras, duration, kind)
        bare_sent, _ = sent_totals(bare['sent'])
        seconds = max(s['seconds'] for s in bare['sent'])
        raw = raw_writer_phase(cameras, duration, FRAMES[kind][2],
                               bare['sent'][0]['image_bytes'], work / f'raw_{cameras}')
        floors.append(f'{cameras} camera(s), floors: bare sub {bare_sent} published, '
                      f'{bare["received"]} received, {bare_sent - bare["received"]} lost, '
                      f'{bare["bytes"] / 1e6 / seconds:.1f} MB/s, CPU {bare["cpu"]:.0f} %, '
                      f'peak {bare["memory_mb"]:.0f} MB; raw writer {raw:.0f} MB/s (load avg '
                      f'before {load:.1f})')
        details.append((cameras, 'bare sub', bare))
    profile = os.environ.get('FASTRTPS_DEFAULT_PROFILES_FILE', '')
    width, height, image_hz = FRAMES[kind]
    print(f'Fast DDS profile: {Path(profile).name if profile else "none (defaults)"}; '
          f'{duration:g} s per phase; {kind} frames: {width}x{height} rgb8 of '
          f'{rec["sent"][0]["image_bytes"]} bytes at {image_hz:g} Hz per camera, 1 kHz '
          f'telemetry; {os.cpu_count()} cores')
    print('| cameras | compression | offered MB/s | published | received | written | '
          'dropped (queue) | lost in transport | written MB/s | on disk MB | disk / written | '
          'recorder CPU % | recorder peak MB | load avg before |')
    print('|' + '---|' * 14)
    for row in rows:
        print(row)
    for line in floors:
        print(line)
    print(compression_cost(kind, compressions))
    for cameras, phase, figures in details:
        per_topic = figures['per_topic']
        print(f'{cameras} camera(s), {phase}, per topic: ' + ', '.join(
            f'{t} {c["received"]}/{c["written"]}/{c["dropped"]}' if isinstance(c, dict)
            else f'{t} {c}' for t, c in sorted(per_topic.items()))
            + (' (received/written/dropped)' if phase != 'bare sub' else ' (received)'))
    print(f'recorder logs: {work}')
    node.destroy_node()
    rclpy.shutdown()


def main() -> None:
    """Parse arguments; run the sweep, or one of its helper processes."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--cameras', default='1,2,4', help='sweep points, comma-separated')
    parser.add_argument('--duration', type=float, default=10.0, help='seconds per phase')
    parser.add_argument('--output-dir', default='',
                        help='where the recorder and the raw writer write (default: the temp '
                             'folder); /dev/shm takes the disk out of the figures')
    parser.add_argument('--compression', default='fast',
                        help='recorder compression values to run, comma-separated (none, fast, '
                             'small); default: the recorder\'s default, fast')
    parser.add_argument('--frames', choices=sorted(FRAMES), default='noise',
                        help='noise: 640x480 random pixels at 30 Hz; sim: the sim camera, '
                             '224x224 at 15 Hz')
    parser.add_argument('--publish', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--telemetry', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--subscribe', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish is not None:
        publish(args.publish, args.duration, args.telemetry, args.frames)
    elif args.subscribe:
        subscribe(json.loads(args.subscribe))
    else:
        run_sweep([int(n) for n in args.cameras.split(',')], args.duration, args.output_dir,
                  args.frames, args.compression.split(','))


if __name__ == '__main__':
    main()
