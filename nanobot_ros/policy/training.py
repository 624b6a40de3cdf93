"""Train the policy from demonstration bags, once or continually, on one process or with DDP.

    trainer = PolicyTrainer(TrainerConfig(data=['demos/'], run_dir='runs/policy'))
    trainer.run()          # epochs until the loss plateaus; checkpoint + learning curve

One epoch is one pass over the samples held at its start, in a permutation fixed by (seed,
epoch), split across DDP ranks. Every `checkpoint_every` steps (and at each epoch's end) rank 0
writes `policy.safetensors` (atomic, rolling backup): weights, optimizer state, the full
PolicyConfig and normalization statistics, the epoch, the position inside it and the loss
history. A trainer killed mid-epoch resumes at that position with the same permutation; a
checkpoint written for another PolicyConfig is refused with the differing keys. `init`
(`nanobot train --init`) starts a new run from another checkpoint's weights and normalization,
e.g. a cloned 'mean' policy continued with `text_condition: cross` (weights.py's warm_start);
a run directory that has a checkpoint resumes it instead. `encoder_from` (`--encoder-from`)
starts the vision encoder from a world model checkpoint's (after `init`, so it wins there), and
`freeze_encoder` keeps the encoder fixed, also on resume (policy/encoder_transfer.py).

Continual mode (the reference's `--continual`): after each epoch the trainer looks for new bag
splits; new samples join the next epoch and reset the plateau detector; when the loss has
plateaued and nothing new arrived it waits `poll_interval` s and looks again, until
`idle_timeout` s pass without new data (None = forever) or `stop()` is called. Normalization
statistics are fitted once, on the first data, so targets do not drift under a running model.

DDP: launched by torchrun (WORLD_SIZE > 1 in the environment) the trainer joins the process
group on the gloo backend (CPU) and wraps the policy in DistributedDataParallel; nothing else
changes. Only rank 0 writes files and logs. Every rank reads the same bags.
"""
from dataclasses import dataclass, field
import json
import logging
import math
import os
from pathlib import Path
import time
from typing import List, Optional

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from nanobot_ros.defaults import parse_assignments
from nanobot_ros.learning.plateau import PlateauConfig, PlateauDetector
from nanobot_ros.policy.demonstrations import BagSource, DemoBuffer
from nanobot_ros.policy.configuration import DEFAULT_DISCRETE_ACTIONS
from nanobot_ros.policy.encoder_transfer import freeze_encoder, load_world_model_encoder
from nanobot_ros.policy.modeling import Policy, PolicyConfig
from nanobot_ros.policy.process_group import join_process_group
from nanobot_ros.policy.processing import processor_for
from nanobot_ros.policy.training_run import jsonable, TrainingRun
from nanobot_ros.policy.weights import warm_start

CHECKPOINT_NAME = 'policy.safetensors'
log = logging.getLogger(__name__)


@dataclass
class TrainerConfig:
    """Where the data is and how to train on it."""

    data: List[str] = field(default_factory=list)
    run_dir: str = 'runs/policy'
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    # a categorical head's action vectors, by index (robot units: the room's are the JetBot's
    # motor values, robots/tasks.py task_actions); empty = the sim's five moves
    discrete_actions: tuple = ()
    init: str = ''  # a policy.safetensors to start from (warm start), '' = fresh init
    # A world model checkpoint whose encoder starts the policy's vision encoder ('' = none;
    # policy/encoder_transfer.py); freeze_encoder keeps that encoder fixed while training.
    encoder_from: str = ''
    freeze_encoder: bool = False
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.01
    checkpoint_every: int = 50
    seed: int = 0
    continual: bool = False
    poll_interval: float = 2.0
    idle_timeout: Optional[float] = None
    # The loss of the target task sits on a plateau for a while before it drops: min_epochs.
    plateau: PlateauConfig = field(default_factory=lambda: PlateauConfig(
        patience=8, min_delta=1e-3, min_epochs=20, max_epochs=60))
    max_steps: int = 0  # 0 = no limit; a budget for tests and quick runs
    wandb: bool = True
    progress: bool = True


class PolicyTrainer:
    """Owns the model, optimizer, data and checkpoint of one training run."""

    def __init__(self, config: TrainerConfig):
        self.config = config
        self.world_size = int(os.environ.get('WORLD_SIZE', '1'))
        self.rank = int(os.environ.get('RANK', '0'))
        self.training_run = run = TrainingRun(
            config.run_dir, CHECKPOINT_NAME, 'training', 'policy', config, config.wandb,
            writer=self.rank == 0)
        self.run_dir, self.checkpoint_path = run.run_dir, run.checkpoint_path
        join_process_group(self.world_size)
        torch.manual_seed(config.seed + self.rank)
        self.policy = Policy(config.policy, config.discrete_actions or DEFAULT_DISCRETE_ACTIONS)
        if config.freeze_encoder:  # before the optimizer, which takes trainable parameters
            freeze_encoder(self.policy)
        self.buffer = DemoBuffer(processor_for(self.policy.config),
                                 config.policy.robotics_action_dim)
        self.source = BagSource(config.data, self.buffer) if config.data else None
        self.optimizer = torch.optim.AdamW(
            [p for p in self.policy.parameters() if p.requires_grad], lr=config.lr,
            weight_decay=config.weight_decay)
        self.plateau = PlateauDetector(config.plateau)
        self.epoch, self.position, self.step = 0, 0, 0
        self.epoch_samples = 0
        self.losses: List[float] = []  # per step
        self.epoch_losses: List[float] = []
        self.stats_fitted = False
        self.stopped = False
        self.status = 'starting'
        self.on_epoch_end = None  # callable(trainer), e.g. the trainer node's exporter
        self.on_step = None  # callable(trainer) after every step, e.g. a bench's evaluation
        self.resumed_from = self._resume()
        if self.resumed_from is None and config.init:
            self._warm_start(config.init)
        if self.resumed_from is None and config.encoder_from:
            self._load_encoder(config.encoder_from)
        self.model = (DistributedDataParallel(self.policy) if self.world_size > 1
                      else self.policy)

    # -- checkpoints ---------------------------------------------------------------------
    def _resume(self) -> Optional[int]:
        meta = self.training_run.resume(self.policy, self.optimizer)
        if meta is None:
            return None
        self.epoch, self.position, self.step = meta['epoch'], meta['position'], meta['step']
        self.epoch_samples = meta['epoch_samples']
        self.losses, self.epoch_losses = meta['losses'], meta['epoch_losses']
        for loss in self.epoch_losses:
            self.plateau.update(loss)
        self.plateau.reason = ''
        self.stats_fitted = True
        log.info('resumed from %s: step %d, epoch %d at sample %d', self.checkpoint_path,
                 self.step, self.epoch, self.position)
        return self.step

    def _warm_start(self, path: str) -> None:
        """Start from `path`'s weights and normalization (a fresh optimizer and counters)."""
        report = warm_start(path, self.policy)
        self.stats_fitted = True  # the weights were trained with the file's statistics
        log.info('warm start from %s: %d tensors loaded (config differences: %s)', path,
                 len(report['loaded']), '; '.join(report['differences']) or 'none')
        if report['missing']:
            log.info('not in %s, so initialised fresh: %s; of them zero-initialised (start at '
                     'zero, so the policy starts computing what the checkpoint does): %s', path,
                     ', '.join(report['missing']), ', '.join(report['zero_init']) or 'none')

    def _load_encoder(self, path: str) -> None:
        """Start the vision encoder from the world model checkpoint at `path`."""
        report = load_world_model_encoder(path, self.policy, self.config.freeze_encoder)
        log.info('vision encoder from the world model %s: %d tensors loaded, %s', report['path'],
                 len(report['tensors']), 'frozen' if report['frozen'] else 'trained further')

    def save(self) -> Optional[Path]:
        """Write the checkpoint (rank 0 only); return its path."""
        return self.training_run.save(self.policy, self.optimizer, {
            'epoch': self.epoch, 'position': self.position, 'step': self.step,
            'epoch_samples': self.epoch_samples, 'losses': self.losses,
            'epoch_losses': self.epoch_losses, 'world_size': self.world_size,
            'samples': len(self.buffer), 'trainer_config': jsonable(self.config)})

    # -- data ------------------------------------------------------------------------------
    def poll_data(self, limit: Optional[int] = None) -> int:
        """Add samples from bags finished since the last look; return how many."""
        return self.source.poll(limit) if self.source is not None else 0

    def _fit_stats(self) -> None:
        if self.stats_fitted or not len(self.buffer):
            return
        self.policy.action_norm.fit(self.buffer.stacked('actions'))
        if self.config.policy.robotics_sensor_dim:
            self.policy.sensor_norm.fit(self.buffer.stacked('sensors'))
        if self.config.policy.robotics_surface_dim:
            self.policy.surface_norm.fit(self.buffer.stacked('surface'))
        self.stats_fitted = True

    # -- training --------------------------------------------------------------------------
    def _permutation(self) -> np.ndarray:
        order = np.random.default_rng([self.config.seed, self.epoch]).permutation(
            self.epoch_samples)
        usable = len(order) // self.world_size * self.world_size
        return order[self.rank:usable:self.world_size]

    def train_epoch(self) -> float:
        """Run (the rest of) one epoch; return its mean loss."""
        if self.position == 0:
            self.epoch_samples = len(self.buffer)
        shard = self._permutation()
        batch_size = self.config.batch_size
        starts = range(self.position // self.world_size, len(shard), batch_size)
        losses = []
        bar = tqdm(starts, desc=f'epoch {self.epoch}', unit='batch', leave=False,
                   disable=not self.config.progress or self.rank != 0)
        self.model.train()
        for start in bar:
            loss = self.model(self.buffer.batch(shard[start:start + batch_size]))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.policy.parameters(), 1.0)
            self.optimizer.step()
            value = float(loss.detach())
            losses.append(value)
            self.losses.append(value)
            self.step += 1
            self.position = min((start + batch_size) * self.world_size, self.epoch_samples)
            bar.set_postfix(loss=f'{value:.4f}', step=self.step)
            self._log({'loss': value, 'epoch': self.epoch})
            if self.step % self.config.checkpoint_every == 0:
                self.save()
            if self.on_step is not None:
                self.on_step(self)
            if self.stopped or self._out_of_steps():
                return float(np.mean(losses)) if losses else math.nan
        mean = float(np.mean(losses)) if losses else math.nan
        mean = self._all_ranks_mean(mean)
        self.epoch_losses.append(mean)
        self.epoch += 1
        self.position = 0
        self.save()
        return mean

    def _all_ranks_mean(self, value: float) -> float:
        if self.world_size == 1:
            return value
        tensor = torch.tensor([value])
        dist.all_reduce(tensor)
        return float(tensor) / self.world_size

    def _out_of_steps(self) -> bool:
        return bool(self.config.max_steps) and self.step >= self.config.max_steps

    def run(self) -> dict:
        """Train until plateau (and, in continual mode, until no new data comes); summarize."""
        self.training_run.start()
        self.poll_data(self.epoch_samples or None)
        if self.resumed_from is not None:
            self.poll_data()  # the rest, for the epochs after the resumed one
        self._fit_stats()
        idle_since = time.monotonic()
        while not self.stopped and not self._out_of_steps():
            if len(self.buffer) == 0 or (self.plateau.reason and self.position == 0):
                if not self._wait_for_data(idle_since):
                    break
                idle_since = time.monotonic()
                continue
            self.status = f'epoch {self.epoch}'
            loss = self.train_epoch()
            if self.position == 0 and self.on_epoch_end is not None and self.rank == 0:
                self.on_epoch_end(self)
            if self.position == 0 and self.plateau.update(loss):
                log.info('%s', self.plateau.reason)
                if not self.config.continual:
                    break
            if self.position == 0 and self.config.continual and self.poll_data():
                self.plateau = PlateauDetector(self.config.plateau)
                idle_since = time.monotonic()
        self.save()
        return self.finish()

    def _wait_for_data(self, idle_since: float) -> bool:
        """Wait for new samples; False when training should end instead."""
        if not self.config.continual:
            return False
        timeout = self.config.idle_timeout
        if timeout is not None and time.monotonic() - idle_since > timeout:
            return False
        self.status = 'plateau: waiting for new data' if len(self.buffer) else 'waiting for data'
        time.sleep(self.config.poll_interval)
        if self.poll_data():
            self._fit_stats()
            self.plateau = PlateauDetector(self.config.plateau)
            return True
        return True

    def stop(self) -> None:
        """Finish the current batch, checkpoint and return from `run()`."""
        self.stopped = True

    # -- reporting -------------------------------------------------------------------------
    def _log(self, values: dict) -> None:
        self.training_run.log(values, step=self.step)

    def finish(self) -> dict:
        """Write summary.json and the learning curve PNG (rank 0); return the summary."""
        summary = {'steps': self.step, 'epochs': self.epoch, 'samples': len(self.buffer),
                   'rejected_samples': self.buffer.rejected,
                   'skipped_bags': self.source.skipped if self.source else {},
                   'epoch_losses': self.epoch_losses,
                   'final_loss': self.epoch_losses[-1] if self.epoch_losses else None,
                   'plateau': self.plateau.reason, 'resumed_from_step': self.resumed_from,
                   'world_size': self.world_size, 'checkpoint': str(self.checkpoint_path)}
        self.training_run.finish(summary, self._plot)
        self.status = 'finished'
        return summary

    def _plot(self, run_dir: Path) -> None:
        if not self.losses:
            return
        from nanobot_ros.learning.visualize import line_plot
        window = max(1, len(self.losses) // 50)
        smooth = np.convolve(self.losses, np.ones(window) / window, mode='valid')
        line_plot(run_dir / 'learning_curve.png',
                  {'batch': (np.arange(len(self.losses)), self.losses, 0.4),
                   f'mean of {window}': (np.arange(len(smooth)) + window - 1, smooth)},
                  'step', 'loss', f'policy {self.config.policy.head} loss', log=True)


def policy_config_from_args(args) -> PolicyConfig:
    """Build a PolicyConfig from `--set key=value` overrides of the defaults."""
    values = PolicyConfig().to_dict()
    try:
        pairs = parse_assignments(args.set)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    for key, text in pairs:
        if key not in values:
            raise SystemExit(f'unknown policy config key {key!r}; keys: {sorted(values)}')
        values[key] = json.loads(text) if text not in ('', 'true', 'false') else text == 'true'
    return PolicyConfig.from_dict(values)
