"""The serial link on a real pty: frames both ways, the device watchdog, reconnects (no ROS)."""
import threading

from esp32_support import start_emulator, wait_for
from nanobot_ros.robots.esp32 import protocol as proto
from nanobot_ros.robots.esp32.link import SerialLink


def test_link_talks_to_the_emulator_and_survives_unplugging(tmp_path):
    emulator = start_emulator(tmp_path, telemetry_rate=200.0, watchdog_ms=150)
    received, lock = [], threading.Lock()

    def on_frame(frame):
        with lock:
            received.append(frame)
    link = SerialLink(str(tmp_path / 'ttyESP32'), 921600, on_frame).start()
    try:
        assert wait_for(lambda: sum(f.type == proto.FrameType.TELEMETRY for f in received) > 20,
                        timeout=5)
        # The port ends up with DTR and RTS released (no board reset, no bootloader strap).
        assert link._port.dtr is False and link._port.rts is False
        # A motor command reaches the device; silence stops it by its own watchdog.
        assert link.send(proto.FrameType.MOTOR, proto.pack_motor([0.5, -0.25]))
        assert wait_for(lambda: emulator.motors == [0.5, -0.25], timeout=2)
        assert wait_for(lambda: emulator.motors == [0.0, 0.0], timeout=0.15 + 0.2)
        assert emulator.watchdog_stopped and emulator.watchdog_trips == 1
        # Unplugged: the link notices and reconnects once the device is back.
        for cycle in range(3):
            emulator.unplug()
            assert wait_for(lambda: not link.connected, timeout=2)
            assert not link.send(proto.FrameType.MOTOR, proto.pack_motor([0.1, 0.1]))
            emulator.plug()
            count = len(received)
            assert wait_for(lambda: link.connected and len(received) > count + 5, timeout=2)
        assert link.reconnects == 3 and link.disconnects == 3
        assert link.decoder.stats.frames_bad == 0
    finally:
        link.stop()
        emulator.stop()


def test_opening_the_port_never_signals_a_reset(tmp_path, monkeypatch):
    """DTR/RTS as the board sees them while the port opens: never RTS on with DTR off."""
    import serial as pyserial
    from nanobot_ros.robots.esp32 import link as esp32_link
    states = []

    class RecordingSerial(pyserial.Serial):
        # A real pyserial port on the emulator's pty. A pty has no modem lines (the ioctl
        # fails and pyserial stops applying them), so the line changes pyserial would make on
        # a UART are recorded, in order, instead of applied.
        def _update_dtr_state(self):
            states.append(('dtr', self._dtr_state))

        def _update_rts_state(self):
            states.append(('rts', self._rts_state))

    emulator = start_emulator(tmp_path)
    monkeypatch.setattr(esp32_link.serial, 'Serial', RecordingSerial)
    try:
        port = esp32_link.open_without_reset(str(tmp_path / 'ttyESP32'), 115200, 0.1, 0.1)
        port.close()
    finally:
        emulator.stop()
    dtr, rts = True, True  # what Linux asserts when a tty is opened
    for line, value in states:
        dtr, rts = (value, rts) if line == 'dtr' else (dtr, value)
        assert not (rts and not dtr), f'reset state reached: {states}'
    assert (dtr, rts) == (False, False), states
