"""`nanobot world-model-replay`: train the world model on recorded sessions."""
import argparse
import json
from pathlib import Path
import sys

from nanobot_ros.learning.persistence import WorldModelCheckpoints
from nanobot_ros.learning.plateau import PlateauConfig
from nanobot_ros.learning.replay_training import build_loop, continuous_replay
from nanobot_ros.models.checkpoint import CheckpointError, load_checkpoint


def main(argv=None) -> int:
    """Continuous replay training over recorded sessions (see the module docstring)."""
    parser = argparse.ArgumentParser(prog='nanobot world-model-replay', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('sessions', nargs='+', help='bags or folders of bags')
    parser.add_argument('--checkpoint-dir', default='saved/checkpoints/toroidal_dot')
    parser.add_argument('--checkpoint-name', default='world_model')
    parser.add_argument('--filter-action', default='', help="e.g. 'index=1', 'action=1'")
    parser.add_argument('--patience', type=int, default=PlateauConfig.patience)
    parser.add_argument('--min-delta', type=float, default=PlateauConfig.min_delta)
    parser.add_argument('--min-epochs', type=int, default=PlateauConfig.min_epochs)
    parser.add_argument('--max-epochs', type=int, default=PlateauConfig.max_epochs)
    parser.add_argument('--train-steps', type=int, default=1, help='learner steps per sample')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--reconstruction-threshold', type=float, default=1e-3)
    parser.add_argument('--actions', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--autoencoder-lr', type=float, default=0.0,
                        help='explicit; 0 = the saved rate, else the config default')
    parser.add_argument('--predictor-lr', type=float, default=0.0)
    parser.add_argument('--img-size', type=int, default=224, help='fresh start only')
    parser.add_argument('--patch-size', type=int, default=32, help='fresh start only')
    parser.add_argument('--embed-dim', type=int, default=64, help='fresh start only')
    parser.add_argument('--depth', type=int, default=2, help='fresh start only')
    parser.add_argument('--predictor-depth', type=int, default=2, help='fresh start only')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    from nanobot_ros.data.bags import BagError
    from nanobot_ros.data.dataset import BagDataset
    try:
        plateau = PlateauConfig(args.patience, args.min_delta, args.min_epochs,
                                args.max_epochs)
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
