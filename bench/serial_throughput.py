"""Sustained telemetry rate esp32_bridge handles from the emulator with zero loss, and its CPU.

    ./run.sh python bench/serial_throughput.py [--rates 500 1000 2000 4000] [--seconds 4]

For each rate an emulated board (a real pty, in this process) streams TELEMETRY frames of
`--floats` float32 values; one esp32_bridge process (the installed node) decodes them and
publishes Telemetry + JointState + Imu for each. Per rate it prints what the device really sent
per second (under load the emulator, in this process, skips rather than bursts when it falls
behind), what the bridge published per second, the frames lost on the way (sequence gaps seen
by the bridge + bytes the device could not send because the bridge did not read), corrupt
frames, how many a subscriber in this process got, and the bridge process's CPU share (% of one
core, from /proc). The last line names the highest rate with zero loss. Uses ROS_DOMAIN_ID
from the environment (set your own).
"""
import argparse
import os
from pathlib import Path
import subprocess
import tempfile
import time

from diagnostic_msgs.msg import DiagnosticArray
import rclpy
from rclpy.executors import SingleThreadedExecutor

from nanobot_ros.contract import DIAGNOSTICS, SENSOR, STATUS, TELEMETRY
from nanobot_ros.data.convert import stamp_to_seconds
from nanobot_ros.nodes.common import qos_profile
from nanobot_ros.robots.esp32.emulator import channel_names, EmulatorConfig, Esp32Emulator
from nanobot_ros.stack import _parse_value as parse_value, node_executable
from nanobot_msgs.msg import Telemetry

CLOCK_TICKS = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds of process `pid`."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Probe:
    """Subscribes to the bridge's telemetry and /diagnostics."""

    def __init__(self):
        self.node = rclpy.create_node('serial_throughput_bench')
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.received = 0
        self.report = {}
        self.report_time = None
        self.node.create_subscription(Telemetry, TELEMETRY.fqn(), self._on_telemetry,
                                      qos_profile(SENSOR))
        self.node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(), self._on_diagnostics,
                                      qos_profile(STATUS))

    def _on_telemetry(self, msg):
        self.received += 1

    def _on_diagnostics(self, msg):
        for status in msg.status:
            if status.hardware_id == 'esp32_bridge':
                self.report = {kv.key: parse_value(kv.value) for kv in status.values}
                # The bridge's own clock at the moment it sampled its counters.
                self.report_time = stamp_to_seconds(msg.header.stamp)

    def spin(self, seconds: float, until=None) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if until is not None and until():
                return True
            self.executor.spin_once(timeout_sec=0.01)
        return until is None or until()

    def next_report(self, timeout: float = 3.0) -> dict:
        """Wait for a fresh /diagnostics report; return (time, values)."""
        seen = self.report_time
        if not self.spin(timeout, lambda: self.report_time != seen):
            raise RuntimeError('esp32_bridge sent no /diagnostics report')
        return self.report_time, dict(self.report)


def measure(probe, bridge, link, rate, floats, seconds):
    """Stream at `rate` Hz for `seconds` after a warm-up; return the figures of the window."""
    emulator = Esp32Emulator(EmulatorConfig(link=link, telemetry_rate=rate,
                                            telemetry_size=floats, surface_rate=10.0)).start()
    try:
        if not probe.spin(10.0, lambda: probe.report.get('connected')
                          and probe.report.get('device_silent_s') is not None
                          and probe.report['device_silent_s'] < 0.2):
            raise RuntimeError(f'bridge did not connect to {link}')
        probe.spin(1.0)  # warm-up
        t0, before = probe.next_report()
        cpu0, received0, overflow0 = cpu_seconds(bridge.pid), probe.received, \
            emulator.tx_overflow_bytes
        sent0 = emulator.frames_sent['telemetry']
        probe.spin(seconds)
        t1, after = probe.next_report()
        cpu1 = cpu_seconds(bridge.pid)
        sent1 = emulator.frames_sent['telemetry']
        wall = t1 - t0
        published = after['telemetry_published'] - before['telemetry_published']
        return {
            'rate': rate,
            'sent_per_s': (sent1 - sent0) / wall,
            'published_per_s': published / wall,
            'frames_lost': after['frames_lost'] - before['frames_lost'],
            'device_overflow_bytes': emulator.tx_overflow_bytes - overflow0,
            'frames_bad': after['frames_bad'] - before['frames_bad'],
            'subscriber_per_s': (probe.received - received0) / wall,
            'cpu_percent': 100.0 * (cpu1 - cpu0) / wall,
        }
    finally:
        emulator.stop()


def main(argv=None):
    """Run the bench and print one line per rate, then the highest zero-loss rate."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rates', type=float, nargs='+', default=[500, 1000, 2000, 4000])
    parser.add_argument('--seconds', type=float, default=4.0, help='measured window per rate')
    parser.add_argument('--floats', type=int, default=32, help='float32 values per frame')
    args = parser.parse_args(argv)
    link = str(Path(tempfile.mkdtemp(prefix='nanobot_bench_')) / 'ttyESP32')
    names = channel_names(args.floats)
    rclpy.init()
    probe = Probe()
    bridge = subprocess.Popen(
        [node_executable('esp32_bridge'), '--ros-args', '-p', f'port:={link}',
         '-p', f'telemetry_names:=[{",".join(names)}]'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = []
    try:
        print(f'esp32_bridge <- emulator over a pty, TELEMETRY of {args.floats} float32 '
              f'({args.floats * 4 + 4} B payload), each published as Telemetry + JointState + '
              f'Imu; {args.seconds:g} s per rate')
        for rate in args.rates:
            r = measure(probe, bridge, link, rate, args.floats, args.seconds)
            results.append(r)
            lost = r['frames_lost'] + r['frames_bad'] + r['device_overflow_bytes']
            print(f'rate {rate:6.0f} Hz: device sent {r["sent_per_s"]:7.1f}/s, bridge published '
                  f'{r["published_per_s"]:7.1f} frames/s, '
                  f'lost {r["frames_lost"]}, corrupt {r["frames_bad"]}, device overflow '
                  f'{r["device_overflow_bytes"]} B, subscriber got {r["subscriber_per_s"]:7.1f}'
                  f'/s, bridge CPU {r["cpu_percent"]:5.1f} % of a core'
                  f'{"" if lost else "  (zero loss)"}', flush=True)
    finally:
        bridge.terminate()
        bridge.wait(10)
        probe.node.destroy_node()
        rclpy.shutdown()
    clean = [r for r in results if not (r['frames_lost'] or r['frames_bad']
                                        or r['device_overflow_bytes'])]
    if clean:
        best = max(clean, key=lambda r: r['sent_per_s'])
        print(f'sustained zero-loss telemetry rate: {best["sent_per_s"]:.0f} frames/s of '
              f'{args.floats} floats at {best["cpu_percent"]:.1f} % of a core (goal >= 1000)')
    else:
        print('no rate ran without loss')


if __name__ == '__main__':
    main()
