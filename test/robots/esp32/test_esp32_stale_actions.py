"""Actions that stop coming, or make no sense, leave the emulated motors at zero."""
import math
import time

from esp32_support import BridgeReports, motors_are, start_emulator
from nanobot_ros.contract import ACTION, COMMAND
from nanobot_ros.data.convert import make_action
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Action

MOTORS = ['motor_left', 'motor_right']
ACTION_TIMEOUT = 0.5  # the bridge's default
SLACK_S = 0.2


def test_stale_and_bad_actions_stop_the_motors(ros, nodes, tmp_path):
    emulator = start_emulator(tmp_path, telemetry_rate=50.0)
    reports = BridgeReports(ros)
    actions = ros.node.create_publisher(Action, ACTION.fqn(), qos_profile(COMMAND))
    bridge = nodes.start('esp32_bridge', params={'port': str(tmp_path / 'ttyESP32')})
    try:
        def send(values):
            actions.publish(make_action(names=MOTORS, values=values, source='pytest'))
            return time.monotonic()

        def drive_until(values, expected, timeout=10):
            return ros.spin_until(lambda: send(values) and motors_are(emulator, expected),
                                  timeout=timeout)
        assert drive_until([0.4, 0.4], [0.4, 0.4], timeout=20)
        ros.spin_for(0.3)

        # The host stops sending: motors read zero within the action timeout, stopped by the
        # bridge (the device's own watchdog never fires: heartbeats keep coming).
        last = send([0.4, 0.4])
        ros.spin_for(0.05)
        assert ros.spin_until(lambda: emulator.motors == [0.0, 0.0], timeout=2)
        stopped_after = time.monotonic() - last
        # Measured from our publish, so DDS delivery, one heartbeat period (0.05 s) and a loaded
        # CI machine's scheduling come on top of the timeout.
        assert 0.3 < stopped_after <= ACTION_TIMEOUT + SLACK_S, stopped_after
        assert emulator.watchdog_trips == 0

        # Out of range: clamped to the limit (1.0) and counted.
        assert drive_until([5.0, -7.0], [1.0, -1.0])
        # Not finite: rejected, counted, and the motors stop at once.
        send([math.nan, 0.3])
        assert ros.spin_until(lambda: emulator.motors == [0.0, 0.0], timeout=0.3)
        assert drive_until([0.2, 0.2], [0.2, 0.2])
        send([0.2, math.inf])
        assert ros.spin_until(lambda: emulator.motors == [0.0, 0.0], timeout=0.3)
        # A 5 s action holds only action_timeout: cut, counted and logged.
        assert drive_until([0.2, 0.2], [0.2, 0.2])
        actions.publish(make_action(names=MOTORS, values=[0.3, 0.3], duration=5.0,
                                    source='pytest'))
        assert ros.spin_until(lambda: motors_are(emulator, [0.3, 0.3]), timeout=2)
        assert ros.spin_until(lambda: emulator.motors == [0.0, 0.0],
                              timeout=ACTION_TIMEOUT + SLACK_S)
        assert ros.spin_until(lambda: reports.get('actions_rejected') >= 2
                              and reports.get('actions_clamped') >= 2
                              and reports.get('actions_shortened') == 1, timeout=5)
        assert emulator.motor_rejected == 0  # nothing non-finite ever reached the device
        assert nodes.stop(bridge) == 0
        log = nodes.output(bridge)
        assert 'rejected action from' in log and 'non-finite command' in log
        assert 'no fresh action: motors commanded to zero' in log
        assert 'duration 5 s cut to action_timeout 0.5 s' in log
    finally:
        emulator.stop()
