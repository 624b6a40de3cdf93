"""The room stack's own world model from nothing, measured: #26's figure in one command.

    ./run.sh python bench/room_stack_world_model.py                  # 10 minutes of wall time
    ./run.sh python bench/room_stack_world_model.py --minutes 10 --set room.frame_rate=30

Runs `./run.sh sim --config config/room.yaml` for --minutes of wall time with a checkpoint
folder of its own (no data, no checkpoint: a fresh start), in a private ROS domain, then
measures the world model the stack saved at shutdown on bench/room_world_model.py's held-out
sets (its `--checkpoint`: the per-action tables, where the error lies, the goal line, and a
picture of the worst-predicted transitions, worst_transitions.png in the --runs folder). Ends
with one line: `room stack world model: <frames> frames at <f> frames/s, <n> learner steps in
<s> s of wall time; worst action R² <x>; error / copy-last-frame <y>`. The load average at the
start and the end is printed beside the figures: the machine is shared.
"""
import argparse
import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time

from room_world_model import checkpoint_figures, ROOM_CONFIG

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--minutes', type=float, default=10.0,
                        help='wall time the stack runs from nothing')
    parser.add_argument('--config', type=Path, default=ROOM_CONFIG)
    parser.add_argument('--set', action='append', default=[], metavar='NODE.PARAM=VALUE',
                        help='a stack parameter override, as `./run.sh sim --set`')
    parser.add_argument('--runs', type=Path, default=None,
                        help='folder for the run folder and the checkpoint (default: a new '
                        'temporary one)')
    args = parser.parse_args(argv)
    os.environ.setdefault('ROS_DOMAIN_ID', '208')
    runs = args.runs or Path(tempfile.mkdtemp(prefix='room_stack_'))
    checkpoints = runs / 'checkpoints'
    start_load = os.getloadavg()[0]
    print(f'room stack world model: {args.config} for {args.minutes:g} min from nothing, '
          f'overrides {args.set or "none"}; load average {start_load:.2f} on '
          f'{os.cpu_count()} cores', flush=True)
    start = time.monotonic()
    stack = subprocess.run(
        [sys.executable, '-m', 'nanobot_ros.stack', '--config', str(args.config),
         '--duration', str(args.minutes * 60), '--runs', str(runs),
         '--set', f'world_model.checkpoint_dir={checkpoints}',
         *[arg for override in args.set for arg in ('--set', override)]],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    ran_s = time.monotonic() - start
    if stack.returncode != 0:
        print(f'room stack world model: the stack exited with {stack.returncode}',
              file=sys.stderr)
        return 1
    run_dir = Path(stack.stdout.strip().splitlines()[-1])
    summary = json.loads((run_dir / 'summary.json').read_text())
    print(f'the stack ran {ran_s:.0f} s (run folder {run_dir}); load average at the end '
          f'{os.getloadavg()[0]:.2f}', flush=True)
    checkpoint = checkpoints / 'world_model.safetensors'
    figures = checkpoint_figures(checkpoint, worst_picture=runs / 'worst_transitions.png')
    frames = figures['frames']
    seconds = summary.get('duration_s', args.minutes * 60)
    print(f'room stack world model: {frames} frames at {frames / seconds:.1f} frames/s, '
          f'{figures["steps"]} learner steps in {seconds:.0f} s of wall time; worst action R² '
          f'{figures["worst"]:.3f}; error / copy-last-frame {figures["ratio"]:.3f}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
