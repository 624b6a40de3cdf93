"""GRPO on 1 and on N processes (torchrun, gloo): wall time per iteration and weight difference.

    ./run.sh python bench/grpo_processes.py runs/low_data/bc_50.safetensors --iterations 3

Runs `nanobot grpo` from the same clone once plainly and once under torchrun with
--nproc N (each process one torch thread), then prints the seconds per iteration of each, the
env steps (equal when both played the same episodes) and the largest weight difference of the
two checkpoints (test_grpo_distributed.py says which parameters differ by more than rounding).
"""
import argparse
import json
from pathlib import Path
import subprocess
import sys
import tempfile
import time

from nanobot_ros.policy.weights import load_policy


def grpo(init: str, run_dir: Path, args, launcher=()) -> float:
    """Run `nanobot grpo`; return its wall time in seconds."""
    command = [*launcher, *([] if launcher else [sys.executable]), '-m', 'nanobot_ros.cli',
               'grpo', init, '--run-dir', str(run_dir), '--start-states',
               str(args.start_states), '--max-iterations', str(args.iterations), '--lr', '1e-4',
               '--kl-coef', '0.05', '--no-wandb', '--no-progress']
    start = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, text=True)
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('init', help='a cloned policy (categorical head)')
    parser.add_argument('--iterations', type=int, default=3)
    parser.add_argument('--start-states', type=int, default=16)
    parser.add_argument('--nproc', type=int, default=2)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix='grpo_processes_'))
    launcher = [sys.executable, '-m', 'torch.distributed.run', '--standalone',
                '--nproc_per_node', str(args.nproc)]
    seconds = {1: grpo(args.init, out / 'one', args),
               args.nproc: grpo(args.init, out / 'many', args, launcher)}
    summaries = {n: json.loads((out / name / 'summary.json').read_text())
                 for n, name in ((1, 'one'), (args.nproc, 'many'))}
    one, _ = load_policy(out / 'one' / 'grpo.safetensors')
    many, _ = load_policy(out / 'many' / 'grpo.safetensors')
    difference = max(float((p - q).abs().max()) for p, q in zip(
        one.state_dict().values(), many.state_dict().values()))
    print(f'{args.iterations} GRPO iterations of {args.start_states} x 8 episodes from '
          f'{args.init}')
    print(f'{"processes":>9} {"s / iteration":>14} {"env steps":>10}')
    for n in (1, args.nproc):
        print(f'{n:>9} {seconds[n] / args.iterations:>14.1f} {summaries[n]["env_steps"]:>10}')
    print(f'largest weight difference between the two: {difference:.2e}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
