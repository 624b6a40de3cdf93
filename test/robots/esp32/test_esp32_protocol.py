"""The Python side of protocol v1 against the shared vectors, and its payload helpers."""
import math
import os

import pytest

from esp32_vectors import load_vectors, unhex
from nanobot_ros.robots.esp32 import protocol as proto

VECTORS = load_vectors()


def test_vectors_cover_every_kind():
    assert {k: len(v) > 0 for k, v in VECTORS.items()} == dict.fromkeys(
        ['crc32', 'cobs', 'frame', 'reject', 'stream'], True)


def test_crc32_vectors():
    assert proto.crc32(b'123456789') == 0xCBF43926  # the catalogue check value
    for data, crc in VECTORS['crc32']:
        assert proto.crc32(unhex(data)) == int(crc, 16)


def test_cobs_vectors_and_round_trip():
    for raw, encoded in VECTORS['cobs']:
        assert proto.cobs_encode(unhex(raw)) == unhex(encoded)
        assert proto.cobs_decode(unhex(encoded)) == unhex(raw)
    for size in range(0, 1100, 7):
        data = os.urandom(size)
        encoded = proto.cobs_encode(data)
        assert 0 not in encoded
        assert proto.cobs_decode(encoded) == data


def test_frame_vectors():
    for frame_type, sequence, payload, wire in VECTORS['frame']:
        frame_type, sequence, payload, wire = (int(frame_type), int(sequence), unhex(payload),
                                               unhex(wire))
        assert proto.encode_frame(frame_type, sequence, payload) == wire
        frame = proto.parse_frame(wire[:-1])
        assert (frame.type, frame.sequence, frame.payload) == (frame_type, sequence, payload)


def test_reject_vectors_name_their_reason():
    for reason, block in VECTORS['reject']:
        with pytest.raises(proto.FrameError) as error:
            proto.parse_frame(unhex(block))
        assert error.value.reason == reason


def test_stream_vectors():
    for stream, expected in VECTORS['stream']:
        delivered = [f.sequence for f in proto.FrameDecoder().feed(unhex(stream))]
        assert delivered == ([] if expected == '-' else [int(s) for s in expected.split(',')])


def test_stream_fed_byte_by_byte_equals_fed_at_once():
    stream, _expected = VECTORS['stream'][2]
    decoder = proto.FrameDecoder()
    one_by_one = [f for b in unhex(stream) for f in decoder.feed(bytes([b]))]
    assert one_by_one == proto.FrameDecoder().feed(unhex(stream))


def test_decoder_counts_lost_frames_and_restarts():
    decoder = proto.FrameDecoder()
    wires = [proto.encode_frame(proto.FrameType.HEARTBEAT, s, proto.pack_heartbeat(s, 0, 0))
             for s in (10, 11, 14, 15, 2)]
    assert [f.sequence for f in decoder.feed(b''.join(wires))] == [10, 11, 14, 15, 2]
    assert (decoder.stats.sequence_gaps, decoder.stats.frames_lost) == (1, 2)
    assert decoder.stats.sequence_restarts == 1


def test_payload_helpers_round_trip_and_reject_malformed():
    device_ms, values = proto.unpack_samples(proto.pack_samples(7, [1.5, -2.0, math.inf]))
    assert device_ms == 7 and values[:2].tolist() == [1.5, -2.0] and math.isinf(values[2])
    assert proto.unpack_motor(proto.pack_motor([0.25, -1.0])) == (0.25, -1.0)
    assert proto.unpack_heartbeat(proto.pack_heartbeat(1, 2, 3, 4)) == (1, 2, 3, 4)
    with pytest.raises(ValueError):
        proto.unpack_samples(b'\x00\x00\x00')
    with pytest.raises(ValueError):
        proto.unpack_motor(b'\x00\x00\x00')
    with pytest.raises(ValueError):
        proto.unpack_heartbeat(b'\x00')
    with pytest.raises(ValueError):
        proto.encode_frame(proto.FrameType.TELEMETRY, 0, bytes(proto.MAX_PAYLOAD + 1))
    with pytest.raises(ValueError):
        proto.pack_samples(0, [0.0] * (proto.MAX_FLOATS + 1))


def test_describe_names_round_trip_and_reject_malformed():
    names = ['motor_left', 'wheel_left.position', 'µ']
    assert proto.unpack_describe(proto.pack_describe(names)) == names
    assert proto.unpack_describe(proto.pack_describe([])) == []  # a request
    for bad in (b'a\n\nb', b'a\na', b'\xff\xfe'):
        with pytest.raises(ValueError):
            proto.unpack_describe(bad)
    with pytest.raises(ValueError):
        proto.pack_describe(['a\nb'])
    with pytest.raises(ValueError):
        proto.pack_describe(['x' * 100] * 20)
