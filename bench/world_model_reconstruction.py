"""How well can the autoencoder draw the 2-D dot? Reconstruction R² with unlimited data.

The world model's predictions are decoded by its autoencoder, so reconstruction bounds them.
This trains the autoencoder alone on a fresh frame of the 2-D moves world, the dot at a random
position, every step (no exploration, no replay: as much data as a perfect explorer could
bring) and prints the reconstruction R² in patch space of the exploration bench's 64 held-out
next frames every `--eval-every` steps. Comparing image and patch sizes and widths tells the
model's limit apart from the explorer's.

    ./run.sh python bench/world_model_reconstruction.py [--steps 3000] [--img-size 64]
        [--patch-size 8] [--embed-dim 64] [--lr 3e-3] [--batch-size 8]
"""
import argparse
import os

import numpy as np
import torch

from nanobot_ros.robots.sim.toroidal_dot import MOVE_SETS, ToroidalDotConfig, ToroidalDotWorld
from world_model_exploration import IMG_SIZE, PATCH_SIZE
from world_model_learning import add_model_arguments, held_out_set, make_model, \
    reconstruction_r2


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--steps', type=int, default=3000)
    parser.add_argument('--eval-every', type=int, default=250)
    add_model_arguments(parser)
    parser.set_defaults(img_size=IMG_SIZE, patch_size=PATCH_SIZE)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    actions = MOVE_SETS['2d']
    model = make_model(args, num_actions=len(actions))
    config = ToroidalDotConfig(img_size=args.img_size, seed=args.seed, moves='2d')
    held_out = held_out_set(config, 64, seed=args.seed + 1000, actions=actions)[2]
    world, rng = ToroidalDotWorld(config), np.random.default_rng(args.seed)

    def random_frame():
        world.x, world.y = (int(v) for v in rng.integers(0, args.img_size, 2))
        return world.render()

    print(f'world_model_reconstruction: 2-D dot world {args.img_size} px, patch '
          f'{args.patch_size}, dim {args.embed_dim}, lr {args.lr:g}, batch {args.batch_size}, '
          f'a fresh random frame per sample; load average {os.getloadavg()[0]:.2f}', flush=True)
    for step in range(1, args.steps + 1):
        model.train_autoencoder([random_frame() for _ in range(args.batch_size)])
        if step % args.eval_every == 0:
            print(f'step {step:5d}: held-out reconstruction R2 '
                  f'{reconstruction_r2(model, held_out):+.3f}', flush=True)


if __name__ == '__main__':
    main()
