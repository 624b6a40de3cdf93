"""Fixtures shared by the tests: a private ROS domain per test, rclpy nodes, node processes.

Discovery stays on this host (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST is set before anything
can call rclpy.init), and every test that touches DDS gets a ROS_DOMAIN_ID no other running test
holds (a lock file per domain), so parallel test runs on one machine never hear each other.
"""
import os

os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'  # noqa: E402 - before rclpy
os.environ.setdefault('WANDB_MODE', 'offline')
# One intra-op thread (read when torch is first imported): the tests' models are tiny, and on a
# busy 2-core machine a second thread makes a training step ~60x slower (spinning, not working).
os.environ.setdefault('OMP_NUM_THREADS', '1')
# Before any test makes an EGL context (robots/room/world.py): torch imports triton lazily (the
# first optimizer step), and importing it after an EGL context exists crashes the process.
import torch._dynamo  # noqa: E402, F401

import contextlib  # noqa: E402
import fcntl  # noqa: E402
from pathlib import Path  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

DOMAIN_LOCKS = Path(tempfile.gettempdir()) / 'nanobot_ros_test_domains'
# Domain 0 is everybody's default; Fast DDS accepts ids up to 232.
DOMAIN_IDS = range(1, 200)


@contextlib.contextmanager
def held_domain():
    """Hold a ROS_DOMAIN_ID no other test process holds while the block runs."""
    DOMAIN_LOCKS.mkdir(exist_ok=True)
    start = os.getpid() % len(DOMAIN_IDS)
    for i in range(len(DOMAIN_IDS)):
        domain = DOMAIN_IDS[(start + i) % len(DOMAIN_IDS)]
        lock = open(DOMAIN_LOCKS / f'{domain}.lock', 'w')
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        try:
            yield domain
        finally:
            lock.close()
        return
    raise RuntimeError('every ROS domain id is held by another test')


@pytest.fixture
def ros_domain(monkeypatch):
    """Hold a ROS_DOMAIN_ID no other test process holds; child processes inherit it."""
    with held_domain() as domain:
        monkeypatch.setenv('ROS_DOMAIN_ID', str(domain))
        yield domain


@pytest.fixture(scope='module')
def module_ros_domain():
    """Hold a ROS_DOMAIN_ID for a whole test module (pass it to what starts nodes)."""
    with held_domain() as domain:
        yield domain


class RosHarness:
    """An rclpy context and node in the test's domain, with spin helpers."""

    def __init__(self, domain: int):
        from nanobot_ros.node_reference import DomainNode
        self._own = DomainNode(domain, 'test_harness')
        self.context, self.node, self.executor = self._own.context, self._own.node, \
            self._own.executor

    def spin_for(self, seconds: float) -> None:
        """Process callbacks for `seconds`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.02)

    def spin_until(self, predicate, timeout: float) -> bool:
        """Process callbacks until predicate() is true; return whether it became true."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=0.02)
        return predicate()

    def close(self) -> None:
        """Destroy the node and shut the context down."""
        self._own.close()


@pytest.fixture
def ros(ros_domain):
    """Return a RosHarness in the test's private domain."""
    harness = RosHarness(ros_domain)
    yield harness
    harness.close()


class NodeProcesses:
    """Starts nanobot_ros node executables as child processes and stops them at the end."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.processes = []

    def start(self, name: str, *ros_args: str, params: dict = None,
              executable: str = None) -> subprocess.Popen:
        """Start node `name` (its executable, or `executable`) with `-p key:=value` params."""
        from nanobot_ros.stack import node_command
        command = node_command(name, (params or {}).items(), executable=executable) + \
            list(ros_args)
        log = open(self.log_dir / f'{name}-{len(self.processes)}.log', 'w+')
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        process.log = log
        self.processes.append(process)
        return process

    @staticmethod
    def output(process) -> str:
        """Return what the process printed so far."""
        process.log.flush()
        process.log.seek(0)
        return process.log.read()

    def stop(self, process, timeout: float = 10.0) -> int:
        """SIGINT the process (as ros2 launch does), kill it after `timeout`; return its code."""
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def stop_all(self) -> None:
        """Stop every process still running."""
        for process in self.processes:
            self.stop(process)
            process.log.close()


@pytest.fixture
def nodes(ros_domain, tmp_path):
    """Start node processes in the test's domain; all are stopped when the test ends."""
    processes = NodeProcesses(tmp_path)
    yield processes
    processes.stop_all()
