"""Replay training: the adaptive loop over recorded sessions, repeated until the loss plateaus.

The reference's replay and continuous replay. Each epoch walks every recorded transition
(frame, the action that answered it, next frame; from `BagDataset`) through the same loop as
the live node: perceive (reconstruction gate, predictions, uncertainty), record the outcome
of the recorded action, train. Epochs repeat until the mean predictor loss of an epoch has not
improved by more than `min_delta` for `patience` epochs (after `min_epochs`), or `max_epochs`.

    ./run.sh nanobot world-model-replay saved/sessions/toroidal_dot [--patience 10]
        [--min-delta 0.0001] [--max-epochs 50] [--filter-action index=1]

The checkpoint (default saved/checkpoints/toroidal_dot/world_model.safetensors, the node's)
is resumed when it exists, saved after every epoch, and the loss history printed at the end.
"""
import math
import sys
from typing import Callable, Dict, Optional

import numpy as np
from tqdm import tqdm

from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, FrameRejected, \
    LoopConfig
from nanobot_ros.learning.plateau import PlateauConfig, PlateauDetector
from nanobot_ros.learning.world_model import WorldModel, WorldModelConfig

EPOCH_METRICS = ('predictor_training_loss', 'predictor_explained_variance',
                 'autoencoder_training_loss')


def replay_epoch(loop: AdaptiveWorldModelLoop, dataset, train_steps: int = 1,
                 progress: bool = True) -> Dict[str, float]:
    """Run every sample of `dataset` through the loop once; return the epoch's means.

    Samples whose action is not in the loop's action space (e.g. continuous-only) and frames
    the model cannot use are skipped and counted; the history is broken around them and
    between bags, so no transition spans a gap.
    """
    sums = {name: [] for name in EPOCH_METRICS}
    skipped, previous = 0, None
    for index in tqdm(range(len(dataset)), desc='replay', unit='sample', leave=False,
                      disable=not progress, file=sys.stderr):
        sample = dataset[index]
        if previous is None or sample.bag != previous.bag or sample.stamp != previous.next_stamp:
            loop.break_history()
        previous = sample
        if sample.action_index not in loop.actions:
            skipped += 1
            previous = None
            continue
        try:
            perception = loop.perceive(sample.observation)
        except FrameRejected:
            skipped += 1
            previous = None
            continue
        loop.record_outcome(perception, sample.action_index, sample.next_observation)
        for _ in range(train_steps):
            metrics = loop.train() or {}
            for name in EPOCH_METRICS:
                if name in metrics and math.isfinite(metrics[name]):
                    sums[name].append(metrics[name])
    result = {name: float(np.mean(values)) if values else math.nan
              for name, values in sums.items()}
    result.update(samples=len(dataset), skipped=skipped)
    return result


def continuous_replay(loop: AdaptiveWorldModelLoop, dataset, plateau: PlateauConfig,
                      train_steps: int = 1,
                      on_epoch: Optional[Callable[[int, dict], None]] = None,
                      progress: bool = True) -> PlateauDetector:
    """Repeat `replay_epoch` until the epoch's predictor loss plateaus; return the detector."""
    detector = PlateauDetector(plateau)
    while True:
        result = replay_epoch(loop, dataset, train_steps, progress)
        stop = detector.update(result['predictor_training_loss'])
        print(f'epoch {detector.epochs}: predictor_training_loss '
              f'{result["predictor_training_loss"]:.6g}, predictor_explained_variance '
              f'{result["predictor_explained_variance"]:.4f}, autoencoder_training_loss '
              f'{result["autoencoder_training_loss"]:.6g} ({result["samples"]} samples, '
              f'{result["skipped"]} skipped)', flush=True)
        if on_epoch is not None:
            on_epoch(detector.epochs, result)
        if stop:
            return detector


def build_loop(args, saved_config: Optional[dict]) -> AdaptiveWorldModelLoop:
    """Build a loop for the checkpoint's model configuration, or a fresh one from the arguments."""
    if saved_config is not None:
        config = WorldModelConfig.from_dict(saved_config)
    else:
        config = WorldModelConfig.small(
            img_size=args.img_size, patch_size=args.patch_size, embed_dim=args.embed_dim,
            depth=args.depth, predictor_depth=args.predictor_depth,
            num_actions=len(args.actions))
    return AdaptiveWorldModelLoop(WorldModel(config, seed=args.seed), LoopConfig(
        actions=args.actions, idle_action=args.actions[0],
        reconstruction_threshold=args.reconstruction_threshold, batch_size=args.batch_size,
        seed=args.seed))
