"""A JetBot-side RPyC server process with emulated motors (and camera), for the tests.

It is the real server (nanobot_ros/robots/jetbot/server.py --emulate) in its own process on
127.0.0.1: the node talks to it over a real socket, and every motor value it receives is
recorded as a JSON line with its time, which the tests read back.
"""
import json
from pathlib import Path
import socket
import subprocess
import sys
import time

from nanobot_msgs.msg import Action
from std_msgs.msg import String

from nanobot_ros.contract import ACTION, COMMAND, JETBOT_STATUS
from nanobot_ros.nodes.common import qos_profile


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def watch_jetbot(ros):
    """Subscribe `ros`'s node to the jetbot node's status; return (statuses, action publisher).

    statuses: every status message, decoded, oldest first; the publisher sends on robot/action.
    """
    statuses = []
    ros.node.create_subscription(String, JETBOT_STATUS.fqn(),
                                 lambda m: statuses.append(json.loads(m.data)),
                                 qos_profile(JETBOT_STATUS))
    return statuses, ros.node.create_publisher(Action, ACTION.fqn(), qos_profile(COMMAND))


class EmulatedJetBot:
    """Start, kill and restart the emulated JetBot; read what its motors were told."""

    def __init__(self, tmp_path: Path, port: int = None, watchdog: float = 0.5,
                 camera: str = 'none'):
        self.port = port or free_port()
        self.watchdog = watchdog
        self.camera = camera
        self.record = tmp_path / 'motors.jsonl'
        self.log_path = tmp_path / 'jetbot_server.log'
        self.process = None

    def start(self, timeout: float = 15.0) -> 'EmulatedJetBot':
        """Start the server and wait until it listens."""
        before = self._listening_lines()
        log = open(self.log_path, 'a')
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'nanobot_ros.robots.jetbot.server', '--emulate',
             '--host', '127.0.0.1', '--port', str(self.port), '--watchdog', str(self.watchdog),
             '--record', str(self.record), '--camera', self.camera],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f'emulated JetBot exited: {self.log_path.read_text()}')
            if self._listening_lines() > before:
                return self
            time.sleep(0.05)
        raise TimeoutError(f'emulated JetBot did not listen: {self.log_path.read_text()}')

    def _listening_lines(self) -> int:
        return self.log_path.read_text().count('listening on') if self.log_path.exists() else 0

    def kill(self) -> None:
        """SIGKILL the server: the robot drops off the network without a word."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        """SIGINT the server (it stops its motors) if it still runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def rows(self) -> list:
        """Return every recorded command: dicts with t, left, right, source."""
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line]

    def last(self) -> tuple:
        """Return the newest motor values commanded as a tuple, zeros before any."""
        rows = self.rows()
        return (rows[-1]['left'], rows[-1]['right']) if rows else (0.0, 0.0)

    def wait_for(self, predicate, timeout: float) -> bool:
        """Poll the record until `predicate(rows)` holds; return whether it did in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.rows()):
                return True
            time.sleep(0.02)
        return predicate(self.rows())
