"""Camera node throughput (`./run.sh python bench/camera_rate.py`).

Plays a 640x480 MJPG file through the camera node as fast as it goes (frame_rate 1000, loop)
and as the JetBot's camera delivers it (30 fps), cropped and resized to 224x224 rgb8, and prints
for each: frames/s received by a subscriber in another process, the node's own measured rate
(/diagnostics `fps`), capture -> subscriber latency, and the camera process's CPU share.
"""
import os
from pathlib import Path
import signal
import statistics
import subprocess
import tempfile
import time

import cv2
from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import Image

from nanobot_ros.contract import DIAGNOSTICS, IMAGE, SENSOR, STATUS
from nanobot_ros.data.convert import stamp_to_seconds
from nanobot_ros.nodes.common import qos_profile
from nanobot_ros.stack import node_executable

SECONDS = 8.0


def write_clip(path: Path, frames: int = 90) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 30.0, (640, 480))
    rng = np.random.default_rng(0)
    for i in range(frames):
        frame = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (9, 9), 3)
        cv2.circle(frame, (20 + 6 * i, 240), 30, (255, 255, 255), -1)
        writer.write(frame)
    writer.release()


def cpu_seconds(pid: int) -> float:
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def measure(executor, node, clip: Path, frame_rate: float) -> str:
    received, latencies, fps = [], [], []

    def on_image(msg):
        received.append(time.monotonic())
        latencies.append(time.time() - stamp_to_seconds(msg.header.stamp))

    def on_diagnostics(msg):
        for status in msg.status:
            if status.hardware_id == 'camera':
                fps.extend(float(kv.value) for kv in status.values if kv.key == 'fps')

    subscriptions = [node.create_subscription(Image, IMAGE.fqn(), on_image, qos_profile(SENSOR)),
                     node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(), on_diagnostics,
                                              qos_profile(STATUS))]
    camera = subprocess.Popen([node_executable('camera'), '--ros-args', '-p',
                               f'source:={clip}', '-p', 'loop:=true', '-p',
                               f'frame_rate:={frame_rate}'],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while len(received) < 10:
        executor.spin_once(timeout_sec=0.05)
    received.clear(), latencies.clear(), fps.clear()
    cpu0, t0 = cpu_seconds(camera.pid), time.monotonic()
    while time.monotonic() - t0 < SECONDS:
        executor.spin_once(timeout_sec=0.05)
    cpu = (cpu_seconds(camera.pid) - cpu0) / (time.monotonic() - t0)
    camera.send_signal(signal.SIGINT)
    camera.wait(10)
    for subscription in subscriptions:
        node.destroy_subscription(subscription)
    rate = (len(received) - 1) / (received[-1] - received[0])
    return (f'camera 640x480 MJPG -> 224x224 rgb8, frame_rate {frame_rate:g}: {rate:.1f} '
            f'frames/s received, node reports {statistics.median(fps):.1f} fps, capture -> '
            f'subscriber latency median {statistics.median(latencies) * 1e3:.1f} ms, camera '
            f'process CPU {cpu * 100:.0f}% of one core')


def main():
    os.environ.setdefault('ROS_DOMAIN_ID', '202')
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / 'clip.avi'
        write_clip(clip)
        rclpy.init()
        node = rclpy.create_node('bench_camera_rate')
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        try:
            lines = [measure(executor, node, clip, rate) for rate in (1000.0, 30.0)]
        finally:
            node.destroy_node()
            rclpy.shutdown()
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
