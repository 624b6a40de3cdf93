"""`nanobot world-model-replay`: train the world model on recorded sessions."""
import argparse
import json
from pathlib import Path
import sys

from nanobot_ros.defaults import add_config_options, config_values
from nanobot_ros.learning.adaptive_loop import LoopConfig
from nanobot_ros.learning.online import OnlineConfig
from nanobot_ros.learning.persistence import WorldModelCheckpoints
from nanobot_ros.learning.plateau import PlateauConfig
from nanobot_ros.learning.replay_training import build_loop, continuous_replay
from nanobot_ros.learning.world_model import WorldModelSize
from nanobot_ros.models.checkpoint import CheckpointError, load_checkpoint

PLATEAU_OPTIONS = {'patience': 'epochs without improvement before stopping',
                   'min_delta': 'smallest loss improvement that counts',
                   'min_epochs': 'never stop before this many epochs',
                   'max_epochs': 'stop after this many epochs'}
LOOP_OPTIONS = {'batch_size': 'transitions per training step',
                'reconstruction_threshold': 'the gate: reconstruction MSE at most this',
                'actions': 'the action space (Action.index values)',
                'seed': 'seed of model init, masking and sampling'}
LEARNING_RATE_OPTIONS = {'autoencoder_lr': 'explicit; 0 = the saved rate, else the config '
                                           'default',
                         'predictor_lr': 'explicit; 0 = the saved rate, else the config default'}
SIZE_OPTIONS = {'img_size': 'fresh start only', 'patch_size': 'fresh start only',
                'embed_dim': 'fresh start only', 'depth': 'fresh start only',
                'predictor_depth': 'fresh start only'}


def main(argv=None) -> int:
    """Continuous replay training over recorded sessions (see the module docstring)."""
    parser = argparse.ArgumentParser(prog='nanobot world-model-replay', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('sessions', nargs='+', help='bags or folders of bags')
    parser.add_argument('--checkpoint-dir', default='saved/checkpoints/toroidal_dot')
    parser.add_argument('--checkpoint-name', default='world_model')
    parser.add_argument('--filter-action', default='', help="e.g. 'index=1', 'action=1'")
    parser.add_argument('--train-steps', type=int, default=1, help='learner steps per sample')
    add_config_options(parser, PlateauConfig, PLATEAU_OPTIONS)
    add_config_options(parser, LoopConfig, LOOP_OPTIONS)
    add_config_options(parser, OnlineConfig, LEARNING_RATE_OPTIONS)
    add_config_options(parser, WorldModelSize, SIZE_OPTIONS)
    args = parser.parse_args(argv)
    from nanobot_ros.data.bags import BagError
    from nanobot_ros.data.dataset import BagDataset
    try:
        plateau = PlateauConfig(**config_values(args, PLATEAU_OPTIONS))
        plateau.validate()
        dataset = BagDataset(args.sessions, action_filter=args.filter_action)
        checkpoints = WorldModelCheckpoints(Path(args.checkpoint_dir), args.checkpoint_name)
        saved = load_checkpoint(checkpoints.path)
        loop = build_loop(args, saved.metadata['config'] if saved else None)
        restored = checkpoints.restore(loop, args.autoencoder_lr, args.predictor_lr)
        if restored is None:
            loop.learner.resolve_learning_rates(args.autoencoder_lr, args.predictor_lr, False)
    except (BagError, CheckpointError, ValueError) as error:
        print(f'[ERROR] {error}', file=sys.stderr)
        return 2
    for bag, reason in dataset.skipped.items():
        print(f'[WARN] skipped {bag}: {reason}', file=sys.stderr)
    if not len(dataset):
        print('[ERROR] no samples (frames answered by an action) in the sessions',
              file=sys.stderr)
        return 2
    print(f'{len(dataset)} samples from {len(dataset.bags)} bag(s); '
          + (f'resumed {restored[0]}' if restored else 'fresh model'), flush=True)
    detector = continuous_replay(loop, dataset, plateau, args.train_steps,
                                 on_epoch=lambda epoch, result: checkpoints.save(loop))
    print(f'stopped after {detector.epochs} epochs: {detector.reason}')
    print('loss history: ' + ', '.join(f'{loss:.6g}' for loss in detector.history))
    print(json.dumps({'checkpoint': str(checkpoints.path),
                      'predictor_training_step': loop.learner.predictor_training_step,
                      **detector.summary()}), flush=True)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
