"""A world model checkpoint on recorded frames: predictions, errors, introspection, training.

    bench = Workbench.load(Path('saved/checkpoints/toroidal_dot/world_model.safetensors'))
    bench.predict(session, 17)      # images + errors for frame 17 of a Session
    bench.start_training(session, 0, 40, steps=20)   # background thread; pause(), resume()
    bench.save(Path('saved/checkpoints/toroidal_dot'))  # what `world_model` resumes from

The model is run through its own API (WorldModel.reconstruct / predict_all) and trained through
the adaptive loop's own code (AdaptiveWorldModelLoop: perceive + record_outcome fill its replay
buffer from the chosen frames, then `train()` steps: autoencoder only while the reconstruction
gate is closed, jointly once it opens), so what the explorer trains is what the node trains.
Checkpoints are read and written by learning/persistence.py, the node's own format.

Introspection: for the chosen frame the world model's own `diagnostics`
(learning/predictor_introspection.py's definitions) runs on the recorded transition: the last
predictor layer's attention from the future-frame tokens as a heatmap, APA, ALF, TTAR, RI@16,
attention entropy and its uniform baseline, the counterfactual losses and the action-sensitivity
sweep, and each action's head disagreement (the explorer's uncertainty). A checkpoint with
hierarchy levels (learning/hierarchy.py) also gives each level's predicted frame 2^k steps later
for each of its macro-actions ('levels': name, labels, predictions); empty without levels.
"""
from dataclasses import dataclass, field
import math
from pathlib import Path
import threading
from typing import Dict, List, Optional

import numpy as np
import torch

from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, FrameRejected, \
    LoopConfig
from nanobot_ros.learning.hierarchy import Hierarchy, HierarchyConfig
from nanobot_ros.learning.persistence import WorldModelCheckpoints
from nanobot_ros.learning.visualize import patches_to_image
from nanobot_ros.learning.world_model import WorldModel, WorldModelConfig
from nanobot_ros.models.checkpoint import load_checkpoint


def list_checkpoints(roots) -> List[dict]:
    """Return the world model checkpoints under `roots`: path, robot type (folder), steps."""
    found = []
    for root in roots:
        for path in sorted(Path(root).glob('**/*.safetensors')):
            if path.stem.endswith('_backup'):
                continue
            try:
                checkpoint = load_checkpoint(path)
            except (OSError, ValueError, RuntimeError):
                continue
            if checkpoint is None or checkpoint.metadata.get('model') != \
                    'nanobot_ros.world_model':
                continue
            meta = checkpoint.metadata
            found.append({'path': str(path), 'robot_type': path.parent.name,
                          'autoencoder_training_step': meta['autoencoder_training_step'],
                          'predictor_training_step': meta['predictor_training_step']})
    return found


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error of two uint8 images in [0, 1] units (the model's loss scale)."""
    return float((((a.astype(np.float64) - b.astype(np.float64)) / 255.0) ** 2).mean())


class FairLock:
    """A lock handed over in the order it was asked for.

    `threading.Lock` is not fair: the training thread, releasing it after a step and taking it
    again for the next, wins nearly every time, so a prediction asked for from the page (or a
    pause's test) waited until the whole run had ended. Here each `with` takes a ticket and waits
    for its turn, so a caller waits for at most the step in flight.
    """

    def __init__(self):
        self._turn = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self):
        with self._turn:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._turn.wait_for(lambda: self._serving == ticket)

    def __exit__(self, *exc_info):
        with self._turn:
            self._serving += 1
            self._turn.notify_all()


@dataclass
class TrainingJob:
    """What a background training run is doing (read by the page while it runs)."""

    session: str
    start: int
    stop: int
    steps: int
    loss_threshold: Optional[float]
    # filling, training, pausing (asked to pause, a step still in flight), paused (no step in
    # flight: `step` holds until resumed), done, failed
    state: str = 'starting'
    step: int = 0
    losses: List[Dict[str, float]] = field(default_factory=list)
    message: str = ''
    transitions: int = 0

    def to_dict(self) -> dict:
        return {'session': self.session, 'start': self.start, 'stop': self.stop,
                'steps': self.steps, 'loss_threshold': self.loss_threshold,
                'state': self.state, 'step': self.step, 'losses': self.losses[-200:],
                'message': self.message, 'transitions': self.transitions}


class Workbench:
    """One loaded world model (learner of an adaptive loop) and its training job."""

    def __init__(self, loop: AdaptiveWorldModelLoop, source: str):
        self.loop = loop
        self.source = source
        self.job: Optional[TrainingJob] = None
        self._running = threading.Event()
        self._cancel = threading.Event()
        # Pause, resume and the training thread's check for a pause change `_running` and the
        # job's state together, so the page never reads `paused` while a step is in flight.
        self._state_lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        # One user of the networks at a time: a training step, a prediction or a save, in turn.
        self._model_lock = FairLock()

    @classmethod
    def load(cls, path: Path, seed: int = 0) -> 'Workbench':
        """Load a checkpoint file into a fresh loop; ValueError/CheckpointError if unusable."""
        path = Path(path)
        checkpoint = load_checkpoint(path)
        if checkpoint is None:
            raise ValueError(f'{path}: no such checkpoint')
        config = WorldModelConfig.from_dict(checkpoint.metadata['config'])
        actions = list(range(config.predictor.num_actions))
        model = WorldModel(config, seed=seed)
        levels = checkpoint.metadata.get('hierarchy', {}).get('levels', 0)
        hierarchy = (Hierarchy(HierarchyConfig(hierarchy_levels=levels), model, len(actions),
                               seed=seed) if levels else None)
        loop = AdaptiveWorldModelLoop(model, LoopConfig(actions=actions, idle_action=actions[0],
                                                        seed=seed), hierarchy=hierarchy)
        WorldModelCheckpoints(path.parent, path.stem).restore(loop)
        return cls(loop, str(path))

    @property
    def model(self) -> WorldModel:
        return self.loop.learner

    def describe(self) -> dict:
        m = self.model
        return {'source': self.source, 'actions': list(self.loop.actions),
                'patch_size': m.config.vit.patch_size, 'img_size': m.config.vit.img_size,
                'history': m.config.predictor.max_history,
                'autoencoder_training_step': m.autoencoder_training_step,
                'predictor_training_step': m.predictor_training_step,
                'introspection': True}

    # -- predictions -------------------------------------------------------------------------

    def predict(self, session, index: int) -> dict:
        """Return decoded frame, predicted next frame per action and their errors."""
        sample = session.sample(index)
        patch = self.model.config.vit.patch_size
        with self._model_lock:
            loss, decoded = self.model.reconstruct(sample.observation[None])
            history, past = self._history(session, index)
            predicted, disagreement = self.model.predict_all(
                history, past, list(range(len(self.loop.actions))))
            extra = self._introspect(history, past, sample)
            extra['levels'] = self._levels(sample.observation)
            extra['metrics'].update({f'uncertainty/{a}': float(d)
                                     for a, d in zip(self.loop.actions, disagreement)})
        decoded_image = patches_to_image(decoded[0], patch)
        predictions = [patches_to_image(p, patch) for p in predicted]
        return {
            'index': index, 'action': sample.action_index,
            'current': sample.observation, 'decoded': decoded_image,
            'recorded_next': sample.next_observation,
            'predictions': predictions,
            'reconstruction_loss': loss,
            'decoded_error': _mse(decoded_image, sample.observation),
            'prediction_errors': [_mse(p, sample.next_observation) for p in predictions],
            'attention': extra.get('attention', {}), 'metrics': extra.get('metrics', {}),
            'levels': extra['levels'],
        }

    def _levels(self, frame) -> List[dict]:
        """Each hierarchy level's predicted frame 2^k steps on, per macro-action."""
        hierarchy, patch = self.loop.hierarchy, self.model.config.vit.patch_size
        if hierarchy is None:
            return []
        out = []
        for level in hierarchy.levels:
            patches, _ = hierarchy.predict(self.model, level, frame, range(level.num_macros))
            out.append({'name': f'level {level.index} ({level.length} steps)',
                        'labels': level.names(self.loop.actions),
                        'predictions': [patches_to_image(p, patch) for p in patches]})
        return out

    def _introspect(self, history, past, sample) -> dict:
        """Attention heatmap and metrics of the recorded transition (none without its action)."""
        if sample.action_index not in self.loop.actions or sample.next_observation is None:
            return {'attention': {}, 'metrics': {}}
        frames = self.model.to_tensor(list(history))[None]  # (1, T, C, H, W)
        actions = torch.tensor([list(past) + [self.loop.actions.index(sample.action_index)]])
        metrics, heatmap = self.model.diagnostics(
            frames, actions, self.model.to_tensor([sample.next_observation]))
        # The heatmap's channels tell frame / action / future keys apart; shown as one map.
        return {'attention': {'last layer, future queries': heatmap.max(axis=-1) / 255.0},
                'metrics': metrics}

    def _history(self, session, index: int):
        """Return the last `max_history` frames up to `index` (one stream), actions between."""
        frames, actions = [session.sample(index).observation], []
        i = index
        while len(frames) < self.model.config.predictor.max_history and i > 0:
            previous, current = session.sample(i - 1), session.sample(i)
            if previous.next_stamp != current.stamp or \
                    previous.action_index not in self.loop.actions:
                break
            frames.insert(0, previous.observation)
            actions.insert(0, self.loop.actions.index(previous.action_index))
            i -= 1
        return frames, actions

    # -- training ----------------------------------------------------------------------------

    def start_training(self, session, start: int, stop: int, steps: int,
                       loss_threshold: Optional[float] = None) -> TrainingJob:
        """Train on frames start..stop (inclusive) for `steps` or until the loss threshold."""
        if self.training:
            raise ValueError('a training run is going on: pause or stop it first')
        if not 0 <= start <= stop < len(session):
            raise ValueError(f'frame range {start}..{stop} is not within 0..{len(session) - 1}')
        if steps < 1:
            raise ValueError('steps must be >= 1')
        self.job = TrainingJob(session.id, start, stop, steps, loss_threshold)
        self._cancel.clear()
        self._running.set()
        self._thread = threading.Thread(target=self._train, args=(session, self.job),
                                        name='explorer-training', daemon=True)
        self._thread.start()
        return self.job

    @property
    def training(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pause(self) -> None:
        """Stop after the step in flight: the state is `pausing` until it has ended."""
        with self._state_lock:
            if self.job and self.training:
                self._running.clear()
                if self.job.state == 'training':
                    self.job.state = 'pausing'

    def resume(self) -> None:
        with self._state_lock:
            if self.job and self.training:
                if self.job.state in ('pausing', 'paused'):
                    self.job.state = 'training'
                self._running.set()

    def _park_if_paused(self, job: TrainingJob) -> None:
        """Between steps: while paused, say so and wait for resume (or cancel)."""
        with self._state_lock:
            if self._running.is_set():
                return
            job.state = 'paused'
        self._running.wait()

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _fill(self, session, job: TrainingJob) -> None:
        self.loop.break_history()
        previous = None
        for i in range(job.start, job.stop + 1):
            sample = session.sample(i)
            if previous is None or sample.stamp != previous.next_stamp \
                    or sample.action_index not in self.loop.actions:
                self.loop.break_history()
            previous = sample
            if sample.action_index not in self.loop.actions:
                previous = None
                continue
            try:
                perception = self.loop.perceive(sample.observation)
            except FrameRejected:
                previous = None
                continue
            self.loop.record_outcome(perception, sample.action_index, sample.next_observation)
        job.transitions = len(self.loop.buffer)

    def _train(self, session, job: TrainingJob) -> None:
        try:
            job.state = 'filling'
            with self._model_lock:
                self._fill(session, job)
            if not job.transitions:
                raise ValueError('no usable transitions in that frame range')
            job.state = 'training'
            while job.step < job.steps and not self._cancel.is_set():
                self._park_if_paused(job)
                if self._cancel.is_set():
                    break
                with self._model_lock:  # a step and its count, never one without the other
                    metrics = self.loop.train()
                    job.step += 1
                    job.losses.append({k: v for k, v in metrics.items()
                                       if isinstance(v, float) and math.isfinite(v)})
                loss = metrics.get('predictor_training_loss',
                                   metrics.get('autoencoder_training_loss'))
                if job.loss_threshold is not None and loss <= job.loss_threshold:
                    job.message = f'loss {loss:.6g} <= threshold {job.loss_threshold}'
                    break
            job.state = 'done'
            job.message = job.message or f'{job.step} steps'
        except Exception as error:  # noqa: B902 - the page shows what broke; the server lives
            job.state, job.message = 'failed', repr(error)

    def save(self, directory: Path, name: str = 'world_model') -> Path:
        """Save the loop's whole learning state where the world_model node resumes from it."""
        if self.training and self._running.is_set():
            raise ValueError('pause the training run before saving')
        with self._model_lock:
            path = WorldModelCheckpoints(Path(directory), name).save(self.loop)
        self.source = str(path)
        return path
