"""SIGKILL of the bridge: the emulated device stops its motors by its own heartbeat timeout."""
import signal
import time

from esp32_support import motors_are, start_emulator, wait_for
from nanobot_ros.contract import ACTION, COMMAND
from nanobot_ros.data.convert import make_action
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Action

WATCHDOG_MS = 200


def test_killed_bridge_leaves_the_device_to_stop_itself(ros, nodes, tmp_path):
    emulator = start_emulator(tmp_path, telemetry_rate=50.0, watchdog_ms=WATCHDOG_MS)
    actions = ros.node.create_publisher(Action, ACTION.fqn(), qos_profile(COMMAND))
    bridge = nodes.start('esp32_bridge', params={'port': str(tmp_path / 'ttyESP32'),
                                                 'action_timeout': 5.0})
    try:
        def drive():
            actions.publish(make_action(names=['motor_left', 'motor_right'],
                                        values=[0.6, 0.6], source='pytest'))
            return motors_are(emulator, [0.6, 0.6])
        assert ros.spin_until(drive, timeout=20)
        ros.spin_for(0.3)
        assert drive()

        bridge.send_signal(signal.SIGKILL)
        bridge.wait(5)
        killed = time.monotonic()
        assert wait_for(lambda: emulator.motors == [0.0, 0.0], timeout=2)
        stopped_after = time.monotonic() - killed
        # Within the device's own timeout (plus its 5 ms loop and a loaded machine's scheduling).
        assert stopped_after <= WATCHDOG_MS / 1000 + 0.15, stopped_after
        assert emulator.watchdog_stopped and emulator.watchdog_trips == 1
    finally:
        emulator.stop()
