"""`nanobot grpo`: fine-tune a cloned policy by GRPO in the sim (policy/grpo.py; torchrun ok)."""
from dataclasses import replace
import json
import logging

import torch

from nanobot_ros.policy.grpo import GRPOConfig, GRPOTrainer, KL_ESTIMATORS, LOSS_AVERAGES
from nanobot_ros.policy.process_group import leave_process_group
from nanobot_ros.robots.tasks import task_config, TASKS


def main(argv=None) -> int:
    """`nanobot grpo INIT.safetensors --run-dir DIR [--task family] [options]`."""
    import argparse
    defaults = GRPOConfig()
    parser = argparse.ArgumentParser(prog='nanobot grpo', description=__doc__.split('\n')[0])
    parser.add_argument('init', help='the cloned policy (categorical head) to start from')
    parser.add_argument('--run-dir', default=defaults.run_dir)
    parser.add_argument('--task', choices=sorted(TASKS), default='family')
    parser.add_argument('--phrasings', default='train',
                        help='the instructions\' template splits, joined by + (the room: '
                             'train+paraphrase); never heldout')
    for name in ('start_states', 'group_size', 'update_epochs', 'minibatches', 'max_iterations',
                 'checkpoint_every', 'select_every', 'select_episodes', 'select_seed',
                 'select_patience', 'seed'):
        parser.add_argument('--' + name.replace('_', '-'), type=int,
                            default=getattr(defaults, name))
    for name in ('lr', 'clip', 'kl_coef', 'step_cost', 'temperature', 'select_temperature'):
        parser.add_argument('--' + name.replace('_', '-'), type=float,
                            default=getattr(defaults, name))
    parser.add_argument('--clip-high', type=float, default=defaults.clip_high,
                        help='upper clip of the ratio, 1 + this (clip-higher; default: --clip)')
    parser.add_argument('--kl-estimator', choices=KL_ESTIMATORS, default=defaults.kl_estimator,
                        help='k3: one-sample estimate at the sampled action; exact: over actions')
    parser.add_argument('--loss-average', choices=LOSS_AVERAGES, default=defaults.loss_average,
                        help='episode: every episode weighs the same; step: every step does')
    parser.add_argument('--advantage-std', action='store_true',
                        help='divide advantages by the group\'s standard deviation')
    parser.add_argument('--patience', type=int, default=defaults.plateau.patience,
                        help='plateau: iterations without a better mean success before stopping')
    parser.add_argument('--no-wandb', action='store_true', help='do not log to W&B (offline)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='[%(levelname)s] %(message)s')
    torch.set_num_threads(1)
    values = {k: v for k, v in vars(args).items()
              if k in GRPOConfig.__dataclass_fields__ and k != 'task'}
    if 'heldout' in args.phrasings.split('+'):
        parser.error('--phrasings: the held-out templates measure generalization; '
                     'never train on them')
    try:
        config = GRPOConfig(**values, task=task_config(args.task, phrasings=args.phrasings),
                            wandb=not args.no_wandb, progress=not args.no_progress,
                            plateau=replace(defaults.plateau, patience=args.patience))
        trainer = GRPOTrainer(config)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f'[ERROR] {error}', flush=True)
        leave_process_group()
        return 1
    summary = trainer.run()
    if trainer.rank == 0:
        print(json.dumps(summary, indent=2))
    leave_process_group()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
