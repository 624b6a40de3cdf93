"""MotorDriver over RPyC to a real emulated JetBot: 0 first, keepalive, backoff, reconnect."""
import pytest

from jetbot_emulator import EmulatedJetBot
from nanobot_ros.robots.backoff import Backoff
from nanobot_ros.robots.jetbot.motors import CONNECTED, DOWN, MotorDriver, RemoteMotors, SENT


@pytest.fixture
def robot(tmp_path):
    robot = EmulatedJetBot(tmp_path)
    yield robot
    robot.stop()


def test_driver_retries_with_backoff_and_reconnects_with_zero_first(robot):
    events = []
    driver = MotorDriver(RemoteMotors('127.0.0.1', robot.port, timeout=1.0),
                         Backoff(initial=0.1, maximum=0.4), lambda *e: events.append(e),
                         keepalive=0.05)
    # No robot yet: every attempt fails, and attempts are spaced by the doubling delay.
    now = 0.0
    assert driver.apply(0.1, 0.2, now) == DOWN
    delays = [driver.retry_in]
    assert driver.apply(0.1, 0.2, now + 0.05) == DOWN  # too early: not even tried
    assert driver.link_failures == 1
    for _ in range(3):
        now += driver.retry_in + 0.05  # the delay counts from the end of the failed attempt
        assert driver.apply(0.1, 0.2, now) == DOWN
        delays.append(driver.retry_in)
    assert delays == [0.1, 0.2, 0.4, 0.4]
    assert driver.link_failures == 4
    assert all(level == 'error' and 'retrying in' in text for level, text in events)

    # The robot comes up: the first thing it is told is 0, then the values.
    robot.start()
    now += driver.retry_in + 0.05
    assert driver.apply(0.1, 0.2, now) == CONNECTED
    assert driver.apply(0.1, 0.2, now + 0.01) == SENT
    assert robot.wait_for(lambda rows: len(rows) >= 2, timeout=5)
    first, second = robot.rows()[:2]
    assert (first['left'], first['right']) == (0.0, 0.0)
    assert (second['left'], second['right']) == pytest.approx((0.1, 0.2))

    # Unchanged values are resent only once the keepalive period has passed.
    count = len(robot.rows())
    assert driver.apply(0.1, 0.2, now + 0.02) == SENT
    assert driver.apply(0.1, 0.2, now + 0.07) == SENT
    assert robot.wait_for(lambda rows: len(rows) == count + 1, timeout=5)

    # The robot vanishes: the next command fails, the link is down, the backoff starts over.
    robot.kill()
    assert driver.apply(0.1, 0.3, now + 1.0) == DOWN
    assert not driver.connected and driver.retry_in == 0.1
    robot.start()
    assert driver.apply(0.1, 0.3, now + 1.2) == CONNECTED
    restarted = robot.rows()[count + 1:]
    assert restarted and (restarted[0]['left'], restarted[0]['right']) == (0.0, 0.0)
    driver.close()
    assert robot.wait_for(lambda rows: (rows[-1]['left'], rows[-1]['right']) == (0, 0), 5)
