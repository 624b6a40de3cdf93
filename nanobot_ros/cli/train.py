"""`nanobot train`: train the policy from demonstration bags (torchrun ok)."""
from dataclasses import replace
import json
import logging

import torch

from nanobot_ros.defaults import add_config_options, config_values
from nanobot_ros.policy.configuration import HEADS, PolicyConfig
from nanobot_ros.policy.process_group import leave_process_group
from nanobot_ros.policy.training import policy_config_from_args, PolicyTrainer, TrainerConfig
from nanobot_ros.report import write_report
from nanobot_ros.robots.tasks import task_actions, task_config, TASKS

TRAINER_OPTIONS = {
    'run_dir': 'checkpoint, curve, summary',
    'init': 'start from this policy.safetensors\'s weights (tensors it lacks keep their init; '
            'a run dir with a checkpoint resumes that instead)',
    'encoder_from': 'start the vision encoder from this world model checkpoint\'s encoder '
                    '(same sizes; e.g. <checkpoint_dir>/world_model.safetensors)',
    'freeze_encoder': 'keep the vision encoder fixed (train the rest of the policy)',
    'continual': 'keep training as new bag splits appear',
    'idle_timeout': 'continual: stop after this many seconds without new data (none = never)',
    'batch_size': 'samples per step',
    'lr': 'AdamW learning rate',
    'max_steps': 'stop after this many steps (0 = no limit)',
    'checkpoint_every': 'write the checkpoint every this many steps',
    'seed': 'seed of model init, shuffling and noise',
    'wandb': 'do not log to W&B (offline)',
    'progress': 'no progress bars',
}
PLATEAU_OPTIONS = {
    'patience': 'plateau: epochs without improvement before stopping',
    'min_epochs': 'plateau: never stop before this many epochs (the loss of this task sits '
                  'on a plateau for a while before it drops)',
    'max_epochs': 'stop after this many epochs',
}


def main(argv=None) -> int:
    """`nanobot train BAGS... --run-dir DIR [--continual] [--set key=value ...]`."""
    import argparse
    parser = argparse.ArgumentParser(prog='nanobot train', description=__doc__.split('\n')[0])
    parser.add_argument('data', nargs='+', help='bags or folders of bags (searched recursively)')
    parser.add_argument('--head', choices=HEADS, help='action head (PolicyConfig.head; default '
                        f'{PolicyConfig.head})')
    parser.add_argument('--task', choices=sorted(TASKS), help='the task whose robot\'s actions '
                        'a categorical head indexes (room: the JetBot\'s; default: the sim\'s)')
    parser.add_argument('--set', action='append', metavar='KEY=VALUE',
                        help='override a PolicyConfig field (JSON value), e.g. n_layer=3')
    add_config_options(parser, TrainerConfig, TRAINER_OPTIONS, {'wandb': '--no-wandb',
                                                                'progress': '--no-progress'})
    add_config_options(parser, TrainerConfig().plateau, PLATEAU_OPTIONS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='[%(levelname)s] %(message)s')
    policy = policy_config_from_args(args)
    if args.head:
        policy.head = args.head
    plateau = replace(TrainerConfig().plateau, **config_values(args, PLATEAU_OPTIONS))
    plateau.min_epochs = min(plateau.min_epochs, plateau.max_epochs)
    actions = task_actions(task_config(args.task))[2] if args.task else ()
    config = TrainerConfig(data=args.data, policy=policy, plateau=plateau,
                           discrete_actions=actions, **config_values(args, TRAINER_OPTIONS))
    torch.set_num_threads(1)
    try:
        trainer = PolicyTrainer(config)
    except (ValueError, RuntimeError, FileNotFoundError) as error:
        print(f'[ERROR] {error}', flush=True)
        leave_process_group()
        return 1
    summary, rank = trainer.run(), trainer.rank
    del trainer  # its DistributedDataParallel model holds the process group
    if rank == 0:
        print(json.dumps({k: v for k, v in summary.items() if k != 'epoch_losses'}, indent=2))
        print(f'report: {write_report(args.run_dir)[1]}')
    leave_process_group()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
