"""Run stacks (`python -m nanobot_ros.stack`) until what a test waits for has happened."""
import signal
import subprocess
import sys


def run_stacks_until(ros, stacks, done, timeout: float = 110.0) -> list:
    """Run one stack per argument list in `stacks`, together, until done() holds; stop them.

    `ros` (the test's RosHarness) spins meanwhile, so done() can read what it heard; then each
    stack stops as on Ctrl-C (also when one ended on its own). The runs' counts follow from
    what happened, not from how fast the machine is: a fixed --duration loses its first seconds
    to start-up and discovery on a busy one. `timeout` bounds the wait; each stack's --duration
    (10 s more) bounds a stack left alone. Returns each stack's exit code and output (text).
    """
    commands = [[sys.executable, '-m', 'nanobot_ros.stack', *arguments,
                 '--duration', str(timeout + 10)] for arguments in stacks]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for command in commands]
    try:
        ros.spin_until(lambda: any(p.poll() is not None for p in processes) or done(), timeout)
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        outputs = [process.communicate(timeout=180) for process in processes]
    return [subprocess.CompletedProcess(command, process.returncode, *output)
            for command, process, output in zip(commands, processes, outputs)]


def run_stack_until(ros, arguments, done, timeout: float = 110.0) -> subprocess.CompletedProcess:
    """Run the stack with `arguments` until done() holds (run_stacks_until); return it."""
    return run_stacks_until(ros, [arguments], done, timeout)[0]
