"""Learning progress persistence of the adaptive loop: one safetensors file + rolling backup.

What is saved (every N learner steps and at shutdown): weights of autoencoder, predictor and
action classifier; both optimizers' state (tensors + JSON hyper-parameters); the training
counters; the loop's counters and exploration state; the random generators' states; and the
most recent transitions (uint8 frames, the reference's "recent history buffers") so a resumed
run trains on what it saw before the restart; and the hierarchy's levels (weights, optimizers
and step counts; their macro transitions start afresh). Resuming restores all of it: the
step counts and weights are exactly those of the last save.
"""
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import torch

from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop
from nanobot_ros.learning.replay_buffer import Transition
from nanobot_ros.models.checkpoint import load_checkpoint, prefixed, save_checkpoint, \
    unprefixed


class WorldModelCheckpoints:
    """Save and restore an AdaptiveWorldModelLoop at `<directory>/<name>.safetensors`."""

    def __init__(self, directory: Path, name: str = 'world_model', saved_history: int = 32):
        self.path = Path(directory) / f'{name}.safetensors'
        self.saved_history = saved_history

    def save(self, loop: AdaptiveWorldModelLoop) -> Path:
        """Write the loop's whole learning state atomically (previous file -> backup)."""
        with loop.lock:
            recent = loop.buffer.recent(self.saved_history)
            counters = loop.counters()
            buffer_rng = loop.buffer.rng.bit_generator.state
            hierarchy = (None if loop.hierarchy is None else
                         (loop.hierarchy.state_tensors(), loop.hierarchy.state_metadata()))
        learner = loop.learner
        tensors = dict(learner.state_tensors())
        tensors['rng.learner'] = learner.generator.get_state()
        if recent:
            tensors.update(prefixed('history', {
                'frames': torch.from_numpy(np.stack([np.stack(t.frames) for t in recent])),
                'actions': torch.tensor([t.actions for t in recent], dtype=torch.long),
                'next_frames': torch.from_numpy(np.stack([t.next_frame for t in recent]))}))
        metadata = dict(learner.state_metadata(), loop=counters, buffer_rng=buffer_rng,
                        transitions_added=loop.buffer.added)
        if hierarchy is not None:
            tensors.update(prefixed('hierarchy', hierarchy[0]))
            metadata['hierarchy'] = hierarchy[1]
        return save_checkpoint(self.path, tensors, metadata)

    def restore(self, loop: AdaptiveWorldModelLoop, autoencoder_lr: Optional[float] = None,
                predictor_lr: Optional[float] = None) -> Optional[Tuple[str, dict]]:
        """Load the newest readable checkpoint into `loop`; return (path, lr sources) or None.

        Raises ValueError when the checkpoint belongs to another model configuration and
        CheckpointError when neither the file nor its backup can be read.
        """
        checkpoint = load_checkpoint(self.path)
        if checkpoint is None:
            return None
        tensors, metadata = checkpoint.tensors, checkpoint.metadata
        sources = loop.learner.load_state(tensors, metadata, autoencoder_lr, predictor_lr)
        if loop.hierarchy is not None:  # the levels (none in an older checkpoint)
            loop.hierarchy.load_state(loop.learner, unprefixed('hierarchy', tensors),
                                      metadata.get('hierarchy', {}))
        loop.learner.generator.set_state(tensors['rng.learner'])
        loop.load_counters(metadata.get('loop', {}))
        loop.buffer.rng.bit_generator.state = metadata['buffer_rng']
        history = unprefixed('history', tensors)
        if history:
            for frames, actions, next_frame in zip(history['frames'].numpy(),
                                                   history['actions'].tolist(),
                                                   history['next_frames'].numpy()):
                loop.buffer.add(Transition(tuple(frames), tuple(actions), next_frame))
        loop.buffer.added = int(metadata.get('transitions_added', loop.buffer.added))
        return str(checkpoint.path), sources
