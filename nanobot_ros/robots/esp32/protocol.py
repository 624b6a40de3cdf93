"""The nanobot ESP32 serial protocol, version 1: frame layout, CRC-32, COBS framing, decoder.

No rclpy here: the bridge node, the device emulator, the benches and the tests share this code,
and `firmware/nanobot_esp32_protocol.h` is its C twin (both checked against
`firmware/test_vectors.txt`).

Wire format. Every frame is COBS-encoded and followed by one 0x00 delimiter, so a receiver that
joins mid-stream or meets garbage resynchronises at the next 0x00. Decoded, a frame is
(all integers little-endian, floats IEEE-754 binary32 little-endian):

    offset  size  field
    0       1     version       PROTOCOL_VERSION (1); other versions are rejected
    1       1     type          FrameType
    2       4     sequence      u32, per sender, +1 per frame of any type (gaps = lost frames)
    6       2     length        payload bytes, at most MAX_PAYLOAD
    8       n     payload
    8+n     4     crc           CRC-32 (IEEE 802.3, as zlib.crc32) of bytes 0 .. 8+n-1

CRC-32 rather than CRC-16: at a bit-error rate of 1e-2 nearly every frame is hit, and a 16-bit
check would let about one in 65536 of them through (one per ~10^5 frames); 32 bits make that
~2e-10, and the length field and version byte must also agree.

Payloads:
    TELEMETRY  (device -> host)  u32 device_ms, then float32 x k  (k channels, in the order the
                                 device documents: the bridge's `telemetry_names`)
    SURFACE    (device -> host)  u32 device_ms, then float32 x k  (the surface vector)
    MOTOR      (host -> device)  float32 x m  (motor commands, -1 .. 1, in `motor_names` order)
    HEARTBEAT  (both ways)       u32 sender_ms, u32 frames_ok, u32 frames_bad, u8 flags
                                 (device flags: HEARTBEAT_WATCHDOG_STOPPED, HEARTBEAT_MOTORS_ON)
    DESCRIBE   (device -> host)  the TELEMETRY channel names, UTF-8, newline-separated; sent at
                                 boot and in answer to an empty DESCRIBE from the host
"""
from dataclasses import dataclass, field
import enum
import math
import struct
from typing import List, Optional, Sequence, Tuple
import zlib

import numpy as np

PROTOCOL_VERSION = 1
HEADER = struct.Struct('<BBIH')
CRC = struct.Struct('<I')
MAX_PAYLOAD = 1024
MAX_FRAME = HEADER.size + MAX_PAYLOAD + CRC.size
# COBS adds one byte per 254 and one at the start; the delimiter is not counted.
MAX_ENCODED = MAX_FRAME + MAX_FRAME // 254 + 1
MAX_FLOATS = (MAX_PAYLOAD - 4) // 4

DEVICE_MS = struct.Struct('<I')
HEARTBEAT = struct.Struct('<IIIB')
HEARTBEAT_WATCHDOG_STOPPED = 0x01
HEARTBEAT_MOTORS_ON = 0x02


class FrameType(enum.IntEnum):
    TELEMETRY = 1
    SURFACE = 2
    MOTOR = 3
    HEARTBEAT = 4
    DESCRIBE = 5


@dataclass(frozen=True)
class Frame:
    """One decoded, CRC-checked frame."""

    type: int
    sequence: int
    payload: bytes
    version: int = PROTOCOL_VERSION


def crc32(data: bytes) -> int:
    """Return the CRC-32 (IEEE 802.3: reflected poly 0x04C11DB7, init/xorout 0xFFFFFFFF)."""
    return zlib.crc32(data) & 0xFFFFFFFF


def cobs_encode(data: bytes) -> bytes:
    """Return `data` COBS-encoded (no zero bytes in the result, no delimiter appended)."""
    out = bytearray()
    chunks = bytes(data).split(b'\x00')
    for i, chunk in enumerate(chunks):
        # A block holds at most 254 data bytes; a full block (code 0xFF) implies no zero.
        full_blocks = len(chunk) >= 254
        while len(chunk) >= 254:
            out.append(0xFF)
            out += chunk[:254]
            chunk = chunk[254:]
        if chunk or not full_blocks or i < len(chunks) - 1:
            # Canonical COBS ends on a full block without an empty block after it.
            out.append(len(chunk) + 1)
            out += chunk
    return bytes(out)


class CobsError(ValueError):
    """A byte string that is not valid COBS."""


def cobs_decode(data: bytes) -> bytes:
    """Return the bytes COBS-encoded in `data` (without delimiter); CobsError if malformed."""
    out = bytearray()
    i, n = 0, len(data)
    if n == 0:
        raise CobsError('empty COBS block')
    while i < n:
        code = data[i]
        if code == 0:
            raise CobsError(f'zero byte inside a COBS frame at offset {i}')
        end = i + code
        if end > n:
            raise CobsError(f'COBS block at offset {i} runs {end - n} bytes past the frame')
        block = data[i + 1:end]
        if 0 in block:
            raise CobsError('zero byte inside a COBS frame')
        out += block
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


def encode_frame(frame_type: int, sequence: int, payload: bytes = b'',
                 version: int = PROTOCOL_VERSION) -> bytes:
    """Return the wire bytes of one frame: COBS(header + payload + crc) + 0x00."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f'payload of {len(payload)} bytes exceeds MAX_PAYLOAD={MAX_PAYLOAD}')
    body = HEADER.pack(version, int(frame_type), sequence & 0xFFFFFFFF, len(payload)) + payload
    return cobs_encode(body + CRC.pack(crc32(body))) + b'\x00'


class FrameError(ValueError):
    """A frame that failed a check; `reason` names the counter it goes to."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def parse_frame(encoded: bytes) -> Frame:
    """Return the Frame in one COBS block (delimiter removed); FrameError says why not."""
    if len(encoded) > MAX_ENCODED:
        raise FrameError('oversize', f'frame of {len(encoded)} bytes exceeds {MAX_ENCODED}')
    try:
        raw = cobs_decode(encoded)
    except CobsError as error:
        raise FrameError('cobs_errors', str(error)) from None
    if len(raw) < HEADER.size + CRC.size:
        raise FrameError('short_frames', f'frame of {len(raw)} bytes is shorter than '
                                         f'header + crc ({HEADER.size + CRC.size})')
    body, (crc,) = raw[:-CRC.size], CRC.unpack_from(raw, len(raw) - CRC.size)
    if crc32(body) != crc:
        raise FrameError('crc_errors', 'CRC mismatch')
    version, frame_type, sequence, length = HEADER.unpack_from(body)
    if version != PROTOCOL_VERSION:
        raise FrameError('version_errors', f'protocol version {version}, expected '
                                           f'{PROTOCOL_VERSION}')
    if length != len(body) - HEADER.size:
        raise FrameError('length_errors', f'length field {length} but '
                                          f'{len(body) - HEADER.size} payload bytes')
    if frame_type not in _FRAME_TYPES:
        raise FrameError('unknown_types', f'unknown frame type {frame_type}')
    return Frame(frame_type, sequence, body[HEADER.size:], version)


_FRAME_TYPES = frozenset(int(t) for t in FrameType)
ERROR_REASONS = ('oversize', 'cobs_errors', 'short_frames', 'crc_errors', 'version_errors',
                 'length_errors', 'unknown_types')


@dataclass
class DecoderStats:
    """What a FrameDecoder saw; `errors` counts rejected frames by reason."""

    frames_ok: int = 0
    bytes_in: int = 0
    bytes_discarded: int = 0
    resyncs: int = 0
    sequence_gaps: int = 0
    sequence_restarts: int = 0
    frames_lost: int = 0
    errors: dict = field(default_factory=lambda: dict.fromkeys(ERROR_REASONS, 0))

    @property
    def frames_bad(self) -> int:
        return sum(self.errors.values())


class FrameDecoder:
    """Turns a byte stream into checked Frames; keeps at most MAX_ENCODED bytes buffered.

    Anything between two 0x00 delimiters that fails a check is dropped and counted, and the
    decoder resynchronises at the next delimiter: a corrupt frame costs that frame only (a whole
    frame at the tail of a damaged block is recovered, see _recover_tail). Of an over-long run
    without a delimiter (a line stuck at garbage) only the last MAX_ENCODED bytes are kept, so
    memory stays bounded. Sequence numbers of accepted frames are tracked to count lost frames.
    """

    def __init__(self):
        self.stats = DecoderStats()
        self._buffer = bytearray()
        self._overflowing = False
        self._next_sequence: Optional[int] = None
        self._joined = True
        self.last_error: Optional[FrameError] = None

    def reset(self) -> None:
        """Forget partial input and the sequence (a new connection); keep the counters.

        Until the first delimiter the decoder may be joining mid-frame: that first block is
        searched for a whole frame but not counted as an error.
        """
        self._buffer.clear()
        self._overflowing = False
        self._next_sequence = None
        self._joined = True

    def feed(self, data: bytes) -> List[Frame]:
        """Return the valid frames completed by `data` (possibly none)."""
        self.stats.bytes_in += len(data)
        if 0 not in data:
            self._append(data)
            return []
        parts = bytes(data).split(b'\x00')
        frames = []
        for part in parts[:-1]:
            self._append(part)
            if self._buffer:
                frame = self._take(bytes(self._buffer), self._overflowing)
                if frame is not None:
                    frames.append(frame)
            self._buffer.clear()
            self._overflowing = False
        self._append(parts[-1])
        return frames

    def _append(self, part: bytes) -> None:
        excess = len(self._buffer) + len(part) - MAX_ENCODED
        if excess <= 0:
            self._buffer += part
        else:
            self._buffer += part[-MAX_ENCODED:]
            # Too long for one frame: keep only the tail, which may still end in a whole frame.
            if not self._overflowing:
                self._overflowing = True
                self.stats.errors['oversize'] += 1
                self.stats.resyncs += 1
            self.stats.bytes_discarded += excess
            del self._buffer[:len(self._buffer) - MAX_ENCODED]

    def _take(self, encoded: bytes, overflowed: bool) -> Optional[Frame]:
        joined, self._joined = self._joined, False
        if overflowed or joined:
            # Bytes before the first delimiter of a connection are the tail of a frame sent
            # before we listened: not an error, but it may still end in a whole frame.
            frame, start = _recover_tail(encoded, first=0)
        else:
            try:
                frame, start = parse_frame(encoded), 0
            except FrameError as error:
                self.stats.errors[error.reason] += 1
                self.stats.resyncs += 1
                self.last_error = error
                frame, start = _recover_tail(encoded)
        self.stats.bytes_discarded += start + (1 if frame is None else 0)
        if frame is None:
            return None
        self.stats.frames_ok += 1
        if self._next_sequence is not None and frame.sequence != self._next_sequence:
            skipped = (frame.sequence - self._next_sequence) & 0xFFFFFFFF
            if skipped < 1 << 31:
                self.stats.sequence_gaps += 1
                self.stats.frames_lost += skipped
            else:  # the sender counted back: it restarted
                self.stats.sequence_restarts += 1
        self._next_sequence = (frame.sequence + 1) & 0xFFFFFFFF
        return frame


def _recover_tail(encoded: bytes, first: int = 1) -> Tuple[Optional[Frame], int]:
    """Find a whole frame at the end of a block whose start is damaged; return (frame, start).

    A frame truncated by its sender (or whose delimiter was hit) runs into the next frame; that
    next frame is intact at the block's tail. Candidate starts are where the encoded header
    would begin (a COBS code, then the version byte, then a known type), so only a few offsets
    are parsed; the CRC decides, as for any frame. Returns (None, len(encoded)) if none is whole.
    `first` is the first offset tried (0 for the kept tail of an over-long block).
    """
    version = PROTOCOL_VERSION
    start = encoded.find(version, first + 1)
    while 0 < start < len(encoded) - 1:
        candidate = start - 1
        if encoded[start + 1] in _FRAME_TYPES:
            try:
                return parse_frame(encoded[candidate:]), candidate
            except FrameError:
                pass
        start = encoded.find(version, start + 1)
    return None, len(encoded)


class FrameEncoder:
    """Numbers outgoing frames (one sequence per sender) and returns their wire bytes."""

    def __init__(self, first_sequence: int = 0):
        self.sequence = first_sequence

    def encode(self, frame_type: int, payload: bytes = b'') -> bytes:
        wire = encode_frame(frame_type, self.sequence, payload)
        self.sequence = (self.sequence + 1) & 0xFFFFFFFF
        return wire


# Payload builders and parsers -------------------------------------------------------------

def pack_samples(device_ms: int, values: Sequence[float]) -> bytes:
    """Return a TELEMETRY / SURFACE payload: u32 device time, float32 values."""
    if len(values) > MAX_FLOATS:
        raise ValueError(f'{len(values)} values exceed the {MAX_FLOATS} a frame holds')
    return DEVICE_MS.pack(device_ms & 0xFFFFFFFF) + struct.pack(f'<{len(values)}f', *values)


def unpack_samples(payload: bytes) -> Tuple[int, np.ndarray]:
    """Return (device_ms, float32 values, a read-only view) of a TELEMETRY / SURFACE payload.

    ValueError if the payload is not u32 + k * float32.
    """
    if len(payload) < DEVICE_MS.size or (len(payload) - DEVICE_MS.size) % 4:
        raise ValueError(f'sample payload of {len(payload)} bytes is not u32 + k * float32')
    (device_ms,) = DEVICE_MS.unpack_from(payload)
    return device_ms, np.frombuffer(payload, dtype='<f4', offset=DEVICE_MS.size)


def pack_motor(values: Sequence[float]) -> bytes:
    """Return a MOTOR payload."""
    return struct.pack(f'<{len(values)}f', *values)


def unpack_motor(payload: bytes) -> Tuple[float, ...]:
    """Return the motor commands of a MOTOR payload; ValueError if malformed."""
    if len(payload) % 4:
        raise ValueError(f'motor payload of {len(payload)} bytes is not k * float32')
    return struct.unpack(f'<{len(payload) // 4}f', payload)


def pack_heartbeat(sender_ms: int, frames_ok: int, frames_bad: int, flags: int = 0) -> bytes:
    """Return a HEARTBEAT payload."""
    return HEARTBEAT.pack(sender_ms & 0xFFFFFFFF, frames_ok & 0xFFFFFFFF,
                          frames_bad & 0xFFFFFFFF, flags & 0xFF)


def unpack_heartbeat(payload: bytes) -> Tuple[int, int, int, int]:
    """Return (sender_ms, frames_ok, frames_bad, flags); ValueError if malformed."""
    if len(payload) != HEARTBEAT.size:
        raise ValueError(f'heartbeat payload of {len(payload)} bytes, expected '
                         f'{HEARTBEAT.size}')
    return HEARTBEAT.unpack(payload)


def pack_describe(names: Sequence[str]) -> bytes:
    """Return a DESCRIBE payload naming the TELEMETRY channels (empty = a request)."""
    for name in names:
        if not name or '\n' in name:
            raise ValueError(f'channel name {name!r} is empty or holds a newline')
    payload = '\n'.join(names).encode('utf-8')
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f'{len(names)} names need {len(payload)} bytes > {MAX_PAYLOAD}')
    return payload


def unpack_describe(payload: bytes) -> List[str]:
    """Return the channel names of a DESCRIBE payload ([] = a request); ValueError if malformed."""
    if not payload:
        return []
    try:
        names = payload.decode('utf-8').split('\n')
    except UnicodeDecodeError as error:
        raise ValueError(f'DESCRIBE is not UTF-8: {error}') from None
    if not all(names) or len(set(names)) != len(names):
        raise ValueError('DESCRIBE holds an empty or a repeated channel name')
    return names


def finite(values: Sequence[float]) -> bool:
    """Return whether every value is a finite number."""
    return all(math.isfinite(v) for v in values)
