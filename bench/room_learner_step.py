"""The room world model's learner step: CPU time in float32 and under bfloat16 autocast.

`./run.sh python bench/room_learner_step.py` builds config/room.yaml's world model (as
bench/room_world_model.py does), takes real room transitions (every action from poses of the
held-out sampler, its own seed) and times `WorldModel.train_step` on one torch thread in each
training precision, the two interleaved in rounds so that a shared machine's load falls on
both alike. Reports the median CPU time a step per precision and their ratio, whether the CPU
multiplies bfloat16 natively (what `training_precision: auto` follows), and the patch loss
each reached on the same batches (the two learn alike or the ratio means nothing).
"""
import argparse
import os
import statistics
import time

import torch

from nanobot_ros.learning.world_model import training_dtype
from room_world_model import (ACTION_NAMES, make_model, room_defaults, room_held_out,
                              RoomConfig)
from world_model_learning import add_model_arguments

PRECISIONS = ('float32', 'bfloat16')


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--poses', type=int, default=40, help='poses, each followed by every '
                        'action: the transitions batches are drawn from')
    parser.add_argument('--rounds', type=int, default=8, help='rounds of steps per precision')
    parser.add_argument('--steps', type=int, default=10, help='learner steps a round')
    add_model_arguments(parser)
    parser.set_defaults(**{'img_size': RoomConfig.img_size, **room_defaults()})
    args = parser.parse_args()
    torch.set_num_threads(1)
    native = training_dtype('auto') == torch.bfloat16
    print(f'load average before: {os.getloadavg()[0]:.2f}; one torch thread; batch '
          f'{args.batch_size}, {args.img_size} px, patch {args.patch_size}; bfloat16 native '
          f'on this CPU: {"yes" if native else "no"} (auto = '
          f'{"bfloat16" if native else "float32"})')
    frames, labels, next_frames = room_held_out(
        RoomConfig(img_size=args.img_size), args.poses, seed=args.seed + 2000)
    models = {}
    for precision in PRECISIONS:
        args.training_precision = precision
        models[precision] = make_model(args, num_actions=len(ACTION_NAMES))
    before = models['float32'].to_tensor(frames)[:, None]
    after = models['float32'].to_tensor(next_frames)
    actions = torch.tensor(labels)[:, None]
    draws = torch.Generator().manual_seed(args.seed)
    batches = [torch.randint(len(labels), (args.batch_size,), generator=draws)
               for _ in range(args.steps)]
    cpu = {precision: [] for precision in PRECISIONS}
    loss = {}
    for round_ in range(args.rounds + 1):  # the first round warms up, untimed
        for precision, model in models.items():
            start = time.process_time()
            for chosen in batches:
                metrics = model.train_step(before[chosen], actions[chosen], after[chosen])
            if round_:
                cpu[precision].append((time.process_time() - start) / args.steps)
            loss[precision] = metrics['predictor_patch_loss']
    ms = {precision: statistics.median(times) * 1e3 for precision, times in cpu.items()}
    print('| precision | CPU ms a learner step (median of rounds) | patch loss after '
          f'{(args.rounds + 1) * args.steps} steps |')
    print('|---|---|---|')
    for precision in PRECISIONS:
        print(f'| {precision} | {ms[precision]:.1f} | {loss[precision]:.5f} |')
    print(f'load average after: {os.getloadavg()[0]:.2f}')
    print(f'room learner step: float32 {ms["float32"]:.1f} ms, bfloat16 {ms["bfloat16"]:.1f} '
          f'ms of CPU; bfloat16 / float32 {ms["bfloat16"] / ms["float32"]:.2f}')


if __name__ == '__main__':
    main()
