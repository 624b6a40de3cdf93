"""Helpers of the ESP32 tests: an emulated device on a pty, the bridge's diagnostics."""
import time

from diagnostic_msgs.msg import DiagnosticArray

from nanobot_ros.contract import DIAGNOSTICS, STATUS
from nanobot_ros.nodes.common import qos_profile
from nanobot_ros.robots.esp32.emulator import EmulatorConfig, Esp32Emulator
from nanobot_ros.stack import _parse_value as parse_value


def start_emulator(tmp_path, **config) -> Esp32Emulator:
    """Start an emulated device whose pty is reached through tmp_path/ttyESP32."""
    return Esp32Emulator(EmulatorConfig(link=str(tmp_path / 'ttyESP32'), **config)).start()


def wait_for(predicate, timeout: float, poll: float = 0.005) -> bool:
    """Poll predicate() until it is true or `timeout` seconds passed; return the last answer."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(poll)
    return predicate()


class BridgeReports:
    """Collects esp32_bridge's /diagnostics values (parsed) from a subscription."""

    def __init__(self, ros):
        self.latest = {}
        self.levels = []
        ros.node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(), self._on_report,
                                     qos_profile(STATUS))

    def _on_report(self, msg):
        for status in msg.status:
            if status.hardware_id == 'esp32_bridge':
                self.latest = {kv.key: parse_value(kv.value) for kv in status.values}
                self.levels.append((status.level, status.message))

    def get(self, key, default=0):
        return self.latest.get(key, default)


def motors_are(emulator: Esp32Emulator, expected) -> bool:
    """Return whether the emulated motors hold `expected` (as the float32 the wire carries)."""
    return all(abs(m - e) < 1e-6 for m, e in zip(emulator.motors, expected))
