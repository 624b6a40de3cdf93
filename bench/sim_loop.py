"""Frames per second of the sim <-> runner closed loop over DDS (`./run.sh python bench/...`).

Runs the sim + runner stack (config/sim_runner.yaml: no learning, so the loop itself is what
is timed) twice through the stack runner (real processes, real DDS): with the
configured frame rate (30 Hz) and with frame_rate 0, where the lockstep sim steps as soon as the
runner's answer arrives, which measures the loop's own speed. Prints frames/s for both and the
observation -> action round trip implied by the unthrottled rate.
"""
import argparse
import json
from pathlib import Path
import subprocess
import sys
import tempfile

ROOT = Path(__file__).resolve().parents[1]


def run_stack(duration: float, runs: Path, *overrides: str) -> dict:
    command = [sys.executable, '-m', 'nanobot_ros.stack', '--config',
               str(ROOT / 'config' / 'sim_runner.yaml'), '--duration', str(duration),
               '--runs', str(runs)]
    for override in overrides:
        command += ['--set', override]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    return json.loads((run_dir / 'summary.json').read_text())


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--duration', type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as runs:
        paced = run_stack(args.duration, Path(runs))
        free = run_stack(args.duration, Path(runs), 'sim.frame_rate=0')
    labels = ('frame_rate 30 (default)', 'frame_rate 0 (lockstep, as fast as answers)')
    for label, summary in zip(labels, (paced, free)):
        print(f'sim loop, {label}: {summary["frames_per_s"]:.1f} frames/s, '
              f'{summary["actions_applied"]} actions applied of {summary["actions"]}')
    print(f'unthrottled loop period: {1e3 / free["frames_per_s"]:.2f} ms per '
          f'frame -> action -> step')


if __name__ == '__main__':
    main()
