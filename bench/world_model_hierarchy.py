"""Hierarchical predictors on the dot world: held-out multi-step R² per level, direct vs composed.

Runs the adaptive loop with its hierarchy (learning/hierarchy.py) in-process on the toroidal dot
world, from a fresh start, seeded: level 0 (the one-step predictor) learns online, level k is
created automatically once level k - 1's held-out R² over its last `--window` fresh predictions
reaches `--creation-r2`, and exploration chooses among primitive and macro-actions. Every
`--eval-every` learner steps it prints, on fixed held-out transitions never trained on (random
dot columns on the robot's row, the actions / macro-actions in turn): level 0's one-step R² and,
for every level k that exists, the R² of its direct prediction of the frame 2^k steps later and
of composing level 0's predictions step by step along the same actions (level 0 fed its own
predicted tokens), both in patch space against the true frame.

    ./run.sh python bench/world_model_hierarchy.py [--max-steps 1200] [--creation-r2 0.85]
        [--img-size 224
        --patch-size 32]   # the default sim's size; the default is 112 px, patch 16 (7x7 too)

The default world is the sim's dot world at half size (112 px, radius 5, moves of 27 px, the
same 7x7 patch grid as 224 px / patch 32) so that a run takes a few minutes of CPU.
"""
import argparse
import os
import time

import numpy as np
import torch

from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop
from nanobot_ros.learning.hierarchy import composed_rollout, decode_macro, \
    direct_vs_composed, Hierarchy, HierarchyConfig, predict_macros
from nanobot_ros.robots.sim.toroidal_dot import ToroidalDotConfig, ToroidalDotWorld
from world_model_learning import add_model_arguments, held_out_r2, held_out_set, \
    loop_config, make_model

ACTIONS = (0, 1)


def macro_held_out_set(config: ToroidalDotConfig, count: int, length: int, seed: int):
    """Return (start frames, macro indices, action label sequences (count, length), end frames).

    Random columns on the robot's row; the macro-actions of `length` steps taken in turn.
    """
    world = ToroidalDotWorld(config)
    rng = np.random.default_rng(seed)
    starts, macros, sequences, ends = [], [], [], []
    for i, x in enumerate(rng.integers(0, config.img_size, count)):
        world.x = int(x)
        starts.append(world.render())
        macro = i % len(ACTIONS) ** length
        sequence = decode_macro(macro, length, len(ACTIONS))
        for label in sequence:
            world.step(ACTIONS[label])
        macros.append(macro)
        sequences.append(sequence)
        ends.append(world.render())
    return starts, torch.tensor(macros), torch.tensor(sequences), ends


@torch.no_grad()
def level_figures(model, level, held_out) -> dict:
    """Held-out R² of a level's direct prediction and of the composed level-0 rollout."""
    starts, macros, sequences, ends = held_out
    model.autoencoder.eval()
    features = model.autoencoder.encode(model.to_tensor(starts))
    direct, _ = predict_macros(model, level.predictor, features, macros)
    composed = composed_rollout(model, starts, sequences)
    return direct_vs_composed(direct, composed, model.autoencoder.patchify(
        model.to_tensor(ends)))


def evaluate(model, hierarchy, one_step, macro_sets) -> dict:
    """{0: one-step R², k: {'direct', 'composed'} for every existing level k}."""
    figures = {0: held_out_r2(model, one_step)}
    for level in hierarchy.levels:
        figures[level.index] = level_figures(model, level, macro_sets[level.index])
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--max-steps', type=int, default=1200, help='learner steps')
    parser.add_argument('--eval-every', type=int, default=100, help='learner steps')
    parser.add_argument('--levels', type=int, default=HierarchyConfig.hierarchy_levels)
    parser.add_argument('--creation-r2', type=float,
                        default=HierarchyConfig.level_creation_r2)
    parser.add_argument('--window', type=int, default=HierarchyConfig.level_creation_window)
    parser.add_argument('--level-steps', type=int, default=HierarchyConfig.level_train_steps,
                        help='training steps of every level per learner step')
    parser.add_argument('--held-out', type=int, default=64, help='transitions per level')
    parser.add_argument('--reconstruction-threshold', type=float, default=0.004,
                        help='the gate; the 224 px default 0.001 scaled by the dot\'s 4x '
                        'larger share of a 112 px image')
    add_model_arguments(parser)
    parser.set_defaults(img_size=112, patch_size=16)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    world_config = ToroidalDotConfig(img_size=args.img_size, seed=args.seed)
    hierarchy_config = HierarchyConfig(args.levels, args.creation_r2, args.window,
                                       args.level_steps)
    model = make_model(args)
    hierarchy = Hierarchy(hierarchy_config, model, len(ACTIONS), args.batch_size,
                          seed=args.seed)
    loop = AdaptiveWorldModelLoop(model, loop_config(
        args, reconstruction_threshold=args.reconstruction_threshold), hierarchy=hierarchy)
    one_step = held_out_set(world_config, args.held_out, seed=args.seed + 1000)
    macro_sets = {k: macro_held_out_set(world_config, args.held_out, 2 ** k,
                                        seed=args.seed + 1000 + k)
                  for k in range(1, hierarchy.max_levels + 1)}
    print(f'world_model_hierarchy: dot world {args.img_size} px (patch {args.patch_size}), '
          f'{hierarchy.max_levels} level(s) allowed, created at R2 >= {args.creation_r2} over '
          f'{args.window} fresh predictions, {args.level_steps} level step(s) per learner step; '
          f'up to {args.max_steps} learner steps, '
          f'{args.held_out} held-out transitions per level; seed {args.seed}; load average '
          f'{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores', flush=True)
    world = ToroidalDotWorld(world_config)

    def execute(action):
        world.step(loop.config.idle_action if action is None else action)
        return world.render()

    frame, next_eval, started, figures = world.render(), args.eval_every, time.process_time(), {}
    created = {}
    while model.autoencoder_training_step < args.max_steps:
        frame = loop.step(frame, execute)['next_frame']
        steps = model.autoencoder_training_step
        for level in hierarchy.levels:
            if level.index not in created:
                below = hierarchy.reliability(level.index - 1)
                created[level.index] = steps
                print(f'level {level.index} created at learner step {steps}: level '
                      f'{level.index - 1} R2 {below.r2():+.3f} over its last '
                      f'{len(below.pairs)} fresh predictions', flush=True)
        if steps < next_eval:
            continue
        next_eval += args.eval_every
        figures = evaluate(model, hierarchy, one_step, macro_sets)
        line = ', '.join(f'level {k} direct {f["direct"]:+.3f} composed {f["composed"]:+.3f}'
                         for k, f in figures.items() if k)
        online = ', '.join(f'{k} {hierarchy.reliability(k).r2():+.3f}'
                           for k in range(len(hierarchy.levels) + 1))
        print(f'learner step {steps:5d} ({time.process_time() - started:6.1f} s CPU): gated '
              f'{loop.gated_frames}, online R2 of levels {online}; held-out: level 0 '
              f'{figures[0]:+.3f}' + (f'; {line}' if line else '')
              + f'; macro choices {dict(hierarchy.macro_selections)}', flush=True)
    print(f'after {model.autoencoder_training_step} learner steps '
          f'({time.process_time() - started:.1f} s CPU), held-out R2 in patch space:',
          flush=True)
    print(f'level 0 (1 step): {figures.get(0, float("nan")):+.3f}', flush=True)
    for k in range(1, hierarchy.max_levels + 1):
        if k not in figures:
            print(f'level {k} ({2 ** k} steps): not created', flush=True)
            continue
        f = figures[k]
        print(f'level {k} ({2 ** k} steps): direct {f["direct"]:+.3f}, composed level-0 '
              f'rollout {f["composed"]:+.3f} (direct - composed {f["direct"] - f["composed"]:+.3f}'
              f'; created at learner step {created[k]}, trained '
              f'{hierarchy.levels[k - 1].training_step} steps)', flush=True)
    print(f'load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores',
          flush=True)


if __name__ == '__main__':
    main()
