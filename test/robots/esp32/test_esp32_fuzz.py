"""Serial fuzz: 1.2e5 frames through the decoder at bit-error rates 1e-4 .. 1e-2.

With bursts, truncated frames and dropped bytes too. No corrupt frame is accepted, every frame
whose own bytes (and trailing delimiter) survived is delivered (resynchronised within one
frame), no exception escapes, and the decoder's memory stays bounded.
"""
import tracemalloc

import numpy as np
import pytest

from nanobot_ros.robots.esp32 import protocol as proto

FRAMES_PER_CASE = 30_000
CASES = {
    'ber_1e-4': dict(ber=1e-4),
    'ber_1e-3': dict(ber=1e-3, burst=0.01, truncate=0.01),
    'ber_1e-2': dict(ber=1e-2, burst=0.01, truncate=0.01, drop=0.01),
    'bursts_truncation_drops': dict(burst=0.05, truncate=0.05, drop=0.05),
}


def make_frames(rng, count):
    """Return [(type, sequence, payload)] of the kinds a device sends, 32-float telemetry most."""
    kinds = rng.choice(4, size=count, p=[0.85, 0.05, 0.05, 0.05])
    telemetry = rng.normal(size=(count, 32)).astype(np.float32)
    surface = rng.normal(size=(count, 64)).astype(np.float32)
    frames = []
    for sequence, kind in enumerate(kinds):
        if kind == 0:
            frames.append((proto.FrameType.TELEMETRY, sequence,
                           proto.pack_samples(sequence, telemetry[sequence])))
        elif kind == 1:
            frames.append((proto.FrameType.SURFACE, sequence,
                           proto.pack_samples(sequence, surface[sequence])))
        elif kind == 2:
            frames.append((proto.FrameType.HEARTBEAT, sequence,
                           proto.pack_heartbeat(sequence, sequence, 0, 0)))
        else:  # sparse zeros, long COBS blocks and odd lengths
            frames.append((proto.FrameType.SURFACE, sequence,
                           (rng.integers(0, 3, size=int(rng.integers(4, 600))) * 127)
                           .astype(np.uint8).tobytes()))
    return frames


def corrupt(rng, wires, ber=0.0, burst=0.0, truncate=0.0, drop=0.0):
    """Return (stream, damaged) where damaged[i] says frame i's bytes or delimiter changed."""
    damaged = np.zeros(len(wires), dtype=bool)
    out = []
    for i, wire in enumerate(wires):
        data = np.frombuffer(wire, dtype=np.uint8).copy()
        if truncate and rng.random() < truncate:
            data = data[:int(rng.integers(1, len(data)))]  # the delimiter goes too
            damaged[i] = True
        if burst and rng.random() < burst:
            start = int(rng.integers(0, len(data)))
            noise = rng.integers(0, 256, size=min(int(rng.integers(2, 33)), len(data) - start))
            if np.any(data[start:start + len(noise)] != noise):
                data[start:start + len(noise)] = noise
                damaged[i] = True
        if drop and rng.random() < drop:
            data = np.delete(data, int(rng.integers(0, len(data))))
            damaged[i] = True
        out.append(data)
    lengths = np.array([len(d) for d in out])
    stream = np.concatenate(out)
    if ber:
        bits = rng.choice(stream.size * 8, size=rng.binomial(stream.size * 8, ber),
                          replace=False)
        np.bitwise_xor.at(stream, bits // 8, (1 << (bits % 8)).astype(np.uint8))
        ends = np.cumsum(lengths)
        damaged[np.searchsorted(ends, bits // 8, side='right')] = True
    return stream.tobytes(), damaged


@pytest.mark.parametrize('case', list(CASES))
def test_fuzzed_stream(case):
    rng = np.random.default_rng(list(CASES).index(case))
    frames = make_frames(rng, FRAMES_PER_CASE)
    wires = [proto.encode_frame(t, s, p) for t, s, p in frames]
    stream, damaged = corrupt(rng, wires, **CASES[case])
    chunk_ends = np.cumsum(rng.integers(1, 4096, size=len(stream) // 100 + 2))

    decoder = proto.FrameDecoder()
    delivered = np.zeros(len(frames), dtype=bool)
    largest_buffer = 0
    measure_memory = case == 'bursts_truncation_drops'  # tracemalloc is slow: one case
    if measure_memory:
        tracemalloc.start()
    start = 0
    for end in chunk_ends:
        for frame in decoder.feed(stream[start:end]):
            frame_type, sequence, payload = frames[frame.sequence]
            # Zero corrupt frames accepted: each delivered frame is exactly one that was sent.
            assert (frame.type, frame.payload) == (frame_type, payload), frame.sequence
            assert not delivered[frame.sequence], f'frame {frame.sequence} delivered twice'
            delivered[frame.sequence] = True
        largest_buffer = max(largest_buffer, len(decoder._buffer))
        start = end
        if start >= len(stream):
            break
    if measure_memory:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 2_000_000, f'decoder used {peak} bytes'

    # Resynchronised within one frame: every frame that arrived whole was delivered.
    missed = np.flatnonzero(~damaged & ~delivered)
    assert missed.size == 0, f'{missed.size} intact frames lost, first {missed[:10]}'
    assert damaged.any()
    stats = decoder.stats
    assert stats.frames_ok == delivered.sum()
    assert stats.frames_bad > 0 and stats.resyncs > 0
    assert largest_buffer <= proto.MAX_ENCODED
    print(f'{case}: {len(frames)} frames, {damaged.sum()} damaged, {delivered.sum()} '
          f'delivered, errors {stats.errors}')


def test_endless_garbage_keeps_memory_bounded():
    rng = np.random.default_rng(7)
    decoder = proto.FrameDecoder()
    noise = rng.integers(1, 256, size=1 << 20, dtype=np.uint8).tobytes()  # no delimiter
    tracemalloc.start()
    for _ in range(8):
        assert decoder.feed(noise) == []
        assert len(decoder._buffer) <= proto.MAX_ENCODED
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4 * proto.MAX_ENCODED + (1 << 20) // 10
    # After a delimiter the next frame is delivered again.
    wire = proto.encode_frame(proto.FrameType.HEARTBEAT, 5, proto.pack_heartbeat(1, 2, 3))
    assert [f.sequence for f in decoder.feed(b'\x00' + wire)] == [5]
    assert decoder.stats.errors['oversize'] == 1
