"""A noisy line and a faulty sensor: only intact frames with sane values reach the graph.

The bridge publishes only frames that are intact and values that are finite and in range; it
counts what it drops and keeps running.
"""
import math

from esp32_support import BridgeReports, start_emulator
from nanobot_ros.contract import SENSOR, SURFACE, TELEMETRY
from nanobot_ros.data.convert import telemetry_values
from nanobot_ros.nodes.common import qos_profile
from nanobot_ros.robots.esp32.emulator import channel_names, check_value
from nanobot_msgs.msg import SurfaceVector, Telemetry


def test_corrupt_frames_and_bad_values_never_reach_the_graph(ros, nodes, tmp_path):
    emulator = start_emulator(tmp_path, telemetry_rate=400.0, bit_error_rate=1e-3,
                              drop_byte_rate=1e-3, truncate_rate=0.02, burst_rate=0.02,
                              bad_value_rate=0.1, seed=3)
    telemetry, surface = [], []
    ros.node.create_subscription(Telemetry, TELEMETRY.fqn(), telemetry.append, qos_profile(SENSOR))
    ros.node.create_subscription(SurfaceVector, SURFACE.fqn(), surface.append, qos_profile(SENSOR))
    reports = BridgeReports(ros)
    bridge = nodes.start('esp32_bridge', params={'port': str(tmp_path / 'ttyESP32')})
    try:
        assert ros.spin_until(lambda: len(telemetry) >= 300 and len(surface) >= 5, timeout=30)
        for msg in telemetry:
            values = list(telemetry_values(msg).values())
            assert all(math.isfinite(v) and abs(v) <= 1e6 for v in values)
            # The check channels (the last four; named value_<i> until the device's DESCRIBE
            # frame gets through the noise) prove the frame is the one the device sent.
            assert values[12:] == [check_value(msg.sequence, k) for k in range(4)], msg.sequence
        assert ros.spin_until(lambda: list(telemetry[-1].names) == channel_names(16), 10)
        assert len({m.sequence for m in telemetry}) == len(telemetry)
        assert ros.spin_until(lambda: reports.get('crc_errors') > 0
                              and reports.get('rejected_values') > 0, timeout=5)
        assert reports.get('resyncs') > 0 and reports.get('frames_lost') > 0
        assert reports.get('handler_errors') == 0
        assert emulator.faults['bad_values'] > 0 and emulator.faults['bit_flips'] > 0
        assert nodes.stop(bridge) == 0
        assert 'dropped TELEMETRY frame' in nodes.output(bridge)
    finally:
        emulator.stop()
