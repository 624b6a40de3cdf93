"""Run a stack (`python -m nanobot_ros.stack`) until what a test waits for has happened."""
import signal
import subprocess
import sys


def run_stack_until(ros, arguments, done, timeout: float = 110.0) -> subprocess.CompletedProcess:
    """Run the stack with `arguments` until done() holds, then stop it as Ctrl-C does.

    `ros` (the test's RosHarness) spins meanwhile, so done() can read what it heard. The run's
    counts then follow from what happened, not from how fast the machine is: a fixed --duration
    loses its first seconds to discovery on a busy one. `timeout` bounds the wait; the stack's
    --duration (10 s more) bounds a stack left alone. Returns the finished stack's exit code
    and output (text).
    """
    command = [sys.executable, '-m', 'nanobot_ros.stack', *arguments,
               '--duration', str(timeout + 10)]
    stack = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ros.spin_until(lambda: stack.poll() is not None or done(), timeout)
    finally:
        stack.send_signal(signal.SIGINT)
        stdout, stderr = stack.communicate(timeout=180)
    return subprocess.CompletedProcess(command, stack.returncode, stdout, stderr)
