"""How fast the world model learns the default sim online, and how much the action matters.

Runs the adaptive loop (perceive -> predict every action -> select by uncertainty -> act ->
train) in-process on the default toroidal dot world (224 px, radius 5, move 27, seed 0), CPU,
seeded, and prints the held-out next-frame R² in patch space over time: 64 fixed transitions
(random dot columns on the robot's row, both actions) that are never trained on. Then the same
for a predictor that never sees the action (every transition labelled with action 0): the gap
between the two is what the action explains. Each line also shows the held-out R² of each
action's transitions and of the autoencoder's own reconstruction of the next frames (the
ceiling: a prediction is decoded by the same decoder).

    ./run.sh python bench/world_model_learning.py [--frames 600] [--eval-every 50]
"""
import argparse
import math
import time

import numpy as np
import torch
from tqdm import tqdm

from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.world_model import WorldModel, WorldModelConfig
from nanobot_ros.models.losses import explained_variance
from nanobot_ros.robots.sim.toroidal_dot import ToroidalDotConfig, ToroidalDotWorld

GOAL = 0.9


def held_out_set(config: ToroidalDotConfig, count: int, seed: int):
    """Transitions from random columns on the robot's row; half stay, half move."""
    world = ToroidalDotWorld(config)
    rng = np.random.default_rng(seed)
    frames, actions, next_frames = [], [], []
    for i, x in enumerate(rng.integers(0, config.img_size, count)):
        world.x = int(x)
        frames.append(world.render())
        action = i % 2
        world.step(action)
        actions.append(action)
        next_frames.append(world.render())
    return frames, actions, next_frames


@torch.no_grad()
def held_out_r2(model: WorldModel, held_out, blind: bool) -> float:
    """R² in patch space of the predicted next frames of the held-out transitions."""
    frames, actions, next_frames = held_out
    model.autoencoder.eval()
    model.predictor.eval()
    features = model.autoencoder.encode(model.to_tensor(frames))[:, None]
    labels = torch.zeros(len(actions), 1, dtype=torch.long) if blind else \
        torch.tensor(actions)[:, None]
    predicted, _ = model.predictor(features, labels)
    patches = model.autoencoder.decode(predicted)
    return explained_variance(patches, model.autoencoder.patchify(model.to_tensor(next_frames)))


@torch.no_grad()
def held_out_figures(model: WorldModel, held_out, blind: bool) -> dict:
    """Held-out R²: all transitions, per action, and the reconstruction of the next frames."""
    frames, actions, next_frames = held_out
    figures = {'all': held_out_r2(model, held_out, blind)}
    for action in sorted(set(actions)):
        chosen = [i for i, a in enumerate(actions) if a == action]
        figures[action] = held_out_r2(model, tuple([part[i] for i in chosen]
                                                   for part in held_out), blind)
    images = model.to_tensor(next_frames)
    figures['reconstruction'] = explained_variance(model.autoencoder(images, 0.0)[0],
                                                   model.autoencoder.patchify(images))
    return figures


def run(blind: bool, args, held_out) -> list:
    """Run the online loop; return [(frame, learner steps, seconds, R²)]."""
    torch.manual_seed(args.seed)
    model = WorldModel(WorldModelConfig.small(
        patch_size=args.patch_size, embed_dim=args.embed_dim, mask_ratio_min=args.mask_ratio[0],
        mask_ratio_max=args.mask_ratio[1], autoencoder_lr=args.lr,
        predictor_lr=args.predictor_lr), seed=args.seed)
    loop = AdaptiveWorldModelLoop(model, LoopConfig(
        reconstruction_threshold=args.threshold, batch_size=args.batch_size,
        train_steps_per_frame=args.train_steps, ignore_actions=blind, seed=args.seed))
    world = ToroidalDotWorld(ToroidalDotConfig(seed=args.seed))

    def execute(action):
        world.step(loop.config.idle_action if action is None else action)
        return world.render()

    frame = world.render()
    curve, started = [], time.perf_counter()
    label = 'action-blind' if blind else 'world model'
    for index in tqdm(range(1, args.frames + 1), desc=label, unit='frame', leave=False):
        frame = loop.step(frame, execute)['next_frame']
        if index % args.eval_every == 0:
            figures = held_out_figures(model, held_out, blind)
            r2 = figures['all']
            steps = model.autoencoder_training_step
            seconds = time.perf_counter() - started
            curve.append((index, steps, seconds, r2))
            tqdm.write(f'{label:>13}: frame {index:5d}  learner steps {steps:5d}  '
                       f'{seconds:7.1f} s  gated frames {loop.gated_frames:4d}  '
                       f'held-out R2 {r2:+.3f} (stay {figures[0]:+.3f}, move '
                       f'{figures[1]:+.3f}; reconstruction {figures["reconstruction"]:+.3f})')
            if not blind and r2 >= GOAL and args.stop_at_goal:
                break
    return curve


def first_reaching(curve, goal):
    return next((point for point in curve if point[3] >= goal), None)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--frames', type=int, default=600)
    parser.add_argument('--eval-every', type=int, default=50)
    parser.add_argument('--train-steps', type=int, default=4, help='learner steps per frame '
                        '(more per frame: the per-frame perception cost is shared)')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--patch-size', type=int, default=32)
    parser.add_argument('--embed-dim', type=int, default=64)
    parser.add_argument('--lr', type=float, default=3e-3, help='autoencoder learning rate')
    parser.add_argument('--predictor-lr', type=float, default=5e-4)
    parser.add_argument('--mask-ratio', type=float, nargs=2, default=(0.0, 0.5),
                        metavar=('MIN', 'MAX'), help='training mask ratio range')
    parser.add_argument('--threshold', type=float, default=1e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--variant', choices=('both', 'action', 'blind'), default='both',
                        help='run both predictors (default) or one, e.g. in two processes')
    parser.add_argument('--stop-at-goal', action='store_true',
                        help='stop the world model run once R2 >= 0.9')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    held_out = held_out_set(ToroidalDotConfig(seed=args.seed), 64, seed=args.seed + 1000)
    print(f'world_model_learning: default sim, patch {args.patch_size}, dim {args.embed_dim}, '
          f'batch {args.batch_size}, {args.train_steps} learner step(s)/frame, lr '
          f'{args.lr:g} (predictor {args.predictor_lr:g}), mask ratio {args.mask_ratio[0]:g}-'
          f'{args.mask_ratio[1]:g}, seed '
          f'{args.seed}, {torch.get_num_threads()} torch thread(s)', flush=True)
    variants = {'both': (False, True), 'action': (False,), 'blind': (True,)}[args.variant]
    results = {blind: run(blind, args, held_out) for blind in variants}
    for blind, name in ((False, 'world model'), (True, 'action-blind predictor')):
        if blind not in results:
            continue
        curve = results[blind]
        final = curve[-1] if curve else (0, 0, 0.0, math.nan)
        reached = first_reaching(curve, GOAL)
        best = max((c[3] for c in curve), default=math.nan)
        text = (f'R2 >= {GOAL} at frame {reached[0]}, learner step {reached[1]}, '
                f'{reached[2]:.1f} s' if reached else f'R2 >= {GOAL} not reached')
        print(f'{name}: final held-out R2 {final[3]:+.3f} (best {best:+.3f}) after frame '
              f'{final[0]}, {final[2]:.1f} s; {text}', flush=True)
    if results.get(False) and results.get(True):
        frames = min(results[False][-1][0], results[True][-1][0])
        aware = next(c for c in results[False] if c[0] == frames)[3]
        blind = next(c for c in results[True] if c[0] == frames)[3]
        print(f'action matters: at frame {frames} held-out R2 {aware:+.3f} with the action vs '
              f'{blind:+.3f} without (gap {aware - blind:+.3f})', flush=True)


if __name__ == '__main__':
    main()
