"""Unplugging and replugging the emulated board 20 times: the bridge reconnects each time.

Within 2 s of every replug, without a restart, and it keeps publishing.
"""
import time

from esp32_support import BridgeReports, start_emulator
from nanobot_ros.contract import SENSOR, TELEMETRY
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Telemetry

CYCLES = 20
RECONNECT_S = 2.0


def test_bridge_reconnects_after_every_replug(ros, nodes, tmp_path):
    emulator = start_emulator(tmp_path, telemetry_rate=100.0)
    telemetry = []
    ros.node.create_subscription(Telemetry, TELEMETRY.fqn(), telemetry.append, qos_profile(SENSOR))
    reports = BridgeReports(ros)
    bridge = nodes.start('esp32_bridge', params={'port': str(tmp_path / 'ttyESP32')})
    try:
        assert ros.spin_until(lambda: len(telemetry) >= 10, timeout=20)
        reconnect_times = []
        for cycle in range(CYCLES):
            emulator.unplug()
            ros.spin_for(0.15 + 0.02 * (cycle % 5))  # vary where the backoff stands
            count = len(telemetry)
            emulator.plug()
            plugged = time.monotonic()
            assert ros.spin_until(lambda: len(telemetry) > count, timeout=RECONNECT_S), \
                f'cycle {cycle}: no telemetry {RECONNECT_S} s after replugging'
            reconnect_times.append(time.monotonic() - plugged)
        # Still publishing after the last replug.
        count = len(telemetry)
        ros.spin_for(0.5)
        assert len(telemetry) - count >= 20
        assert ros.spin_until(lambda: reports.get('reconnects') == CYCLES, timeout=5), \
            reports.latest
        assert reports.get('frames_bad') == 0
        print(f'reconnect after replug: max {max(reconnect_times):.3f} s, '
              f'mean {sum(reconnect_times) / CYCLES:.3f} s')
        assert nodes.stop(bridge) == 0
        assert nodes.output(bridge).count('lost') >= CYCLES
    finally:
        emulator.stop()
