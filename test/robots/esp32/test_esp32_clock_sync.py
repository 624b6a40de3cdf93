"""DeviceClock: device milliseconds -> host time, by the minimum of (receive - device)."""
import random

import pytest

from nanobot_ros.robots.esp32.clock_sync import DeviceClock, NS_PER_MS

OFFSET_NS = 1_700_000_000 * 10**9 + 123_456_789  # host epoch time at device_ms 0


def run(clock, device_ms_list, delays_ns, offset_ns=OFFSET_NS):
    """Feed frames sampled at device_ms, received after delays_ns; return (stamps, receives)."""
    stamps, receives = [], []
    for device_ms, delay in zip(device_ms_list, delays_ns):
        receive = offset_ns + device_ms * NS_PER_MS + delay
        stamps.append(clock.stamp(device_ms, receive))
        receives.append(receive)
    return stamps, receives


def test_constant_delay_with_jitter_is_removed():
    rng = random.Random(7)
    clock = DeviceClock(window_s=2.0)
    device_ms = list(range(0, 20_000, 5))  # 200 Hz for 20 s
    # 2 ms transport delay, plus up to 8 ms of jitter that is sometimes ~0 (the minimum).
    delays = [2 * NS_PER_MS + int(rng.random() ** 4 * 8 * NS_PER_MS) for _ in device_ms]
    stamps, receives = run(clock, device_ms, delays)
    truth = [OFFSET_NS + ms * NS_PER_MS for ms in device_ms]
    errors = [s - t for s, t in zip(stamps, truth)]
    # After the first window the error is the minimum delay (2 ms) within the jitter floor.
    settled = errors[len(errors) // 4:]
    assert all(2 * NS_PER_MS <= e < 3 * NS_PER_MS for e in settled), (min(settled), max(settled))
    # Receive stamps would carry the whole jitter; the device stamps keep the sample spacing.
    spacing = [b - a for a, b in zip(stamps, stamps[1:])][len(stamps) // 4:]
    assert max(abs(d - 5 * NS_PER_MS) for d in spacing) < 1 * NS_PER_MS
    assert all(s <= r for s, r in zip(stamps, receives))
    assert all(b >= a for a, b in zip(stamps, stamps[1:]))
    assert clock.resets == 0


def test_host_clock_only_ever_later_never_stamps_in_the_future():
    clock = DeviceClock(window_s=1.0)
    rng = random.Random(3)
    device_ms = list(range(0, 5000, 10))
    delays = [int(rng.uniform(0.5, 30.0) * NS_PER_MS) for _ in device_ms]
    stamps, receives = run(clock, device_ms, delays)
    assert all(s <= r for s, r in zip(stamps, receives))
    assert all(b >= a for a, b in zip(stamps, stamps[1:]))
    # Never earlier than the sample itself either: the offset estimate only errs late.
    assert all(s >= OFFSET_NS + ms * NS_PER_MS for s, ms in zip(stamps, device_ms))


def test_frames_of_one_read_get_rising_stamps():
    clock = DeviceClock(window_s=2.0)
    # The first read holds 5 frames sampled 1 ms apart (they waited in the pty's buffer): each
    # lowers the estimate to its own (receive - device), which pins its stamp to the shared
    # receive time. Then frames come one by one, 1 ms after sampling.
    first = OFFSET_NS + 10 * NS_PER_MS
    stamps = [clock.stamp(ms, first) for ms in range(5)]
    stamps += [clock.stamp(ms, OFFSET_NS + (ms + 1) * NS_PER_MS) for ms in range(10, 20)]
    assert stamps[:5] == [first + k for k in range(5)]  # 1 ns apart, never standing still
    assert all(b > a for a, b in zip(stamps, stamps[1:]))
    assert stamps[5:] == [OFFSET_NS + (ms + 1) * NS_PER_MS for ms in range(10, 20)]
    # Two samples of one millisecond (a device sampling faster than its clock ticks) too.
    assert clock.stamp(19, OFFSET_NS + 21 * NS_PER_MS) == stamps[-1] + 1


def test_the_u32_millisecond_counter_wraps_without_a_jump():
    clock = DeviceClock()
    start = (1 << 32) - 1000  # 1 s before the wrap (49.7 days of uptime)
    device_ms = [(start + 10 * i) % (1 << 32) for i in range(300)]
    unwrapped = [start + 10 * i for i in range(300)]
    stamps = [clock.stamp(ms, OFFSET_NS + u * NS_PER_MS + NS_PER_MS)
              for ms, u in zip(device_ms, unwrapped)]
    assert device_ms[-1] < device_ms[0]  # it did wrap
    assert [b - a for a, b in zip(stamps, stamps[1:])] == [10 * NS_PER_MS] * 299
    assert clock.resets == 0


def test_a_reboot_resets_the_estimate_and_is_counted():
    clock = DeviceClock(window_s=10.0)
    stamps, receives = run(clock, range(50_000, 52_000, 10), [NS_PER_MS] * 200)
    last_receive = receives[-1]
    # The device restarts: its counter begins again at 0, 300 ms after the last frame.
    new_offset = last_receive + 300 * NS_PER_MS
    after, after_receives = run(clock, range(0, 1000, 10), [NS_PER_MS] * 100,
                                offset_ns=new_offset)
    assert clock.resets == 1
    assert after[0] == after_receives[0] >= stamps[-1]
    # The old offset (50 s off) is forgotten at once: stamps follow the new boot.
    assert all(abs(s - (new_offset + ms * NS_PER_MS)) <= NS_PER_MS
               for s, ms in zip(after, range(0, 1000, 10)))


def test_a_reboot_that_looks_like_a_wrap_is_caught_by_the_host_clock():
    clock = DeviceClock(max_lead_s=5.0)
    old = (1 << 32) - 10**9  # ~11.6 days left before the wrap; then a reboot to 0
    clock.stamp(old, OFFSET_NS)
    clock.stamp(old + 10, OFFSET_NS + 10 * NS_PER_MS)
    # From old + 10 to 0 is a forward step of ~11.6 days in 20 ms of host time: a restart.
    assert clock.stamp(0, OFFSET_NS + 30 * NS_PER_MS) == OFFSET_NS + 30 * NS_PER_MS
    assert clock.resets == 1


@pytest.mark.parametrize('kwargs', [{'window_s': 0}, {'max_lead_s': -1}, {'counter_bits': 4}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        DeviceClock(**kwargs)
