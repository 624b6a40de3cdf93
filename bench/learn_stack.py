"""The learn stack from nothing: time until the kernel drives the task at >= 90 % success.

    ./run.sh python bench/learn_stack.py                  # at most 1200 s, stops at the goal
    ./run.sh python bench/learn_stack.py --duration 600 --keep-running
    ./run.sh python bench/learn_stack.py --config config/learn_room.yaml   # the room
    ./run.sh python bench/learn_stack.py --config config/learn_room.yaml \
        --set arbiter.handover_success=0.5 --set arbiter.handback_success=0.3

Runs `./run.sh sim --config config/learn.yaml` (no data, no checkpoint: each run has its own
folder) in a private ROS domain, follows the arbiter's learn/status, and stops the stack once
the kernel's last 50 episodes succeeded >= 90 % (`kernel_goal_s`), or after --duration. Then
prints, from the run's summary.json and learn_history.json, where the time went: recording
(until the trainer had its first closed split), training (steps), exports, the evaluations of
each export on held-out episodes, the hand-over, and the kernel's live episodes up to the goal.
The load average (uptime) at the start and the end is printed beside the figures: the machine
is shared.
"""
import argparse
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]


def load() -> str:
    """Return the 1, 5 and 15 minute load averages."""
    return ' '.join(f'{x:.2f}' for x in os.getloadavg())


def follow(config: Path, duration: float, keep_running: bool, runs: Path,
           overrides: list) -> tuple:
    """Run the stack; return (run folder, last learn/status, seconds the stack ran)."""
    import rclpy
    from std_msgs.msg import String
    from nanobot_ros.contract import LEARN_STATUS
    from nanobot_ros.nodes.common import qos_profile
    rclpy.init()
    node = rclpy.create_node('learn_stack_bench')
    status = {}
    node.create_subscription(String, LEARN_STATUS.fqn(),
                             lambda msg: status.update(json.loads(msg.data)),
                             qos_profile(LEARN_STATUS))
    stack = subprocess.Popen(
        [sys.executable, '-m', 'nanobot_ros.stack', '--config', str(config),
         '--duration', str(duration), '--runs', str(runs),
         *[arg for override in overrides for arg in ('--set', override)]],
        stdout=subprocess.PIPE, text=True)
    start = time.monotonic()
    last_print = start
    try:
        while stack.poll() is None:
            rclpy.spin_once(node, timeout_sec=0.5)
            if not keep_running and status.get('kernel_goal_s') is not None:
                stack.send_signal(signal.SIGINT)
                break
            if time.monotonic() - last_print > 60:
                last_print = time.monotonic()
                print(f'[{last_print - start:6.0f} s] {status.get("driver")} drives; trainer '
                      f'step {status.get("trainer_step")} loss {status.get("trainer_loss")}; '
                      f'evaluated {status.get("evaluated_version")}: '
                      f'{status.get("evaluated_success")}; kernel success '
                      f'{status.get("kernel_success")}; load {load()}', flush=True)
        out, _ = stack.communicate(timeout=300)
    finally:
        if stack.poll() is None:  # interrupted: the stack still stops cleanly
            stack.send_signal(signal.SIGINT)
            stack.wait(timeout=300)
        node.destroy_node()
        rclpy.shutdown()
    return Path(out.strip().splitlines()[-1]), status, time.monotonic() - start


def main() -> int:
    """Run the stack, print where the time went and the goal line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--duration', type=float, default=1200.0, help='seconds at most')
    parser.add_argument('--keep-running', action='store_true',
                        help='run the whole --duration, not only until the goal')
    parser.add_argument('--runs', default='', help='folder for the run folder')
    parser.add_argument('--config', default=str(ROOT / 'config/learn.yaml'),
                        help='the learn stack: config/learn.yaml (the sim) or '
                             'config/learn_room.yaml (the room)')
    parser.add_argument('--set', action='append', default=[], metavar='NODE.PARAM=VALUE',
                        help="a parameter over the config's, as the stack's --set "
                             '(e.g. arbiter.handover_success=0.5); repeatable')
    args = parser.parse_args()
    os.environ.setdefault('ROS_DOMAIN_ID', '207')
    runs = Path(args.runs or tempfile.mkdtemp(prefix='learn_stack_'))
    print(f'load at start: {load()}', flush=True)
    run_dir, status, ran_s = follow(Path(args.config), args.duration, args.keep_running, runs,
                                    args.set)
    summary = json.loads((run_dir / 'summary.json').read_text())
    arbiter, trainer = summary['arbiter'], summary['trainer']
    history = json.loads((run_dir / 'learn_history.json').read_text())
    print(f'run folder {run_dir}; the stack ran {ran_s:.0f} s; load at end: {load()}')
    print(f'recording: the trainer had its first closed split after {trainer["first_data_s"]} '
          f's (of its own start)')
    print(f'training: {trainer["step"]} steps, {trainer["samples"]} samples, last epoch loss '
          f'{trainer["loss"]}')
    print(f'export: {trainer["exports"]} exports, {trainer["export_s"]:.1f} s in all')
    print(f'evaluation: {arbiter["evaluations"]} exports evaluated on held-out episodes, '
          f'{arbiter["evaluation_s"]:.1f} s in all (beside the stack, in the arbiter):')
    for seconds, version, success in history['evaluations']:
        print(f'  {seconds:7.1f} s  step {version}: {100 * success:.0f} %')
    print(f'hand-over: {arbiter["handover_s"]} s; hand-backs {arbiter["handbacks"]}; '
          f'episodes: teacher {arbiter["teacher_episodes"]}, kernel {arbiter["kernel_episodes"]}')
    goal = arbiter['kernel_goal_s']
    print(f'learn stack: hand-over {arbiter["handover_s"]} s; kernel >= 90 % over its last 50 '
          f'episodes at {goal} s; kernel_success {arbiter["kernel_success"]} '
          f'(load {load()})')
    return 0 if goal is not None else 1


if __name__ == '__main__':
    sys.exit(main())
