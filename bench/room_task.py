"""The room task's scripted expert: success, actions per episode, the world's cost per action.

    ./run.sh python bench/room_task.py --seeds 0 1000          # benches' seeds (selection+final)
    ./run.sh python bench/room_task.py --seeds 1000 1200       # demonstration seeds

Plays the expert (robots/room/task.py) on every episode seed in [start, stop) with the training
phrasings and prints the success rate (goal: 100 %), the failing seeds, the actions per episode
(mean, max: the step budget must cover the max), the share of two-step instructions, and the
world's CPU time per action (physics of one action + the 64 px frame) with its physics steps:
the figures behind the task's budget and cost. CPU time is this process's: on a shared machine
that is the cost, the wall time what one got (both are printed, with the load).
"""
import argparse
import os
import time

import numpy as np

from nanobot_ros.robots.room.task import RoomTask, RoomTaskConfig


def main() -> int:
    """Run the expert over the seeds; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, nargs=2, default=(0, 1000), metavar=('START', 'STOP'))
    args = parser.parse_args()
    seeds = range(*args.seeds)
    task = RoomTask(RoomTaskConfig())
    success, steps, two_step, failed = [], [], 0, []
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        for seed in seeds:
            task.reset(seed)
            while not task.done:
                task.step(task.expert())
            success.append(task.reached)
            steps.append(task.steps)
            two_step += task.episode.steps == 2
            if not task.reached:
                failed.append(seed)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        per_action = task.world.steps_per_action
    finally:
        task.close()
    total = sum(steps)
    print(f'room task expert, seeds {seeds.start}..{seeds.stop - 1} ({len(seeds)} episodes, '
          f'{100 * two_step / len(seeds):.0f} % two-step), load {os.getloadavg()[0]:.1f}')
    print(f'success {100 * np.mean(success):.1f} % ({sum(success)}/{len(seeds)}); failed seeds: '
          f'{failed or "none"}')
    print(f'actions per episode: mean {np.mean(steps):.1f}, max {max(steps)} '
          f'(budget {task.config.step_budget})')
    print(f'world per action ({per_action} physics steps + a 64 px frame): '
          f'{1000 * cpu / total:.2f} ms CPU, {1000 * wall / total:.2f} ms wall')
    return 0 if all(success) else 1


if __name__ == '__main__':
    raise SystemExit(main())
