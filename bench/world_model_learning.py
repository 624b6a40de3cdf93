"""How fast the world model learns the default sim online, and how much the action matters.

Runs the adaptive loop (perceive -> predict every action -> select by uncertainty -> act ->
train) in-process on the default toroidal dot world (224 px, radius 5, move 27, seed 0), CPU,
seeded, from a fresh start, and prints the held-out next-frame R² in patch space every
`--eval-every` learner steps: 64 fixed transitions (random dot columns on the robot's row, both
actions) that are never trained on. Held-out transitions, not unseen positions: the 1-D world
has 224 dot columns and the learner visits them all, so this measures learning the world, not
generalising to places it never saw. The clock counts the loop's own work (acting and learning),
not the evaluations; it also reports the process's CPU time (on a shared machine the wall time
is inflated, the CPU time much less). Then the same for a predictor that never sees the action
(every transition labelled with action 0): the gap between the two is what the action
explains. Each line also shows the held-out R² of each action's transitions and of the
autoencoder's own reconstruction of the next frames (the ceiling: a prediction is decoded by
the same decoder).

    ./run.sh python bench/world_model_learning.py [--minutes 10] [--eval-every 50]

Prints `time to R² 0.9: <s> s, <learner steps> steps, <frames> frames`, the lowest held-out R²
of the later evaluations (forgetting), learner steps/s and the machine's load average (the
machine may be shared: judge by learner steps, and by steps/s against the load).
"""
import argparse
import inspect
import math
import os
import time

import numpy as np
import torch

from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.world_model import (TRAINING_PRECISIONS, WorldModel,
                                              WorldModelConfig, WorldModelSize)
from nanobot_ros.models.losses import explained_variance, LossWeights
from nanobot_ros.robots.sim.toroidal_dot import ToroidalDotConfig, ToroidalDotWorld

GOAL = 0.9
FLOOR = 0.85


def held_out_set(config: ToroidalDotConfig, count: int, seed: int, actions=(0, 1)):
    """Return transitions from random positions, the actions taken in turn.

    Random columns on the robot's row; random rows too in a 2-D world.
    """
    world = ToroidalDotWorld(config)
    rng = np.random.default_rng(seed)
    frames, labels, next_frames = [], [], []
    columns = rng.integers(0, config.img_size, count)
    rows = rng.integers(0, config.img_size, count) if world.wraps_vertically else \
        [world.y] * count
    for i, (x, y) in enumerate(zip(columns, rows)):
        world.x, world.y = int(x), int(y)
        frames.append(world.render())
        action = actions[i % len(actions)]
        world.step(action)
        labels.append(actions.index(action))
        next_frames.append(world.render())
    return frames, labels, next_frames


@torch.no_grad()
def held_out_predictions(model: WorldModel, held_out, blind: bool = False):
    """Return (predicted, observed) next-frame patches (B, N, P) of the held-out transitions."""
    frames, labels, next_frames = held_out
    model.autoencoder.eval()
    model.predictor.eval()
    images = model.to_tensor(frames)
    features = model.autoencoder.encode(images)[:, None]
    labels = torch.zeros(len(labels), 1, dtype=torch.long) if blind else \
        torch.tensor(labels)[:, None]
    return (model.predict_patches(features, labels, images)[0],
            model.autoencoder.patchify(model.to_tensor(next_frames)))


def held_out_r2(model: WorldModel, held_out, blind: bool = False) -> float:
    """R² in patch space of the predicted next frames of the held-out transitions."""
    return explained_variance(*held_out_predictions(model, held_out, blind))


def subset(held_out, label: int):
    chosen = [i for i, a in enumerate(held_out[1]) if a == label]
    return tuple([part[i] for i in chosen] for part in held_out)


@torch.no_grad()
def reconstruction_r2(model: WorldModel, frames) -> float:
    """R² in patch space of the autoencoder's unmasked reconstruction of `frames`."""
    model.autoencoder.eval()
    images = model.to_tensor(frames)
    return explained_variance(model.autoencoder(images, 0.0)[0],
                              model.autoencoder.patchify(images))


@torch.no_grad()
def held_out_figures(model: WorldModel, held_out, blind: bool = False) -> dict:
    """Held-out R²: all transitions, per action, and the reconstruction of the next frames."""
    figures = {'all': held_out_r2(model, held_out, blind)}
    for label in sorted(set(held_out[1])):
        figures[label] = held_out_r2(model, subset(held_out, label), blind)
    figures['reconstruction'] = reconstruction_r2(model, held_out[2])
    return figures


def make_model(args, num_actions: int = 2) -> WorldModel:
    """Return a fresh world model of the node's default sizes (command-line overridable)."""
    torch.manual_seed(args.seed)
    return WorldModel(WorldModelConfig.small(
        img_size=args.img_size, patch_size=args.patch_size, embed_dim=args.embed_dim,
        depth=args.depth, predictor_depth=args.predictor_depth, num_actions=num_actions,
        autoencoder_lr=args.lr, predictor_lr=args.predictor_lr,
        mask_ratio_max=args.mask_ratio_max, advection_x=args.advection[0],
        advection_y=args.advection[1], advection_subdivision=args.advection_subdivision,
        loss_weights=LossWeights(latent=args.latent_weight),
        training_precision=args.training_precision),
        seed=args.seed)


def loop_config(args, **overrides) -> LoopConfig:
    values = dict(batch_size=args.batch_size, train_steps_per_frame=args.train_steps,
                  seed=args.seed)
    values.update(overrides)
    return LoopConfig(**values)


def run(blind: bool, args, held_out) -> list:
    """Run the online loop; return [(frame, learner steps, seconds, R²)]."""
    model = make_model(args)
    loop = AdaptiveWorldModelLoop(model, loop_config(args, ignore_actions=blind))
    world = ToroidalDotWorld(ToroidalDotConfig(img_size=args.img_size, seed=args.seed))

    def execute(action):
        world.step(loop.config.idle_action if action is None else action)
        return world.render()

    frame, frames, seconds, cpu, next_eval = world.render(), 0, 0.0, 0.0, args.eval_every
    curve, label = [], 'action-blind' if blind else 'world model'
    minutes = args.blind_minutes if blind and args.blind_minutes else args.minutes
    step_limited = bool(args.max_steps)
    while seconds < minutes * 60 and not (
            step_limited and model.autoencoder_training_step >= args.max_steps):
        started, started_cpu = time.perf_counter(), time.process_time()
        frame = loop.step(frame, execute)['next_frame']
        seconds += time.perf_counter() - started
        cpu += time.process_time() - started_cpu
        frames += 1
        steps = model.autoencoder_training_step
        if steps < next_eval:
            continue
        next_eval += args.eval_every
        figures = held_out_figures(model, held_out, blind)
        curve.append((frames, steps, seconds, figures['all'], cpu))
        print(f'{label:>13}: frame {frames:5d}  learner steps {steps:5d}  {seconds:7.1f} s '
              f'({cpu:6.1f} s CPU)  '
              f'gated frames {loop.gated_frames:4d}  held-out R2 {figures["all"]:+.3f} '
              f'(stay {figures[0]:+.3f}, move {figures[1]:+.3f}; reconstruction '
              f'{figures["reconstruction"]:+.3f})', flush=True)
        if not blind and figures['all'] >= GOAL and args.stop_at_goal:
            break
    return curve


def first_reaching(curve, goal):
    return next((point for point in curve if point[3] >= goal), None)


def report(name: str, curve) -> None:
    """Print time to the goal, the lowest later R² and the learner's speed."""
    final = curve[-1] if curve else (0, 0, 0.0, math.nan, 0.0)
    reached = first_reaching(curve, GOAL)
    speed = final[1] / final[2] if final[2] else math.nan
    cpu_speed = final[1] / final[4] if final[4] else math.nan
    print(f'{name}: final held-out R2 {final[3]:+.3f} after {final[1]} learner steps, '
          f'{final[0]} frames, {final[2]:.1f} s; {speed:.2f} learner steps/s '
          f'({cpu_speed:.2f} per CPU second)', flush=True)
    if reached is None:
        print(f'{name}: time to R² {GOAL}: not reached', flush=True)
        return
    print(f'{name}: time to R² {GOAL}: {reached[2]:.1f} s, {reached[1]} steps, {reached[0]} '
          f'frames ({reached[4]:.1f} s of CPU time)', flush=True)
    later = [c[3] for c in curve if c[1] > reached[1]]
    if later:
        low = min(later)
        print(f'{name}: lowest held-out R2 after reaching {GOAL}: {low:+.3f} over '
              f'{len(later)} later evaluations ({"never" if low >= FLOOR else "fell"} below '
              f'{FLOOR})', flush=True)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the node's default sizes and learning settings, overridable for experiments."""
    parser.add_argument('--train-steps', type=int, default=LoopConfig.train_steps_per_frame,
                        help='learner steps per frame')
    parser.add_argument('--batch-size', type=int, default=LoopConfig.batch_size)
    parser.add_argument('--img-size', type=int, default=ToroidalDotConfig.img_size,
                        help='world and model image size (px)')
    parser.add_argument('--patch-size', type=int, default=32)
    parser.add_argument('--embed-dim', type=int, default=64)
    parser.add_argument('--depth', type=int, default=WorldModelSize.depth,
                        help='ViT encoder blocks')
    parser.add_argument('--predictor-depth', type=int, default=WorldModelSize.predictor_depth)
    parser.add_argument('--lr', type=float, default=WorldModelConfig.autoencoder_lr,
                        help='autoencoder learning rate')
    parser.add_argument('--predictor-lr', type=float, default=WorldModelConfig.predictor_lr)
    parser.add_argument('--mask-ratio-max', type=float,
                        default=inspect.signature(WorldModelConfig.small).parameters[
                            'mask_ratio_max'].default,
                        help='largest share of patches hidden in an autoencoder step')
    parser.add_argument('--latent-weight', type=float, default=LossWeights.latent)
    parser.add_argument('--advection', type=int, nargs=2, metavar=('X', 'Y'),
                        default=(WorldModelSize.advection_x, WorldModelSize.advection_y),
                        help='pixels a predicted frame may move the last one\'s (0 0 = off)')
    parser.add_argument('--advection-subdivision', type=int,
                        default=WorldModelSize.advection_subdivision,
                        help='each patch moves as s x s sub-patches with kernels of their own')
    parser.add_argument('--training-precision', choices=TRAINING_PRECISIONS,
                        default=WorldModelConfig.training_precision,
                        help='learner steps in float32, bfloat16 autocast, or auto (bfloat16 '
                             'where the CPU has it natively)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--minutes', type=float, default=10.0,
                        help='loop time per predictor (evaluations not counted)')
    parser.add_argument('--blind-minutes', type=float, default=0.0,
                        help='loop time of the action-blind predictor (0 = --minutes)')
    parser.add_argument('--max-steps', type=int, default=0, help='stop after this many learner '
                        'steps (0 = only the time limit)')
    parser.add_argument('--eval-every', type=int, default=50, help='learner steps')
    parser.add_argument('--variant', choices=('both', 'action', 'blind'), default='both',
                        help='run both predictors (default) or one, e.g. in two processes')
    parser.add_argument('--stop-at-goal', action='store_true',
                        help='stop the world model run once R2 >= 0.9')
    add_model_arguments(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    held_out = held_out_set(ToroidalDotConfig(img_size=args.img_size, seed=args.seed), 64,
                            seed=args.seed + 1000)
    print(f'world_model_learning: default sim, patch {args.patch_size}, dim {args.embed_dim}, '
          f'batch {args.batch_size}, {args.train_steps} learner step(s)/frame, lr '
          f'{args.lr:g} (predictor {args.predictor_lr:g}), latent weight '
          f'{args.latent_weight:g}, seed {args.seed}, {torch.get_num_threads()} torch '
          f'thread(s), {args.minutes:g} min per predictor; load average '
          f'{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores', flush=True)
    variants = {'both': (False, True), 'action': (False,), 'blind': (True,)}[args.variant]
    results = {blind: run(blind, args, held_out) for blind in variants}
    for blind, name in ((False, 'world model'), (True, 'action-blind predictor')):
        if blind in results:
            report(name, results[blind])
    if results.get(False) and results.get(True):
        steps = min(results[False][-1][1], results[True][-1][1])
        aware = [c for c in results[False] if c[1] <= steps][-1][3]
        blind = [c for c in results[True] if c[1] <= steps][-1][3]
        print(f'action matters: at learner step {steps} held-out R2 {aware:+.3f} with the '
              f'action vs {blind:+.3f} without (gap {aware - blind:+.3f})', flush=True)
    print(f'load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores',
          flush=True)


if __name__ == '__main__':
    main()
