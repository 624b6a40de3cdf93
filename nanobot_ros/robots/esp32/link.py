"""The host end of the ESP32 serial link: open without resetting the board, read, reconnect.

`SerialLink` owns one pyserial port and a reader thread. The port is opened so that DTR and
RTS end up released without passing through the combination that resets the board (on ESP32
dev boards those lines drive EN and GPIO0 through the auto-reset transistors; see
open_without_reset).
Received bytes go through a FrameDecoder; each valid frame is handed to `on_frame` in the reader
thread. When the port fails (unplugged: EIO, gone: ENOENT, the path now names another device)
the link closes it and retries with exponential backoff (`backoff_min` .. `backoff_max`), forever
and without a restart. No rclpy here: the bridge node wires this to topics.
"""
import errno
import logging
import os
import threading
import time
from typing import Callable, Optional

import serial

from nanobot_ros.robots.backoff import Backoff
from nanobot_ros.robots.esp32.protocol import Frame, FrameDecoder, FrameEncoder

LOG = logging.getLogger(__name__)
# How often the reader looks whether the port path now names another device (udev relinks).
PATH_CHECK_S = 0.5


def open_without_reset(port: str, baudrate: int, timeout: float,
                       write_timeout: float) -> serial.Serial:
    """Open `port` exclusively without ever putting an ESP32 into reset; SerialException if not.

    ESP32 boards wire DTR and RTS to EN and GPIO0 (esptool's table: RTS asserted with DTR
    released holds EN low = reset; DTR asserted with RTS released pulls GPIO0 low, harmless
    while EN is high). Linux asserts both lines when a tty is opened, and pyserial then applies
    DTR before RTS. Opening with dtr=False, rts=False would pass through (DTR released, RTS
    asserted) = a reset pulse; asking for DTR asserted, RTS released at open and releasing DTR
    right after goes (on, on) -> (on, off) -> (off, off) and never reaches the reset state.
    """
    link = serial.Serial()
    link.port = port
    link.baudrate = baudrate
    link.timeout = timeout
    link.write_timeout = write_timeout
    link.exclusive = True
    link.dtr = True  # applied while opening, before RTS: see above
    link.rts = False
    link.open()
    try:
        link.dtr = False
    except OSError as error:
        # A pty or a modem-less CDC device has no lines to set (pyserial's open ignores the
        # same two errors); anything else is a real failure.
        if error.errno not in (errno.EINVAL, errno.ENOTTY):
            link.close()
            raise serial.SerialException(error.errno, f'cannot release DTR: {error}')
    return link


class SerialLink:
    """A self-healing serial connection that decodes frames in a reader thread."""

    def __init__(self, port: str, baudrate: int, on_frame: Callable[[Frame], None],
                 log: Callable[[str, str], None] = None, backoff_min: float = 0.05,
                 backoff_max: float = 0.5, read_timeout: float = 0.05,
                 write_timeout: float = 0.1):
        self.port_name = port
        self.baudrate = baudrate
        self.on_frame = on_frame
        self.log = log or (lambda level, text: getattr(LOG, level)(text))
        self.backoff = Backoff(backoff_min, backoff_max)  # raises for impossible delays
        self.read_timeout, self.write_timeout = read_timeout, write_timeout
        self.decoder = FrameDecoder()
        self.encoder = FrameEncoder()
        self.connects = 0
        self.disconnects = 0
        self.open_failures = 0
        self.write_errors = 0
        self.frames_sent = 0
        self.frames_unsent = 0
        self.handler_errors = 0
        self.last_error = ''
        self.connected_since: Optional[float] = None
        self._port: Optional[serial.Serial] = None
        self._device: Optional[str] = None
        self._broken = False
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @property
    def connected(self) -> bool:
        return self._port is not None and not self._broken

    @property
    def reconnects(self) -> int:
        """Connections made after the first one."""
        return max(0, self.connects - 1)

    def start(self) -> 'SerialLink':
        self._thread = threading.Thread(target=self._run, name='esp32-link', daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the reader thread and close the port."""
        self._stop.set()
        port = self._port
        if port is not None:
            try:
                port.cancel_read()
            except (OSError, serial.SerialException):
                pass
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._close()

    def send(self, frame_type: int, payload: bytes) -> bool:
        """Send one frame; False (counted) if the port is down or the write failed."""
        with self._write_lock:
            port = self._port
            if port is None or self._broken:
                self.frames_unsent += 1
                return False
            wire = self.encoder.encode(frame_type, payload)
            try:
                port.write(wire)
            except serial.SerialTimeoutException:
                self.write_errors += 1
                self.frames_unsent += 1
                self.last_error = 'write timed out (device not reading?)'
                return False
            except (serial.SerialException, OSError) as error:
                self.write_errors += 1
                self.frames_unsent += 1
                self.last_error = f'write failed: {error}'
                self._broken = True  # the reader thread closes and reopens
                return False
            self.frames_sent += 1
            return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._port is None:
                    if self._open():
                        self.backoff.reset()
                    else:
                        self._stop.wait(self.backoff.next_delay())
                    continue
                self._read_once()
            except Exception as error:  # noqa: BLE001 - the link must outlive any bug
                self.handler_errors += 1
                self.last_error = f'link error: {error!r}'
                self.log('error', f'serial link error: {error!r}; reopening the port')
                self._close()
                self._stop.wait(self.backoff.maximum)

    def _open(self) -> bool:
        try:
            port = open_without_reset(self.port_name, self.baudrate, self.read_timeout,
                                      self.write_timeout)
        except (serial.SerialException, OSError, ValueError) as error:
            if self.open_failures == 0 or self.connected_since is not None:
                self.log('warning', f'cannot open {self.port_name}: {error}; retrying with '
                                    f'backoff up to {self.backoff.maximum} s')
            self.open_failures += 1
            self.last_error = f'open failed: {error}'
            self.connected_since = None
            return False
        self.decoder.reset()
        with self._write_lock:
            self._port, self._broken = port, False
        self._device = os.path.realpath(self.port_name)
        self._next_path_check = time.monotonic() + PATH_CHECK_S
        self.connects += 1
        self.connected_since = time.monotonic()
        self.log('info', f'connected to {self.port_name} ({self._device}) at {self.baudrate} '
                         f'baud' + (f' (reconnect {self.reconnects})' if self.reconnects else ''))
        return True

    def _read_once(self) -> None:
        port = self._port
        try:
            if self._broken:
                raise serial.SerialException(self.last_error)
            data = port.read(max(1, port.in_waiting))
            if time.monotonic() >= self._next_path_check:
                self._next_path_check = time.monotonic() + PATH_CHECK_S
                if os.path.realpath(self.port_name) != self._device:
                    raise serial.SerialException(f'{self.port_name} now names another device')
        except (serial.SerialException, OSError, TypeError) as error:
            # TypeError: pyserial's in_waiting on a port closed under it.
            if self._stop.is_set():
                return
            self.last_error = f'port lost: {error}'
            self.log('warning', f'{self.port_name} lost ({error}); reconnecting')
            self.disconnects += 1
            self._close()
            return
        if not data:
            return
        for frame in self.decoder.feed(data):
            try:
                self.on_frame(frame)
            except Exception as error:  # noqa: BLE001 - a handler bug must not kill the link
                self.handler_errors += 1
                self.log('error', f'frame handler failed: {error!r}')

    def _close(self) -> None:
        with self._write_lock:
            port, self._port, self._broken = self._port, None, False
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass
