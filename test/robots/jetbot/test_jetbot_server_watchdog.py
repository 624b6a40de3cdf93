"""The JetBot-side server stops its motors when commands stop or the host disconnects."""
import math
import time

import pytest
import rpyc

from jetbot_emulator import EmulatedJetBot


@pytest.fixture
def robot(tmp_path):
    robot = EmulatedJetBot(tmp_path, watchdog=0.3).start()
    yield robot
    robot.stop()


def test_watchdog_and_disconnect_stop_the_motors(robot):
    conn = rpyc.connect('127.0.0.1', robot.port)
    conn.root.set_motors(0.2, -0.2)
    sent = time.time()
    # The host goes silent: the watchdog zeroes the motors within its timeout.
    assert robot.wait_for(lambda rows: rows[-1]['source'] == 'watchdog', timeout=3)
    stop = robot.rows()[-1]
    assert (stop['left'], stop['right']) == (0.0, 0.0)
    assert 0.3 <= stop['t'] - sent < 0.3 + 0.5  # timeout + polling (timeout / 5) + slack

    # Out of range is clamped, non-finite refused (the call raises, the motors keep their value).
    conn.root.set_motors(3.0, -3.0)
    assert robot.last() == (1.0, -1.0)
    with pytest.raises(ValueError, match='finite'):
        conn.root.set_motors(math.nan, 0.0)
    assert robot.last() == (1.0, -1.0)

    # The host's connection drops: the motors stop at once.
    conn.close()
    assert robot.wait_for(lambda rows: rows[-1]['source'] == 'disconnect', timeout=2)
    assert robot.last() == (0.0, 0.0)
