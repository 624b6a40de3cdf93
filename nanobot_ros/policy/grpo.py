"""GRPO: reinforcement fine-tuning of a cloned policy from episode outcomes in the sim.

    trainer = GRPOTrainer(GRPOConfig(init='runs/family_bc/policy.safetensors',
                                     run_dir='runs/family_grpo'))
    trainer.run()   # iterations until train success plateaus; checkpoint, curve, summary

One iteration (Shao et al. 2024's group-relative policy optimization, as SimpleVLA-RL applies it
to VLAs): draw `start_states` episode seeds, roll out a group of `group_size` episodes from each
with the current policy sampling its actions (all groups at once in one `TaskBatch`), reward
each episode by its outcome (1 for success, minus `step_cost` per step used), advantage =
reward - group mean, the same for every step of the episode (`advantage_std` divides it by the
group's standard deviation as the original GRPO does: then a one-step length difference between
two successes weighs as much as a success against a failure; Dr. GRPO drops the division).
Groups whose episodes all got the same reward carry no signal and are dropped (DAPO's dynamic
sampling). Then `update_epochs` passes of `minibatches` optimizer steps, each over the steps of
a random share of the kept groups, of the clipped policy-gradient loss with a KL to the frozen
cloned policy (the `init` checkpoint), a sum over the minibatch's steps:

    loss = sum_t w_t [-min(r A, clip(r, 1 - clip, 1 + clip_high) A) + kl_coef KL_t]

with r = exp(logp - logp_old) and logp, logp_old the log-probabilities of the sampled action.
All log-probabilities (sampling, old, new, reference) are of the logits divided by
`temperature`: above 1 the rollouts explore more (SimpleVLA-RL samples at 1.6) and the ratio
stays that of the distribution that sampled; greedy actions do not depend on it. `clip_high`
above `clip` is DAPO's clip-higher: an unlikely action that paid off may grow further before
its gradient is cut (None: symmetric). KL_t (`kl_estimator`): 'k3' is Schulman's one-sample
estimator exp(ref - logp) - (ref - logp) - 1 at the sampled action (ref its reference
log-probability): unbiased for KL(policy || clone) in expectation and never negative, not the
KL itself, and heavy-tailed: a sampled action the policy made unlikely and the clone did
not weighs exp(ref - logp); 'exact' is the KL itself over the five actions, sum_a p(a)
(log p(a) - log ref(a)), one softmax away. The history reports both means, `kl` (k3) and
`kl_exact`. The step weights w_t (`episode_step_weights`):
`loss_average='episode'` gives every episode of the minibatch the same weight, shared by its
steps (1 / (its length x episodes)), so a 20-step failure weighs as much as a 6-step success;
`'step'` weighs every step the same (1 / steps), where that failure weighs three times the
success.

Which head: the categorical one (`head='categorical'`). The action space is five discrete
moves; a diffusion head's output is snapped to the nearest of them, so the probability of the
executed action is an integral over a Voronoi cell of the chain's output, which no DDIM/DDPM
step gives. DPPO's answer (each denoising step a Gaussian policy) optimizes the chain's
continuous samples, k log-probabilities per action and their noise stored per step, for an
action the robot then discretizes anyway. A categorical head has the exact log-probability of
the executed action at the cost of one softmax.

Rollouts run in-process (`TaskBatch`): the sim is cheap numpy and a step of every running
episode costs one batched forward; the DDS loop would add a round trip per instance per step.
**Several processes** (torchrun, torch.distributed; gloo on CPU, nccl on GPUs): rank r rolls
out start states r, r + world_size, ... (a group never spans ranks), the episodes' outcomes
(success, steps) are all-reduced so every rank computes every advantage and weight, each
minibatch is the same set of groups on every rank (a permutation drawn from the seed and the
iteration), each rank back-propagates its own steps of it and the gradients are all-reduced
(summed: the weights already divide by the whole minibatch), so every rank takes the same
optimizer step. Sampling draws one uniform per episode step from a generator seeded by (seed,
start seed, member of the group), so an episode samples the same actions whichever rank plays
it: n processes compute what one does, up to float summation order (test_grpo_distributed.py).

Checkpoint `grpo.safetensors` in `run_dir` after every `checkpoint_every` iterations and at the
end (rank 0 writes): weights, optimizer state, the iteration, env steps and history; a killed
run resumes there (start seeds and sampling draws are functions of the iteration, so the
resumed run draws the same episodes). Progress bar, plateau detection on the training success
rate (mean of the last `plateau_window` iterations: a single iteration's 128 episodes on 32
layouts swing by +-10 points, and a lucky one stopped the first run after 10 iterations) and
W&B offline like the trainer.

**Choosing the checkpoint on what is served** (`select_every` N > 0): the training success is
sampled at the training temperature on training phrasings, and is not what a kernel serves.
Every N iterations rank 0 plays `select_episodes` episodes from `select_seed` (the benches'
seeds, below the demonstrations' 1000+) with the training and with the held-out phrasings,
actions drawn as the kernels draw them at `select_temperature`, and keeps the iteration with
the best mean of the two as `grpo_best.safetensors` (the rule the room's checkpoints were chosen
by, by hand, in docs/policy.md). Use a seed range the final figures never come from. With
`select_patience` P > 0 the run stops after P checks without a better mean, in place of the
training success's plateau (rank 0 decides, every rank stops at the same iteration).
"""
from dataclasses import dataclass, field, replace
import logging
import os
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from nanobot_ros.learning.plateau import PlateauConfig, PlateauDetector
from nanobot_ros.policy.modeling import Policy
from nanobot_ros.policy.process_group import join_process_group
from nanobot_ros.policy.processing import processor_for, sampler_noise
from nanobot_ros.policy.training_run import jsonable, TrainingRun
from nanobot_ros.policy.weights import load_policy, save_policy
from nanobot_ros.robots.sim.task_family import TaskBatch, TaskFamilyConfig

CHECKPOINT_NAME = 'grpo.safetensors'
BEST_NAME = 'grpo_best.safetensors'  # the policy of the best selection score (select_every)
FORWARD_CHUNK = 256  # steps per forward pass (memory: a minibatch can hold thousands)
TRAIN_SEEDS = 100_000  # GRPO's start states: far from the demos (1000+) and benches (0+)
LOSS_AVERAGES = ('episode', 'step')
KL_ESTIMATORS = ('k3', 'exact')
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
    clip_high: Optional[float] = None  # the ratio's upper bound 1 + clip_high (None: clip)
    kl_coef: float = 0.02
    kl_estimator: str = 'k3'  # 'k3': one-sample estimate at the sampled action; 'exact'
    temperature: float = 1.0  # rollouts sample softmax(logits / temperature)
    step_cost: float = 0.01
    loss_average: str = 'episode'  # 'episode': every episode weighs the same; 'step': every step
    advantage_std: bool = False  # divide advantages by the group's standard deviation
    update_epochs: int = 2
    minibatches: int = 4  # optimizer steps per epoch, each over a random share of the groups
    max_iterations: int = 60
    checkpoint_every: int = 5
    plateau: PlateauConfig = field(default_factory=lambda: PlateauConfig(
        patience=8, min_delta=0.005, min_epochs=10, max_epochs=1000))
    plateau_window: int = 5  # iterations averaged (and first counted after that many)
    select_every: int = 0  # iterations between selection checks as served (0: none)
    select_episodes: int = 100  # per phrasing split (training, held-out)
    select_seed: int = 0  # the first of the selection episodes' seeds
    select_temperature: float = 0.0  # the kernels' `temperature` the policy will be served at
    select_patience: int = 0  # checks without a better selection score to stop (0: plateau)
    seed: int = 0
    wandb: bool = True
    progress: bool = True

    def validate(self) -> None:
        """Raise ValueError naming the first setting that makes no run."""
        if hasattr(self.task, 'validate'):  # the grid's; the room's config checks when made
            self.task.validate()
        if self.loss_average not in LOSS_AVERAGES:
            raise ValueError(f'loss_average {self.loss_average!r}: one of {LOSS_AVERAGES}')
        if self.kl_estimator not in KL_ESTIMATORS:
            raise ValueError(f'kl_estimator {self.kl_estimator!r}: one of {KL_ESTIMATORS}')
        if self.temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {self.temperature}')
        for name in ('start_states', 'group_size', 'update_epochs', 'minibatches',
                     'select_episodes'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        if self.select_every < 0 or self.select_temperature < 0 or self.select_patience < 0:
            raise ValueError('select_every, select_temperature and select_patience must be >= 0')
        if self.select_patience and not self.select_every:
            raise ValueError('select_patience counts selection checks: set select_every too')
        if not 0 <= self.select_seed <= self.select_seed + self.select_episodes <= 1000:
            raise ValueError(f'selection seeds {self.select_seed}-'
                             f'{self.select_seed + self.select_episodes - 1}: the benches\' '
                             f'seeds are 0-999 (demonstrations use 1000+, GRPO {TRAIN_SEEDS}+)')


@dataclass
class Rollout:
    """The steps of one rollout's episodes: inputs, actions, log-probs, episode of each."""

    images: List[np.ndarray] = field(default_factory=list)
    text: List[np.ndarray] = field(default_factory=list)
    actions: List[int] = field(default_factory=list)
    logp: List[float] = field(default_factory=list)
    episode: List[int] = field(default_factory=list)


def group_advantages(rewards: np.ndarray, group_size: int, divide_by_std: bool = False,
                     eps: float = 1e-6) -> np.ndarray:
    """Return reward - group mean (/ (group std + eps)) for rewards grouped consecutively."""
    groups = rewards.reshape(-1, group_size)
    centred = groups - groups.mean(axis=1, keepdims=True)
    if divide_by_std:
        centred = centred / (groups.std(axis=1, keepdims=True) + eps)
    return centred.reshape(-1)


def episode_step_weights(steps: np.ndarray, average: str) -> np.ndarray:
    """Return the loss weight of one step of each episode, for a loss summed over their steps.

    `steps[e]` is episode e's length. 'episode': 1 / (steps[e] x episodes), so each episode's
    steps sum to 1 / episodes; 'step': 1 / total steps. Either way all steps sum to 1.
    """
    steps = np.asarray(steps, np.float64)
    if average == 'episode':
        return 1.0 / (steps * len(steps))
    if average == 'step':
        return np.full(len(steps), 1.0 / steps.sum())
    raise ValueError(f'average {average!r}: one of {LOSS_AVERAGES}')


def sampling_uniforms(seed: int, start_seeds: np.ndarray, group_size: int,
                      budget: int) -> np.ndarray:
    """Return (episodes, budget) uniforms, row start i x group_size + j for member j of start i.

    Each row comes from its own generator (seed, start seed, member), so an episode's draws do
    not depend on which process or batch plays it.
    """
    return np.stack([np.random.default_rng([seed, int(s), j]).random(budget)
                     for s in start_seeds for j in range(group_size)])


def grpo_loss(log_probs: torch.Tensor, actions: torch.Tensor, old_logp: torch.Tensor,
              ref_log_probs: torch.Tensor, advantages: torch.Tensor, weights: torch.Tensor,
              clip: float, clip_high: float, kl_coef: float, kl_estimator: str) -> tuple:
    """Return (loss, k3 KL estimate per step, exact KL per step): a weighted sum over steps.

    `log_probs` and `ref_log_probs` are (steps, actions) log-softmaxes of the policy (with its
    gradient) and the reference; the ratio is clipped to [1 - clip, 1 + clip_high].
    """
    logp = log_probs.gather(1, actions[:, None])[:, 0]
    ratio = torch.exp(logp - old_logp)
    surrogate = torch.minimum(ratio * advantages,
                              ratio.clamp(1 - clip, 1 + clip_high) * advantages)
    log_ratio = ref_log_probs.gather(1, actions[:, None])[:, 0] - logp
    k3 = torch.exp(log_ratio) - log_ratio - 1
    exact = (log_probs.exp() * (log_probs - ref_log_probs)).sum(1)
    kl = k3 if kl_estimator == 'k3' else exact
    return (weights * (-surrogate + kl_coef * kl)).sum(), k3.detach(), exact.detach()


class GRPOTrainer:
    """Owns the policy, the frozen reference, the optimizer and the checkpoint of a GRPO run.

    Under torchrun (WORLD_SIZE > 1) it joins the process group (gloo) and splits the groups.
    """

    def __init__(self, config: GRPOConfig):
        config.validate()
        self.config = config
        self.world_size = int(os.environ.get('WORLD_SIZE', '1'))
        self.rank = int(os.environ.get('RANK', '0'))
        join_process_group(self.world_size)
        self.training_run = run = TrainingRun(
            config.run_dir, CHECKPOINT_NAME, 'grpo', 'grpo', config, config.wandb,
            writer=self.rank == 0)
        self.run_dir, self.checkpoint_path = run.run_dir, run.checkpoint_path
        self.reference, _ = load_policy(config.init)
        if self.reference.config.head != 'categorical':
            raise ValueError(f'{config.init}: GRPO needs a categorical action head '
                             f'(train with --head categorical)')
        self.reference.eval().requires_grad_(False)
        self.policy, _ = load_policy(config.init)
        self.processor = processor_for(self.policy.config)
        self.parameters = [p for p in self.policy.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.parameters, lr=config.lr, weight_decay=0.0)
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
        for end in range(self.config.plateau_window, len(self.history) + 1):
            self.plateau.update(-self._smoothed_success(end))
        self.plateau.reason = ''
        log.info('resumed from %s at iteration %d', self.checkpoint_path, self.iteration)
        return self.iteration

    def save(self) -> Optional[Path]:
        """Write the checkpoint (atomic, rolling backup; rank 0 only); return its path."""
        return self.training_run.save(self.policy, self.optimizer, {
            'iteration': self.iteration, 'env_steps': self.env_steps, 'history': self.history,
            'init': self.config.init, 'world_size': self.world_size,
            'grpo_config': jsonable(self.config)})

    # -- one iteration -------------------------------------------------------------------
    def _inputs(self, images: List[np.ndarray], text: List[np.ndarray]) -> tuple:
        return (torch.from_numpy(np.stack(images)).float() / 255.0,
                torch.from_numpy(np.stack(text)))

    def _log_probs(self, policy: Policy, images: torch.Tensor, text: torch.Tensor):
        """Return the log-softmax of `policy`'s logits at the sampling temperature."""
        return torch.log_softmax(policy.action_logits(images, text) / self.config.temperature, 1)

    def start_seeds(self, iteration: int) -> np.ndarray:
        """Return the iteration's start seeds (all ranks')."""
        c = self.config
        return TRAIN_SEEDS + iteration * c.start_states + np.arange(c.start_states)

    @torch.no_grad()
    def rollout(self, seeds: np.ndarray) -> tuple:
        """Play a group of episodes from each seed, sampling actions; return (Rollout, batch).

        Episode i x group_size + j of the batch is member j of seeds[i]'s group.
        """
        c = self.config
        episode_seeds = np.repeat(seeds, c.group_size)
        uniforms = sampling_uniforms(c.seed, seeds, c.group_size, c.task.step_budget)
        batch = TaskBatch(c.task, len(episode_seeds))
        record = Rollout()
        self.policy.eval()

        def choose(indices, observations):
            inputs = self.processor.preprocess(observations)
            logp = self._log_probs(self.policy, torch.from_numpy(inputs['images']),
                                   torch.from_numpy(inputs['text']))
            cdf = np.cumsum(logp.double().exp().numpy(), axis=1)
            u = uniforms[indices, [batch.tasks[i].steps for i in indices]]
            actions = np.minimum((u[:, None] > cdf).sum(axis=1), cdf.shape[1] - 1)
            record.images.extend((inputs['images'] * 255).round().astype(np.uint8))
            record.text.extend(inputs['text'])
            record.actions.extend(actions.tolist())
            record.logp.extend(logp[np.arange(len(actions)), actions].tolist())
            record.episode.extend(indices.tolist())
            return actions

        batch.play(episode_seeds, choose)
        batch.close()  # the outcomes stay; the room's renderer goes
        return record, batch

    def _all_reduce(self, values: np.ndarray) -> np.ndarray:
        """Return the sum over ranks of `values` (float64)."""
        tensor = torch.from_numpy(np.asarray(values, np.float64).copy())
        if self.world_size > 1:
            dist.all_reduce(tensor)
        return tensor.numpy()

    def _reduce_gradients(self) -> None:
        """Sum the gradients over ranks (a parameter without one counts as zeros)."""
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.parameters]
        if self.world_size > 1:
            flat = torch.cat([g.reshape(-1) for g in grads])
            dist.all_reduce(flat)
            grads = torch.split(flat, [g.numel() for g in grads])
        for p, g in zip(self.parameters, grads):
            p.grad = g.view_as(p).clone() if self.world_size > 1 else g

    def iterate(self) -> dict:
        """Run one GRPO iteration; return its record (success, KL, kept steps, ...)."""
        c, group = self.config, self.config.group_size
        seeds = self.start_seeds(self.iteration)
        mine = np.arange(self.rank, c.start_states, self.world_size)  # this rank's start states
        record, batch = self.rollout(seeds[mine])
        episodes = (mine[:, None] * group + np.arange(group)).reshape(-1)  # global index
        outcome = np.zeros((2, c.start_states * group))
        outcome[:, episodes] = batch.success, batch.steps
        success, steps = self._all_reduce(outcome)
        rewards = success - c.step_cost * steps
        advantages = group_advantages(rewards, group, c.advantage_std)
        self.env_steps += int(steps.sum())
        step_episode = episodes[np.asarray(record.episode, np.int64)]
        kept_groups = np.flatnonzero(np.abs(advantages.reshape(-1, group)).max(axis=1) > 1e-8)
        mine_kept = np.flatnonzero(np.isin(step_episode // group, kept_groups))
        kl_sums = np.zeros(3)  # k3 sum, exact KL sum, steps
        kept_episode = step_episode[mine_kept]
        if len(mine_kept):  # a rank may hold none of the kept groups: it still all-reduces
            images, text = self._inputs([record.images[i] for i in mine_kept],
                                        [record.text[i] for i in mine_kept])
            actions = torch.tensor([record.actions[i] for i in mine_kept], dtype=torch.int64)
            old_logp = torch.tensor([record.logp[i] for i in mine_kept], dtype=torch.float32)
            step_advantages = torch.tensor(advantages[kept_episode], dtype=torch.float32)
            with torch.no_grad():
                ref_log_probs = torch.cat([
                    self._log_probs(self.reference, images[k], text[k])
                    for k in torch.arange(len(mine_kept)).split(FORWARD_CHUNK)])
        if len(kept_groups):
            order_rng = np.random.default_rng([c.seed, self.iteration])
            self.policy.train()
            for _ in range(c.update_epochs):
                order = order_rng.permutation(kept_groups)
                for part in np.array_split(order, min(c.minibatches, len(order))):
                    part_episodes = (part[:, None] * group + np.arange(group)).reshape(-1)
                    weights = np.zeros(len(steps))
                    weights[part_episodes] = episode_step_weights(steps[part_episodes],
                                                                  c.loss_average)
                    minibatch = torch.from_numpy(
                        np.flatnonzero(np.isin(kept_episode // group, part)))
                    self.optimizer.zero_grad(set_to_none=True)
                    # the loss is a sum: accumulate over passes (none when no step is here)
                    for j in minibatch.split(FORWARD_CHUNK) if len(minibatch) else ():
                        loss, k3, exact = grpo_loss(
                            self._log_probs(self.policy, images[j], text[j]), actions[j],
                            old_logp[j], ref_log_probs[j], step_advantages[j],
                            torch.tensor(weights[kept_episode[j.numpy()]], dtype=torch.float32),
                            c.clip, c.clip if c.clip_high is None else c.clip_high, c.kl_coef,
                            c.kl_estimator)
                        loss.backward()
                        kl_sums += [float(k3.sum()), float(exact.sum()), len(j)]
                    self._reduce_gradients()
                    torch.nn.utils.clip_grad_norm_(self.parameters, 1.0)
                    self.optimizer.step()
        kl_sums = self._all_reduce(kl_sums)
        self.iteration += 1
        result = {'iteration': self.iteration, 'success': float(success.mean()),
                  'reward': float(rewards.mean()), 'mean_steps': float(steps.mean()),
                  'kept_steps': int(steps.reshape(-1, group)[kept_groups].sum()),
                  'env_steps': self.env_steps,
                  'kl': float(kl_sums[0] / kl_sums[2]) if kl_sums[2] else 0.0,
                  'kl_exact': float(kl_sums[1] / kl_sums[2]) if kl_sums[2] else 0.0}
        self.history.append(result)
        return result

    # -- the run -------------------------------------------------------------------------
    def run(self) -> dict:
        """Iterate until the training success plateaus (or max_iterations); summarize."""
        c = self.config
        self.training_run.start()
        bar = tqdm(total=c.max_iterations, initial=self.iteration, desc='grpo', unit='iter',
                   disable=not c.progress or self.rank != 0)
        while self.iteration < c.max_iterations:
            result = self.iterate()
            bar.update(1)
            bar.set_postfix(success=f'{result["success"]:.3f}', kl=f'{result["kl"]:.4f}',
                            env_steps=self.env_steps)
            if c.select_every and self.iteration % c.select_every == 0 and self.rank == 0:
                best = self.best()
                result.update(self.select())  # the history's entry of this iteration
                if best is None or result['select'] > best['select']:
                    self.save_best(result)
            self.training_run.log(result, step=self.iteration)
            if self.iteration % c.checkpoint_every == 0:
                self.save()
            if self._stops():
                log.info('%s', self.plateau.reason)
                break
        bar.close()
        self.save()
        return self.finish()

    def _stops(self) -> bool:
        """Whether the run ends here; the reason goes to `self.plateau.reason`.

        With select_patience: rank 0's last select_patience checks were none better than its
        best (every rank learns it from rank 0); else the training success's plateau.
        """
        c = self.config
        if c.select_patience:
            best = self.best()
            since = sum(h['iteration'] > best['iteration'] for h in self.selections()) \
                if best else 0
            if self._all_reduce([float(since >= c.select_patience)])[0] == 0:
                return False
            self.plateau.reason = (f'selection: no better score in {c.select_patience} checks '
                                   f'(best {best["select"]:.3f} at iteration '
                                   f'{best["iteration"]})' if best else 'selection: rank 0 stops')
            return True
        return len(self.history) >= c.plateau_window and \
            self.plateau.update(-self._smoothed_success(len(self.history)))

    def select(self) -> dict:
        """Return the success on the selection episodes as served.

        Per phrasing split ('select_train', 'select_heldout') and their mean ('select').
        """
        c = self.config
        seeds = list(range(c.select_seed, c.select_seed + c.select_episodes))
        result = {}
        for phrasings in ('train', 'heldout'):
            choose = policy_chooser(self.policy, c.select_temperature, c.seed)
            with TaskBatch(replace(c.task, phrasings=phrasings), len(seeds)) as batch:
                success, _ = batch.play(seeds, choose)
            result[f'select_{phrasings}'] = float(np.mean(success))
        result['select'] = (result['select_train'] + result['select_heldout']) / 2
        return result

    def selections(self) -> List[dict]:
        """Return the history's entries of the iterations with a selection check."""
        return [h for h in self.history if 'select' in h]

    def best(self) -> Optional[dict]:
        """Return the history's entry with the best selection score (the first of ties)."""
        return max(self.selections(), key=lambda h: h['select'], default=None)

    def save_best(self, result: dict) -> Path:
        """Write the policy as it is now to grpo_best.safetensors, with its selection figures."""
        return save_policy(self.run_dir / BEST_NAME, self.policy,
                           extra_metadata={'grpo_best': result}, keep_backup=False)

    def _smoothed_success(self, end: int) -> float:
        """Mean training success of the `plateau_window` iterations up to `end`."""
        window = self.history[max(0, end - self.config.plateau_window):end]
        return float(np.mean([h['success'] for h in window]))

    def finish(self) -> dict:
        """Write summary.json and the success curve PNG; return the summary."""
        summary = {'iterations': self.iteration, 'env_steps': self.env_steps,
                   'final_success': self.history[-1]['success'] if self.history else None,
                   'plateau': self.plateau.reason, 'resumed_from': self.resumed_from,
                   'checkpoint': str(self.checkpoint_path), 'init': self.config.init,
                   'world_size': self.world_size,
                   'max_kl': max((h['kl'] for h in self.history), default=None),
                   'max_kl_exact': max((h.get('kl_exact', 0.0) for h in self.history),
                                       default=None),
                   'best': self.best()}
        return self.training_run.finish(summary, self._plot)

    def _plot(self, run_dir: Path) -> None:
        if not self.history:
            return
        from nanobot_ros.learning.visualize import line_plot
        series = {'training (sampled)': ([h['env_steps'] for h in self.history],
                                         [h['success'] for h in self.history])}
        checked = self.selections()
        for split in ('train', 'heldout') if checked else ():
            series[f'selection, {split} phrasings (as served)'] = (
                [h['env_steps'] for h in checked], [h[f'select_{split}'] for h in checked])
        line_plot(run_dir / 'success_curve.png', series, 'env steps', 'success', 'GRPO')


def policy_chooser(policy: Policy, temperature: float = 0.0, seed: int = 0):
    """Return a TaskBatch chooser that acts as the kernels serve the policy (batched).

    The most likely action at `temperature` 0, else a draw from softmax(logits / temperature).
    """
    processor = processor_for(policy.config)
    rng = np.random.default_rng(seed)

    @torch.no_grad()
    def choose(indices, observations):
        inputs = processor.preprocess(observations)
        logits = policy.eval().action_logits(torch.from_numpy(inputs['images']),
                                             torch.from_numpy(inputs['text'])).numpy()
        return (logits + sampler_noise('categorical', logits.shape, rng, temperature)).argmax(1)
    return choose
