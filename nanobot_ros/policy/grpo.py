"""GRPO: reinforcement fine-tuning of a cloned policy from episode outcomes in the sim.

    trainer = GRPOTrainer(GRPOConfig(init='runs/family_bc/policy.safetensors',
                                     run_dir='runs/family_grpo'))
    trainer.run()   # iterations until train success plateaus; checkpoint, curve, summary

One iteration (Shao et al. 2024's group-relative policy optimization, as SimpleVLA-RL applies it
to VLAs): draw `start_states` episode seeds, roll out a group of `group_size` episodes from each
with the current policy sampling its actions (all groups at once in one `TaskBatch`), reward
each episode by its outcome (1 for success, minus `step_cost` per step used), advantage =
(reward - group mean) / (group std + 1e-6), the same for every step of the episode. Groups whose
episodes all got the same reward carry no signal and are dropped. Then `update_epochs` passes of
the clipped policy-gradient loss over the kept steps, with the k3 KL estimate to the frozen
cloned policy (the `init` checkpoint):

    loss = -min(r A, clip(r, 1 - clip, 1 + clip) A) + kl_coef (exp(ref - logp) - (ref - logp) - 1)

with r = exp(logp - logp_old). Which head: the categorical one (`head='categorical'`). The
action space is five discrete moves; a diffusion head's output is snapped to the nearest of them,
so the probability of the executed action is an integral over a Voronoi cell of the chain's
output, which no DDIM/DDPM step gives. DPPO's answer (each denoising step a Gaussian policy)
optimizes the chain's continuous samples, k log-probabilities per action and their noise stored
per step, for an action the robot then discretizes anyway. A categorical head has the exact
log-probability and the exact KL to the cloned policy at the cost of one softmax.

Rollouts stay in one process (`TaskBatch`): the sim is cheap numpy and a step of every running
episode costs one batched forward; the DDS loop would add a round trip per instance per step on
two shared cores, for the same numbers. torchrun is not used: the rollouts are the cost, and
one batched forward already keeps both cores busy.

Checkpoint `grpo.safetensors` in `run_dir` after every `checkpoint_every` iterations and at the
end: weights, optimizer state, the iteration, env steps and history; a killed run resumes there
(start seeds are a function of the iteration, so the resumed run draws the same episodes).
Progress bar, plateau detection on the training success rate (mean of the last
`plateau_window` iterations: a single iteration's 128 episodes on 32 layouts swing by +-10
points, and a lucky one stopped the first run after 10 iterations) and W&B offline like the
trainer.
"""
from dataclasses import dataclass, field
import logging
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch
from tqdm import tqdm

from nanobot_ros.learning.plateau import PlateauConfig, PlateauDetector
from nanobot_ros.policy.modeling import Policy
from nanobot_ros.policy.processing import processor_for
from nanobot_ros.policy.training_run import jsonable, TrainingRun
from nanobot_ros.policy.weights import load_policy
from nanobot_ros.robots.sim.task_family import TaskBatch, TaskFamilyConfig

CHECKPOINT_NAME = 'grpo.safetensors'
TRAIN_SEEDS = 100_000  # GRPO's start states: far from the demos (1000+) and benches (0+)
log = logging.getLogger(__name__)


@dataclass
class GRPOConfig:
    """The cloned policy to start from, the task, and the GRPO hyper-parameters."""

    init: str = 'runs/family_bc/policy.safetensors'
    run_dir: str = 'runs/family_grpo'
    task: TaskFamilyConfig = field(default_factory=TaskFamilyConfig)
    start_states: int = 16
    group_size: int = 8
    lr: float = 3e-5
    clip: float = 0.2
    kl_coef: float = 0.02
    step_cost: float = 0.01
    update_epochs: int = 2
    minibatch: int = 256
    max_iterations: int = 60
    checkpoint_every: int = 5
    plateau: PlateauConfig = field(default_factory=lambda: PlateauConfig(
        patience=8, min_delta=0.005, min_epochs=10, max_epochs=1000))
    plateau_window: int = 5  # iterations averaged (and first counted after that many)
    seed: int = 0
    wandb: bool = True
    progress: bool = True


@dataclass
class Rollout:
    """The steps of one iteration's episodes: inputs, actions, log-probs, episode of each."""

    images: List[np.ndarray] = field(default_factory=list)
    text: List[np.ndarray] = field(default_factory=list)
    actions: List[int] = field(default_factory=list)
    logp: List[float] = field(default_factory=list)
    episode: List[int] = field(default_factory=list)


def group_advantages(rewards: np.ndarray, group_size: int) -> np.ndarray:
    """Return (reward - group mean) / (group std + 1e-6) for rewards grouped consecutively."""
    groups = rewards.reshape(-1, group_size)
    centred = groups - groups.mean(axis=1, keepdims=True)
    return (centred / (groups.std(axis=1, keepdims=True) + 1e-6)).reshape(-1)


def grpo_loss(logits: torch.Tensor, actions: torch.Tensor, old_logp: torch.Tensor,
              ref_logp: torch.Tensor, advantages: torch.Tensor, clip: float,
              kl_coef: float) -> tuple:
    """Return (loss, mean KL to the reference) of the clipped objective over a batch of steps."""
    logp = torch.log_softmax(logits, dim=1).gather(1, actions[:, None])[:, 0]
    ratio = torch.exp(logp - old_logp)
    surrogate = torch.minimum(ratio * advantages,
                              ratio.clamp(1 - clip, 1 + clip) * advantages)
    log_ratio = ref_logp - logp
    kl = torch.exp(log_ratio) - log_ratio - 1
    return (-surrogate + kl_coef * kl).mean(), kl.mean().detach()


class GRPOTrainer:
    """Owns the policy, the frozen reference, the optimizer and the checkpoint of a GRPO run."""

    def __init__(self, config: GRPOConfig):
        self.config = config
        self.training_run = run = TrainingRun(
            config.run_dir, CHECKPOINT_NAME, 'grpo', 'grpo', config, config.wandb)
        self.run_dir, self.checkpoint_path = run.run_dir, run.checkpoint_path
        self.reference, _ = load_policy(config.init)
        if self.reference.config.head != 'categorical':
            raise ValueError(f'{config.init}: GRPO needs a categorical action head '
                             f'(train with --head categorical)')
        self.reference.eval().requires_grad_(False)
        self.policy, _ = load_policy(config.init)
        self.processor = processor_for(self.policy.config)
        self.optimizer = torch.optim.AdamW(
            [p for p in self.policy.parameters() if p.requires_grad], lr=config.lr,
            weight_decay=0.0)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.plateau = PlateauDetector(config.plateau)
        self.iteration, self.env_steps = 0, 0
        self.history: List[dict] = []
        self.resumed_from = self._resume()

    # -- checkpoints ---------------------------------------------------------------------
    def _resume(self) -> Optional[int]:
        meta = self.training_run.resume(self.policy, self.optimizer)
        if meta is None:
            return None
        self.iteration, self.env_steps = meta['iteration'], meta['env_steps']
        self.history = meta['history']
        self.generator.set_state(torch.tensor(meta['generator'], dtype=torch.uint8))
        for end in range(self.config.plateau_window, len(self.history) + 1):
            self.plateau.update(-self._smoothed_success(end))
        self.plateau.reason = ''
        log.info('resumed from %s at iteration %d', self.checkpoint_path, self.iteration)
        return self.iteration

    def save(self) -> Path:
        """Write the checkpoint (atomic, rolling backup); return its path."""
        return self.training_run.save(self.policy, self.optimizer, {
            'iteration': self.iteration, 'env_steps': self.env_steps, 'history': self.history,
            'init': self.config.init, 'generator': self.generator.get_state().tolist(),
            'grpo_config': jsonable(self.config)})

    # -- one iteration -------------------------------------------------------------------
    def _inputs(self, images: List[np.ndarray], text: List[np.ndarray]) -> tuple:
        return (torch.from_numpy(np.stack(images)).float() / 255.0,
                torch.from_numpy(np.stack(text)))

    @torch.no_grad()
    def rollout(self, seeds: np.ndarray) -> tuple:
        """Play a group of episodes from each seed, sampling actions; return (Rollout, batch)."""
        c = self.config
        episode_seeds = np.repeat(seeds, c.group_size)
        batch = TaskBatch(c.task, len(episode_seeds))
        record = Rollout()
        self.policy.eval()

        def choose(indices, observations):
            inputs = self.processor.preprocess(observations)
            logits = self.policy.action_logits(torch.from_numpy(inputs['images']),
                                               torch.from_numpy(inputs['text']))
            logp = torch.log_softmax(logits, dim=1)
            actions = torch.multinomial(logp.exp(), 1, generator=self.generator)[:, 0]
            record.images.extend((inputs['images'] * 255).round().astype(np.uint8))
            record.text.extend(inputs['text'])
            record.actions.extend(actions.tolist())
            record.logp.extend(logp.gather(1, actions[:, None])[:, 0].tolist())
            record.episode.extend(indices.tolist())
            return actions.numpy()

        batch.play(episode_seeds, choose)
        return record, batch

    def iterate(self) -> dict:
        """Run one GRPO iteration; return its record (success, KL, kept steps, ...)."""
        c = self.config
        seeds = TRAIN_SEEDS + self.iteration * c.start_states + np.arange(c.start_states)
        record, batch = self.rollout(seeds)
        steps = batch.steps
        rewards = batch.success.astype(np.float64) - c.step_cost * steps
        advantages = group_advantages(rewards, c.group_size)
        self.env_steps += int(steps.sum())
        keep = np.flatnonzero(np.abs(advantages[np.asarray(record.episode)]) > 1e-8)
        kl_values = []
        if len(keep):
            images, text = self._inputs([record.images[i] for i in keep],
                                        [record.text[i] for i in keep])
            actions = torch.tensor([record.actions[i] for i in keep])
            old_logp = torch.tensor([record.logp[i] for i in keep])
            step_advantages = torch.tensor(advantages[np.asarray(record.episode)[keep]],
                                           dtype=torch.float32)
            with torch.no_grad():
                ref_logp = torch.cat([
                    torch.log_softmax(self.reference.action_logits(
                        images[s:s + c.minibatch], text[s:s + c.minibatch]), dim=1)
                    for s in range(0, len(keep), c.minibatch)]).gather(1, actions[:, None])[:, 0]
            self.policy.train()
            for _ in range(c.update_epochs):
                order = torch.randperm(len(keep), generator=self.generator)
                for start in range(0, len(keep), c.minibatch):
                    j = order[start:start + c.minibatch]
                    loss, kl = grpo_loss(self.policy.action_logits(images[j], text[j]),
                                         actions[j], old_logp[j], ref_logp[j],
                                         step_advantages[j], c.clip, c.kl_coef)
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(self.policy.parameters(), 1.0)
                    self.optimizer.step()
                    kl_values.append(float(kl))
        self.iteration += 1
        result = {'iteration': self.iteration, 'success': float(batch.success.mean()),
                  'reward': float(rewards.mean()), 'mean_steps': float(steps.mean()),
                  'kept_steps': int(len(keep)), 'env_steps': self.env_steps,
                  'kl': float(np.mean(kl_values)) if kl_values else 0.0}
        self.history.append(result)
        return result

    # -- the run -------------------------------------------------------------------------
    def run(self) -> dict:
        """Iterate until the training success plateaus (or max_iterations); summarize."""
        c = self.config
        self.training_run.start()
        bar = tqdm(total=c.max_iterations, initial=self.iteration, desc='grpo', unit='iter',
                   disable=not c.progress)
        while self.iteration < c.max_iterations:
            result = self.iterate()
            bar.update(1)
            bar.set_postfix(success=f'{result["success"]:.3f}', kl=f'{result["kl"]:.4f}',
                            env_steps=self.env_steps)
            self.training_run.log(result, step=self.iteration)
            if self.iteration % c.checkpoint_every == 0:
                self.save()
            if len(self.history) >= c.plateau_window and \
                    self.plateau.update(-self._smoothed_success(len(self.history))):
                log.info('%s', self.plateau.reason)
                break
        bar.close()
        self.save()
        return self.finish()

    def _smoothed_success(self, end: int) -> float:
        """Mean training success of the `plateau_window` iterations up to `end`."""
        window = self.history[max(0, end - self.config.plateau_window):end]
        return float(np.mean([h['success'] for h in window]))

    def finish(self) -> dict:
        """Write summary.json and the success curve PNG; return the summary."""
        summary = {'iterations': self.iteration, 'env_steps': self.env_steps,
                   'final_success': self.history[-1]['success'] if self.history else None,
                   'plateau': self.plateau.reason, 'resumed_from': self.resumed_from,
                   'checkpoint': str(self.checkpoint_path), 'init': self.config.init}
        return self.training_run.finish(summary, self._plot)

    def _plot(self, run_dir: Path) -> None:
        if not self.history:
            return
        from nanobot_ros.learning.visualize import line_plot
        line_plot(run_dir / 'success_curve.png',
                  {'success': ([h['env_steps'] for h in self.history],
                               [h['success'] for h in self.history])},
                  'env steps', 'training success (sampled actions)', 'GRPO')


def greedy_chooser(policy: Policy):
    """Return a TaskBatch chooser that takes the policy's most likely action (batched)."""
    processor = processor_for(policy.config)

    @torch.no_grad()
    def choose(indices, observations):
        inputs = processor.preprocess(observations)
        return policy.eval().action_logits(torch.from_numpy(inputs['images']),
                                           torch.from_numpy(inputs['text'])).argmax(1).numpy()
    return choose
