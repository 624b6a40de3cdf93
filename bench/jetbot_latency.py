"""JetBot driver timings against the emulated robot (`./run.sh python bench/jetbot_latency.py`).

Real processes: the jetbot node, the JetBot-side RPyC server with emulated motors (which
records every value it receives with its time), and a publisher node, over DDS on this host.
Prints, as median / 95th percentile over the trials:

- action -> motors: from publishing an Action until the robot receives its first non-zero value
  (DDS, the node's 50 Hz control tick, one RPyC call);
- stale stop: from the last action of a stream (each asking for 2 s) until the robot reads 0
  (the design figure is the watchdog's action_timeout, 0.5 s: hold, then a 60 ms ramp down);
- host killed -> stop: from SIGKILL of the jetbot node while driving until the robot reads 0.
"""
import argparse
import json
import os
from pathlib import Path
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor

from nanobot_ros.contract import ACTION, COMMAND
from nanobot_ros.data.convert import make_action
from nanobot_ros.nodes.common import qos_profile
from nanobot_ros.stack import node_executable
from nanobot_msgs.msg import Action

TIMEOUT_S = 0.5


class Robot:
    """The emulated JetBot server and its record."""

    def __init__(self, folder: Path):
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            self.port = sock.getsockname()[1]
        self.record = folder / 'motors.jsonl'
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'nanobot_ros.robots.jetbot.server', '--emulate', '--host',
             '127.0.0.1', '--port', str(self.port), '--record', str(self.record)],
            stderr=subprocess.PIPE, text=True)
        while 'listening on' not in self.process.stderr.readline():
            pass

    def rows(self):
        text = self.record.read_text() if self.record.exists() else ''
        return [json.loads(line) for line in text.splitlines() if line]

    def wait(self, predicate, since, timeout=5.0):
        """Return the first row recorded at or after `since` for which predicate(row) holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for row in self.rows():
                if row['t'] >= since and predicate(row):
                    return row
            time.sleep(0.002)
        raise TimeoutError('the robot never received the expected value')


def quantiles(samples):
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--trials', type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault('ROS_DOMAIN_ID', '202')
    folder = Path(tempfile.mkdtemp(prefix='jetbot_latency_'))
    robot = Robot(folder)
    rclpy.init()
    node = rclpy.create_node('bench_jetbot_latency')
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    pub = node.create_publisher(Action, ACTION.fqn(), qos_profile(COMMAND))

    def start_jetbot():
        return subprocess.Popen([node_executable('jetbot'), '--ros-args', '-p',
                                 f'port:={robot.port}', '-p', f'action_timeout:={TIMEOUT_S}'],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def spin(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.005)

    def drive(seconds, value=0.2):
        """Stream 'drive for 2 s' actions until the motors run, then `seconds` more."""
        since, end = time.time(), None
        while end is None or time.monotonic() < end:
            pub.publish(make_action(-1, ['motor_right'], [value], duration=2.0, source='bench'))
            sent = time.time()
            spin(0.05)
            if end is None and any(r['t'] >= since and r['right'] > 0 for r in robot.rows()):
                end = time.monotonic() + seconds
        return sent

    jetbot = start_jetbot()
    while pub.get_subscription_count() == 0 or not robot.rows():
        spin(0.1)
    spin(0.5)
    to_motors, stale_stop, kill_stop = [], [], []
    try:
        for _ in range(args.trials):
            sent = time.time()
            pub.publish(make_action(-1, ['motor_right'], [0.2], duration=0.1, source='bench'))
            row = robot.wait(lambda r: r['right'] > 0, sent)
            to_motors.append(row['t'] - sent)
            robot.wait(lambda r: r['right'] == 0, row['t'])
            spin(0.05)
        for _ in range(max(3, args.trials // 5)):
            last = drive(0.4)
            stale_stop.append(robot.wait(lambda r: r['right'] == 0, last)['t'] - last)
        for _ in range(3):
            drive(0.3)
            killed = time.time()
            jetbot.kill()
            jetbot.wait()
            kill_stop.append(robot.wait(lambda r: r['right'] == 0, killed)['t'] - killed)
            restarted = time.time()
            jetbot = start_jetbot()
            robot.wait(lambda r: True, restarted, timeout=15)  # connecting commands 0 first
            spin(0.3)
    finally:
        jetbot.send_signal(signal.SIGINT)
        jetbot.wait(10)
        robot.process.send_signal(signal.SIGINT)
        robot.process.wait(10)
        node.destroy_node()
        rclpy.shutdown()
    for label, samples in (('action -> motors', to_motors),
                           (f'stale stop (action_timeout {TIMEOUT_S} s)',
                            stale_stop),
                           ('host killed -> motors 0', kill_stop)):
        median, p95 = quantiles(samples)
        print(f'jetbot {label}: median {median * 1e3:.1f} ms, p95 {p95 * 1e3:.1f} ms '
              f'({len(samples)} trials)')


if __name__ == '__main__':
    main()
