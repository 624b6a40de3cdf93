"""Device time -> host time: stamp a sample with when it was measured, not when it arrived.

A device frame carries the device's millisecond counter at sampling (u32, so it wraps every
2^32 ms, ~49.7 days). The host sees it later, by a transport delay that varies (UART, USB
polling, the reader thread). `host_receive - device_time` is therefore the clock offset plus a
delay >= 0, and its minimum over a sliding window is the best offset estimate: it rejects
delay, and the window follows slow drift between the two crystals. A stamp is
`device_time + offset`, never later than its own receive time, and strictly rising while the
device runs. Where the two rules meet, the second wins by nanoseconds: frames that arrive in one
read (a burst after the host stalled) share one receive time, which pins each of their stamps
to it, and two samples can carry the same millisecond; each such stamp is placed 1 ns after the
previous one, so a subscriber never sees a sensor's time stand still or run backwards.

The device rebooting restarts its counter: the counter steps back (or, across the wrap, forward
by far more than the host clock advanced); the estimator then starts over and counts it in
`resets`. No rclpy here: the bridge calls DeviceClock.stamp() for each frame.
"""
from collections import deque
from typing import Deque, Optional, Tuple

NS_PER_MS = 1_000_000


class DeviceClock:
    """Maps a wrapping device millisecond counter to host time (nanoseconds)."""

    def __init__(self, window_s: float = 10.0, counter_bits: int = 32, max_lead_s: float = 5.0):
        """Keep offsets for `window_s` of host time; `max_lead_s` bounds a legal forward jump.

        The device counter may advance at most `max_lead_s` more than the host clock between
        two frames (a frame that waited in a buffer, then a prompt one); beyond that the device
        restarted.
        """
        if not window_s > 0 or not max_lead_s > 0 or not 8 <= counter_bits <= 64:
            raise ValueError(f'window_s and max_lead_s must be > 0, counter_bits 8 .. 64; got '
                             f'{window_s}, {max_lead_s}, {counter_bits}')
        self.window_ns = int(window_s * 1e9)
        self.max_lead_ns = int(max_lead_s * 1e9)
        self.modulus = 1 << counter_bits
        self.resets = 0
        self._offsets: Deque[Tuple[int, int]] = deque()  # (host_ns, offset_ns), rising offsets
        self._last: Optional[Tuple[int, int, int]] = None  # (raw_ms, unwrapped_ms, host_ns)
        self._last_stamp: Optional[int] = None

    @property
    def offset_ns(self) -> Optional[int]:
        """The current offset estimate (host - device, ns); None before the first sample."""
        return self._offsets[0][1] if self._offsets else None

    def reset(self) -> None:
        """Forget the device's clock (a new device, or it restarted)."""
        self._offsets.clear()
        self._last = None
        self._last_stamp = None

    def stamp(self, device_ms: int, host_ns: int) -> int:
        """Return the host time (ns) at which a sample stamped `device_ms` was measured.

        `host_ns` is the host time the frame was received, from a clock that does not step.
        """
        device_ms %= self.modulus
        if self._last is None:
            unwrapped = device_ms
        else:
            raw, unwrapped, last_host = self._last
            step = (device_ms - raw) % self.modulus
            if (step >= self.modulus // 2
                    or step * NS_PER_MS > host_ns - last_host + self.max_lead_ns):
                self.resets += 1  # the counter stepped back, or ran ahead of real time
                self.reset()
                unwrapped = device_ms
            else:
                unwrapped += step
        self._last = (device_ms, unwrapped, host_ns)
        device_ns = unwrapped * NS_PER_MS
        offsets = self._offsets
        offset = host_ns - device_ns
        # Sliding-window minimum: drop offsets no lower than the new one (never the minimum
        # again), then those older than the window.
        while offsets and offsets[-1][1] >= offset:
            offsets.pop()
        offsets.append((host_ns, offset))
        while offsets[0][0] < host_ns - self.window_ns:
            offsets.popleft()
        stamp = device_ns + offsets[0][1]
        if self._last_stamp is not None:  # (reset() clears it: a new counter starts afresh)
            stamp = max(stamp, self._last_stamp + 1)
        self._last_stamp = stamp
        return stamp
