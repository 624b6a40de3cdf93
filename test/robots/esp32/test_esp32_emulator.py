"""The emulated board itself: motor contract, watchdog, fault injection, pty plugging."""
import os
from pathlib import Path

import pytest

from esp32_support import start_emulator, wait_for
from nanobot_ros.robots.esp32 import protocol as proto
from nanobot_ros.robots.esp32.emulator import channel_names, EmulatorConfig


def open_host_end(link):
    """Open the pty the link names, raw, as a host would (no pyserial needed for this)."""
    fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
    return fd


def read_frames(fd, decoder, count, timeout=3.0):
    frames = []

    def enough():
        frames.extend(decoder.feed(os.read(fd, 65536)))
        return len(frames) >= count
    assert wait_for(enough, timeout)
    return frames


def test_motor_frames_follow_the_firmware_contract(tmp_path):
    emulator = start_emulator(tmp_path, telemetry_rate=100.0, watchdog_ms=100)
    fd = open_host_end(tmp_path / 'ttyESP32')
    encoder = proto.FrameEncoder()
    try:
        os.write(fd, encoder.encode(proto.FrameType.MOTOR, proto.pack_motor([2.0, -0.5])))
        assert wait_for(lambda: emulator.motors == [1.0, -0.5], 2)  # clamped to -1 .. 1
        os.write(fd, encoder.encode(proto.FrameType.MOTOR, proto.pack_motor([float('nan'), 0])))
        assert wait_for(lambda: emulator.motor_rejected == 1, 2)
        assert emulator.motors == [0.0, 0.0]  # nonsense stops the motors
        os.write(fd, encoder.encode(proto.FrameType.MOTOR, proto.pack_motor([0.5, 0.5])))
        assert wait_for(lambda: emulator.motors == [0.5, 0.5], 2)
        assert wait_for(lambda: emulator.watchdog_stopped, 0.1 + 0.2)
        assert emulator.motors == [0.0, 0.0]
        # The device reports its watchdog in its heartbeats, and describes itself on request.
        os.write(fd, encoder.encode(proto.FrameType.DESCRIBE, proto.pack_describe([])))
        frames = read_frames(fd, proto.FrameDecoder(), 30)
        described = [proto.unpack_describe(f.payload) for f in frames
                     if f.type == proto.FrameType.DESCRIBE]
        assert described[-1] == channel_names(16) and emulator.describe_requests == 1
        flags = [proto.unpack_heartbeat(f.payload)[3] for f in frames
                 if f.type == proto.FrameType.HEARTBEAT]
        assert flags and flags[-1] & proto.HEARTBEAT_WATCHDOG_STOPPED
    finally:
        os.close(fd)
        emulator.stop()


def test_faults_are_injected_and_counted(tmp_path):
    emulator = start_emulator(tmp_path, telemetry_rate=500.0, bit_error_rate=1e-3,
                              truncate_rate=0.05, burst_rate=0.05, drop_byte_rate=1e-3,
                              bad_value_rate=0.2)
    fd = open_host_end(tmp_path / 'ttyESP32')
    decoder = proto.FrameDecoder()
    try:
        read_frames(fd, decoder, 200)
        assert decoder.stats.frames_bad > 0 and emulator.frames_damaged > 0
        for kind in ('bit_flips', 'truncated_frames', 'bursts', 'dropped_bytes', 'bad_values'):
            assert emulator.faults[kind] > 0, kind
    finally:
        os.close(fd)
        emulator.stop()


def test_unplug_removes_the_link_and_plug_makes_a_new_pty(tmp_path):
    emulator = start_emulator(tmp_path)
    link = Path(tmp_path / 'ttyESP32')
    first = os.path.realpath(link)
    emulator.unplug()
    assert not link.exists() and not emulator.plugged
    emulator.plug()
    assert link.exists() and emulator.plugs == 2
    emulator.stop()
    assert first.startswith('/dev/pts/')


def test_config_is_validated():
    assert channel_names(14)[-2:] == ['check_0', 'check_1']
    with pytest.raises(ValueError):
        channel_names(3)
    with pytest.raises(ValueError):
        EmulatorConfig(bit_error_rate=2.0)
    with pytest.raises(ValueError):
        EmulatorConfig(surface_size=0)
    with pytest.raises(ValueError):
        EmulatorConfig(watchdog_ms=0)
