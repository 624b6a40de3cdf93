"""What curiosity buys: learner steps to a good world model, uncertainty selector vs random.

On the 2-D moves world (`moves: 2d`: stay, right, left, up, down; the dot wraps both ways) the
adaptive loop runs from a fresh start with the uncertainty explorer (the predictor heads'
disagreement, `learning/exploration.py`, sampling at `--temperature`) and with a uniformly
random selector (the same explorer with epsilon 1), for several seeds, and prints the learner
steps each needed until the held-out next-frame R² over all five actions (64 fixed transitions
from random positions, the actions in turn, never trained on) first reached 0.5, 0.7 and 0.9
(the goal; a run stops there), and the medians over seeds. It first prints the decoder's
ceiling: the share of the dot patches' energy the decoder's output subspace can hold at best.

The world and model are 64 px with 8 px patches (the dot world's defaults otherwise: dot
radius 5, moves of 27 px): at the sim's 224 px / patch 32 that ceiling is 0.905, and at 112 px
/ patch 16 (ceiling 0.975) the autoencoder alone, fed a fresh random frame every step, still
levelled off near reconstruction R² 0.92, so neither selector could reach 0.9 there. The gate
scales with the dot's share of the frame. Replay batches are drawn from the buffer as the
selector filled it (`--no-balance-actions`, the default here): balanced batches would hide from
the learner which actions the selector chose.

    ./run.sh python bench/world_model_exploration.py [--seeds 0 1 2] [--max-steps 3000]
        [--temperature 0.25] [--curve]   # --curve: every evaluation, per action
        [--balance-actions] [--img-size 224 --patch-size 32]
"""
import argparse
from math import inf
import os
import statistics

import numpy as np
import torch

from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.robots.sim.toroidal_dot import ACTION_NAMES, MOVE_SETS, ToroidalDotConfig, \
    ToroidalDotWorld
from world_model_learning import add_model_arguments, GOAL, held_out_figures, held_out_set, \
    loop_config, make_model

ACTIONS = MOVE_SETS['2d']
# Held-out R² levels whose first learner step is reported, the last the goal.
MILESTONES = (0.5, 0.7, GOAL)
# Small enough for 8 px patches (64 tokens, a learner step costs about the sim's 49 at 224 px):
# a decoder of this width can draw the 2-D dot at every offset (see the module docstring).
IMG_SIZE, PATCH_SIZE = 64, 8


def chosen_selectors(choice: str) -> dict:
    """Return {selector: exploration epsilon} for --selector both, uncertainty or random.

    Random is the uncertainty explorer at epsilon 1.
    """
    selectors = {'uncertainty': 0.0, 'random': 1.0}
    return selectors if choice == 'both' else {choice: selectors[choice]}


def decoder_ceiling(img_size: int, patch_size: int, rank: int) -> float:
    """Share of the dot patches' energy that the best rank-`rank` linear basis keeps.

    Every decoded patch is a linear map of the decoder head's last hidden layer, so all of them
    lie in one subspace of that many dimensions. Over every position of the dot relative to a
    patch (equally often, as for dots at random positions), this share bounds the
    reconstruction R², the ceiling of every prediction (decoded by the same decoder).
    """
    world = ToroidalDotWorld(ToroidalDotConfig(img_size=img_size, moves='2d'))
    reach, corner = world.config.dot_radius + 1, 2 * patch_size  # a patch off the edges
    patches = []
    for y in range(corner - reach, corner + patch_size + reach):
        for x in range(corner - reach, corner + patch_size + reach):
            world.x, world.y = x, y
            patch = world.render()[corner:corner + patch_size, corner:corner + patch_size, 0]
            if patch.any():
                patches.append(patch.ravel() / 255.0)
    energy = np.linalg.svd(np.array(patches), compute_uv=False) ** 2
    return float(energy[:rank].sum() / energy.sum())


def steps_to_goal(args, seed: int, epsilon: float):
    """Run the loop; return ({milestone: learner steps or None}, the last R², actions taken).

    The steps of a milestone are the learner steps when the held-out R² first reached it; the
    run stops at GOAL or after --max-steps.
    """
    args.seed = seed
    model = make_model(args, num_actions=len(ACTIONS))
    loop = AdaptiveWorldModelLoop(model, loop_config(
        args, actions=ACTIONS, exploration_epsilon=epsilon,
        exploration_temperature=args.temperature, balance_actions=args.balance_actions,
        reconstruction_threshold=args.reconstruction_threshold))
    config = ToroidalDotConfig(img_size=args.img_size, seed=seed, moves='2d')
    world = ToroidalDotWorld(config)
    held_out = held_out_set(config, 64, seed=seed + 1000, actions=ACTIONS)

    def execute(action):
        world.step(loop.config.idle_action if action is None else action)
        return world.render()

    frame, r2, visited = world.render(), float('nan'), {(world.x, world.y)}
    reached = dict.fromkeys(MILESTONES)
    while model.autoencoder_training_step < args.max_steps and reached[GOAL] is None:
        frame = loop.step(frame, execute)['next_frame']
        visited.add((world.x, world.y))
        steps = model.autoencoder_training_step
        if steps % args.eval_every:
            continue
        figures = held_out_figures(model, held_out)
        r2 = figures['all']
        for goal in MILESTONES:
            if reached[goal] is None and r2 >= goal:
                reached[goal] = steps
        if args.curve:
            per_action = ', '.join(f'{name} {figures[label]:+.3f}'
                                   for label, name in enumerate(ACTION_NAMES))
            print(f'  seed {seed}: learner step {steps:5d}  held-out R2 {r2:+.3f} '
                  f'({per_action}; reconstruction {figures["reconstruction"]:+.3f})  '
                  f'{len(visited)} dot positions seen; actions taken '
                  f'{list(loop.explorer.selections.values())}', flush=True)
    return reached, r2, loop.explorer.selections


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--max-steps', type=int, default=3000)
    parser.add_argument('--eval-every', type=int, default=50)
    parser.add_argument('--selector', choices=('both', 'uncertainty', 'random'), default='both')
    parser.add_argument('--temperature', type=float, default=0.25,
                        help="the uncertainty explorer's sampling temperature (0 = argmax)")
    parser.add_argument('--reconstruction-threshold', type=float, default=None,
                        help='the quality gate (reconstruction MSE; default: the node\'s, scaled '
                        'by the dot\'s share of the frame, (224 / img size)^2)')
    parser.add_argument('--balance-actions', action=argparse.BooleanOptionalAction,
                        default=False,
                        help='draw replay batches evenly over the actions (the node\'s default); '
                        'without (the default here), a batch holds the actions as the selector '
                        'took them')
    parser.add_argument('--curve', action='store_true', help='print every evaluation: held-out '
                        'R2 per action, dot positions seen, actions taken')
    add_model_arguments(parser)
    parser.set_defaults(img_size=IMG_SIZE, patch_size=PATCH_SIZE)
    args = parser.parse_args(argv)
    if args.reconstruction_threshold is None:
        args.reconstruction_threshold = LoopConfig.reconstruction_threshold * (
            ToroidalDotConfig.img_size / args.img_size) ** 2
    torch.set_num_threads(args.threads)
    print(f'world_model_exploration: 2-D moves world ({args.img_size} px, patch '
          f'{args.patch_size}), {len(ACTIONS)} actions, seeds '
          f'{args.seeds}, up to {args.max_steps} learner steps, explorer temperature '
          f'{args.temperature:g}, gate {args.reconstruction_threshold:g}, '
          f'{"balanced" if args.balance_actions else "unbalanced"} replay; load average '
          f'{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores', flush=True)
    rank = make_model(args, len(ACTIONS)).autoencoder.decoder_head[-1].in_features
    print(f'decoder ceiling: decoded patches span at most {rank} dimensions; the best such '
          f'basis keeps {decoder_ceiling(args.img_size, args.patch_size, rank):.3f} of the dot '
          f"patches' energy (about the best reconstruction R2 it can reach)", flush=True)
    selectors = chosen_selectors(args.selector)
    medians = {}
    for name, epsilon in selectors.items():
        runs = []
        for seed in args.seeds:
            reached, r2, taken = steps_to_goal(args, seed, epsilon)
            runs.append(reached)
            print(f'{name:>11}: seed {seed}: ' + ', '.join(
                f'R2 {goal} after {reached[goal]} learner steps' if reached[goal] is not None
                else f'R2 {goal} not reached in {args.max_steps} steps' for goal in MILESTONES)
                + f' (last {r2:+.3f}); actions taken {dict(taken)}', flush=True)
        medians[name] = {goal: statistics.median(
            inf if run[goal] is None else run[goal] for run in runs) for goal in MILESTONES}
        print(f'{name:>11}: median learner steps to ' + ', '.join(
            f'R2 {goal}: {medians[name][goal]}' for goal in MILESTONES), flush=True)
    if len(medians) == 2:
        print(f'uncertainty selector {medians["uncertainty"][GOAL]} vs random '
              f'{medians["random"][GOAL]} learner steps to R2 {GOAL} (median of '
              f'{len(args.seeds)} seeds; inf = not reached)', flush=True)


if __name__ == '__main__':
    main()
