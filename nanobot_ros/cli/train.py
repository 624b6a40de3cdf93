"""`nanobot train`: train the policy from demonstration bags (torchrun ok)."""
import json
import logging

import torch
import torch.distributed as dist

from nanobot_ros.learning.plateau import PlateauConfig
from nanobot_ros.policy.training import policy_config_from_args, PolicyTrainer, TrainerConfig
from nanobot_ros.report import write_report


def main(argv=None) -> int:
    """`nanobot train BAGS... --run-dir DIR [--continual] [--set key=value ...]`."""
    import argparse
    parser = argparse.ArgumentParser(prog='nanobot train', description=__doc__.split('\n')[0])
    parser.add_argument('data', nargs='+', help='bags or folders of bags (searched recursively)')
    parser.add_argument('--run-dir', default='runs/policy', help='checkpoint, curve, summary')
    parser.add_argument('--continual', action='store_true',
                        help='keep training as new bag splits appear')
    parser.add_argument('--idle-timeout', type=float, default=None,
                        help='continual: stop after this many seconds without new data')
    parser.add_argument('--diffusion', action='store_true',
                        help='diffusion action head (robotics_use_diffusion)')
    parser.add_argument('--set', action='append', metavar='KEY=VALUE',
                        help='override a PolicyConfig field (JSON value), e.g. n_layer=3')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--max-epochs', type=int, default=60)
    parser.add_argument('--patience', type=int, default=8,
                        help='plateau: epochs without improvement before stopping')
    parser.add_argument('--min-epochs', type=int, default=20,
                        help='plateau: never stop before this many epochs (the loss of this '
                        'task sits on a plateau for a while before it drops)')
    parser.add_argument('--max-steps', type=int, default=0)
    parser.add_argument('--checkpoint-every', type=int, default=50)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-wandb', action='store_true', help='do not log to W&B (offline)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='[%(levelname)s] %(message)s')
    policy = policy_config_from_args(args)
    if args.diffusion:
        policy.robotics_use_diffusion = True
    config = TrainerConfig(
        data=args.data, run_dir=args.run_dir, policy=policy, batch_size=args.batch_size,
        lr=args.lr, checkpoint_every=args.checkpoint_every, seed=args.seed,
        continual=args.continual, idle_timeout=args.idle_timeout, max_steps=args.max_steps,
        plateau=PlateauConfig(patience=args.patience, min_delta=1e-3,
                              min_epochs=min(args.min_epochs, args.max_epochs),
                              max_epochs=args.max_epochs),
        wandb=not args.no_wandb, progress=not args.no_progress)
    torch.set_num_threads(1)
    try:
        trainer = PolicyTrainer(config)
    except (ValueError, RuntimeError) as error:
        print(f'[ERROR] {error}', flush=True)
        return 1
    summary = trainer.run()
    if trainer.rank == 0:
        print(json.dumps({k: v for k, v in summary.items() if k != 'epoch_losses'}, indent=2))
        print(f'report: {write_report(args.run_dir)[1]}')
    if trainer.world_size > 1:
        dist.destroy_process_group()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
