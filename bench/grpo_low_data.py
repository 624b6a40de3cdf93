"""Low-data GRPO: where cloning stalls below 60 %, GRPO from that clone, against more cloning.

    ./run.sh python bench/grpo_low_data.py --out runs/low_data            # every stage
    ./run.sh python bench/grpo_low_data.py --out runs/low_data --stage clones   # one stage

Stages, each cached in --out so a rerun continues where the last one stopped (a long
pipeline as several runs of <= 15 minutes on this machine):

1. `clones`: for each demonstration count of --counts, largest first, clone a policy on that
   many expert episodes (training phrasings) to its plateau: greedy success on the selection
   seeds every --eval-every steps, stop after --patience evaluations without a better one
   (counted from --bc-min-steps), keep the best. Stop at the first count whose plateau stays
   below --below (60 %).
2. `variants`: short GRPO runs (--variant-iterations) from that clone, one per loss form: the
   loss averaged per episode or per step, advantages divided by the group's std or not, and
   one per lever of VARIANTS (temperature, clip-higher, the exact KL, the learning rate,
   more start states), alone or joined with '+' (--variants picks some, so two processes can
   share them); prints the sampled training
   success per iteration, the max KL and the greedy success on the selection seeds.
   `grpo`: GRPO (policy/grpo.py) from that clone with the chosen form, to its plateau on the
   training success or --grpo-iterations (resumable: its run folder holds the checkpoint).
3. `more`: for honesty, the clone's count plus as many extra expert episodes as GRPO played,
   cloned the same way (fresh init, same plateau rule).
4. `table`: the three policies on the final test seeds, with both phrasing splits.

Seeds: demonstrations 1000 + i (the extra ones continue after the clone's), GRPO 100000+,
selection 200-299 (the clones' checkpoints and the count are chosen on them), **final test
500-699**: never used to choose a checkpoint, a count or a setting (the other benches' 0-99
chose GRPO's iteration count earlier). The policy: the MiniLM text encoder with the
order-keeping `cross` condition, 36 px images, the categorical head (docs/policy.md).
"""
import argparse
from dataclasses import replace
import json
from pathlib import Path
import sys
import time

import numpy as np
import torch

from nanobot_ros.policy.configuration import PolicyConfig
from nanobot_ros.policy.demonstrations import DemoBuffer
from nanobot_ros.policy.grpo import (GRPOConfig, GRPOTrainer, policy_chooser, KL_ESTIMATORS,
                                     LOSS_AVERAGES)
from nanobot_ros.policy.modeling import Policy
from nanobot_ros.policy.processing import processor_for
from nanobot_ros.policy.weights import load_policy, save_policy
from nanobot_ros.robots.sim.task_family import rollouts_for, TaskBatch, task_preset
from nanobot_ros.robots.sim.toroidal_dot import ACTION_VECTORS

DEMO_SEEDS = 1000
SELECTION_SEEDS = range(200, 300)
FINAL_SEEDS = range(500, 700)
POLICY = PolicyConfig(image_size=36, patch_size=4, max_text_len=32, text_encoder='minilm',
                      text_condition='cross', head='categorical')


def success(policy: Policy, seeds, phrasings: str) -> float:
    """Greedy success rate of `policy` on the family's episodes `seeds`."""
    seeds = list(seeds)
    batch = TaskBatch(task_preset('family', phrasings=phrasings), len(seeds))
    done, _ = batch.play(seeds, policy_chooser(policy))
    return float(done.mean())


def demonstrations(policy: Policy, episodes: int) -> DemoBuffer:
    """Return the expert's episodes DEMO_SEEDS.. (training phrasings) as a training buffer."""
    buffer = DemoBuffer(processor_for(policy.config), policy.config.robotics_action_dim)
    seeds = range(DEMO_SEEDS, DEMO_SEEDS + episodes)
    for image, text, action in rollouts_for(task_preset('family'), seeds):
        buffer.add(image, text, ACTION_VECTORS[action])
    return buffer


def clone(episodes: int, path: Path, args) -> dict:
    """Clone on `episodes` expert episodes to the plateau of the selection success; save best."""
    torch.manual_seed(args.seed)
    policy = Policy(POLICY)
    buffer = demonstrations(policy, episodes)
    policy.action_norm.fit(buffer.stacked('actions'))
    optimizer = torch.optim.AdamW(policy.parameters(), lr=args.bc_lr, weight_decay=0.01)
    rng = np.random.default_rng(args.seed)
    curve, best, waited, start = [], -1.0, 0, time.monotonic()
    for step in range(1, args.bc_steps + 1):
        policy.train()
        loss = policy(buffer.batch(rng.integers(0, len(buffer), args.batch_size)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        optimizer.step()
        if step % args.eval_every:
            continue
        rate = success(policy, SELECTION_SEEDS, 'train')
        curve.append({'step': step, 'loss': float(loss.detach()), 'selection_success': rate})
        print(f'  clone {episodes} episodes, step {step}: loss {float(loss.detach()):.3f}, '
              f'selection success {100 * rate:.0f} %', flush=True)
        if rate > best:
            best, waited = rate, 0
            save_policy(path, policy)
        elif step >= args.bc_min_steps:  # before, a slow start would read as a plateau
            waited += 1
            if waited >= args.patience:
                break
    result = {'episodes': episodes, 'samples': len(buffer), 'selection_success': best,
              'steps': curve[-1]['step'], 'seconds': round(time.monotonic() - start),
              'curve': curve}
    path.with_suffix('.json').write_text(json.dumps(result, indent=2))
    return result


def cached_clone(episodes: int, out: Path, args) -> dict:
    path = out / f'bc_{episodes}.safetensors'
    if path.with_suffix('.json').exists():
        return json.loads(path.with_suffix('.json').read_text())
    return clone(episodes, path, args)


def stage_clones(out: Path, args) -> int:
    """Return the largest count of --counts whose clone plateaus below --below."""
    for episodes in sorted(args.counts, reverse=True):
        result = cached_clone(episodes, out, args)
        print(f'clone of {episodes} episodes ({result["samples"]} steps): plateau '
              f'{100 * result["selection_success"]:.0f} % on the selection seeds after '
              f'{result["steps"]} steps', flush=True)
        if result['selection_success'] < args.below:
            (out / 'count.json').write_text(json.dumps({'episodes': episodes}))
            return episodes
    raise SystemExit(f'every count in {args.counts} clones to >= {args.below:.0%}: use fewer')


def grpo_config(out: Path, episodes: int, args) -> GRPOConfig:
    defaults = GRPOConfig()
    return GRPOConfig(init=str(out / f'bc_{episodes}.safetensors'),
                      run_dir=str(out / f'grpo_{episodes}'), task=task_preset('family'),
                      start_states=args.start_states, group_size=args.group_size, lr=args.lr,
                      kl_coef=args.kl_coef, kl_estimator=args.kl_estimator,
                      temperature=args.temperature, clip_high=args.clip_high,
                      loss_average=args.loss_average,
                      advantage_std=args.advantage_std, max_iterations=args.grpo_iterations,
                      update_epochs=args.update_epochs,
                      plateau=replace(defaults.plateau, patience=args.grpo_patience),
                      seed=args.seed, wandb=False)


# The settings each variant name sets over the command line's; a variant may join several
# with '+' (exact-kl+lr1e-3). The loss forms, then the levers of SimpleVLA-RL and DAPO: sampling
# temperature 1.6, clip-higher 0.28, the exact KL with a small coefficient and the higher
# learning rates it may allow, 64 start states (4 times the episodes per iteration).
VARIANTS = {
    'episode': {'loss_average': 'episode', 'advantage_std': False},
    'episode-std': {'loss_average': 'episode', 'advantage_std': True},
    'step': {'loss_average': 'step', 'advantage_std': False},
    'step-std': {'loss_average': 'step', 'advantage_std': True},  # the first GRPO's form
    'temperature-1.6': {'temperature': 1.6},
    'clip-higher': {'clip_high': 0.28},
    'exact-kl': {'kl_estimator': 'exact', 'kl_coef': 0.01},
    'lr3e-4': {'lr': 3e-4},
    'lr1e-3': {'lr': 1e-3},
    'states-64': {'start_states': 64},
}


def variant_settings(name: str) -> dict:
    """Return the GRPOConfig settings of a variant name (its '+'-joined parts, in order)."""
    settings = {}
    for part in name.split('+'):
        if part not in VARIANTS:
            raise SystemExit(f'variant {part!r}: one of {", ".join(VARIANTS)}')
        settings.update(VARIANTS[part])
    return settings


def compare_variants(config: GRPOConfig, out: Path, args) -> None:
    """Run (or read) a short GRPO run per variant from the same clone; print them."""
    print(f'{"variant":<28} {"sampled training success per iteration":<48} '
          f'{"last 3":>6} {"max KL k3/exact":>15} {"selection":>9} {"seconds":>7} '
          f'{"env steps":>9}')
    for name in args.variants:
        run_dir = out / 'variants' / name
        result_path = run_dir / 'variant.json'
        if not result_path.exists():
            trainer = GRPOTrainer(replace(config, run_dir=str(run_dir), **variant_settings(name),
                                          max_iterations=args.variant_iterations,
                                          plateau=replace(config.plateau, patience=10 ** 6),
                                          progress=False))
            start, cpu = time.monotonic(), time.process_time()
            trainer.run()
            result_path.write_text(json.dumps({
                'success': [h['success'] for h in trainer.history],
                'max_kl': max(h['kl'] for h in trainer.history),
                'max_kl_exact': max(h['kl_exact'] for h in trainer.history),
                'selection': success(trainer.policy, SELECTION_SEEDS, 'train'),
                'seconds': round(time.monotonic() - start),
                'cpu_seconds': round(time.process_time() - cpu),
                'env_steps': trainer.env_steps}))
        r = json.loads(result_path.read_text())
        print(f'{name:<28} {" ".join(f"{v:.2f}" for v in r["success"]):<48} '
              f'{np.mean(r["success"][-3:]):>6.2f} '
              f'{r["max_kl"]:>7.3f}/{r.get("max_kl_exact", float("nan")):<7.3f} '
              f'{100 * r["selection"]:>8.0f}% {r["seconds"]:>7} {r.get("env_steps", ""):>9}',
              flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='runs/low_data')
    parser.add_argument('--stage', choices=('all', 'clones', 'variants', 'grpo', 'more', 'table'),
                        default='all')
    parser.add_argument('--counts', type=lambda s: [int(v) for v in s.split(',')],
                        default=[50, 30, 20], help='demonstration counts to try')
    parser.add_argument('--below', type=float, default=0.6)
    parser.add_argument('--bc-steps', type=int, default=1500, help='at most, per clone')
    parser.add_argument('--bc-lr', type=float, default=1e-3)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--eval-every', type=int, default=100)
    parser.add_argument('--patience', type=int, default=3)
    parser.add_argument('--bc-min-steps', type=int, default=800,
                        help='clone at least this many steps before counting the patience')
    parser.add_argument('--start-states', type=int, default=32)
    parser.add_argument('--group-size', type=int, default=8)
    parser.add_argument('--lr', type=float, default=1e-4)
    parser.add_argument('--kl-coef', type=float, default=0.02)
    parser.add_argument('--kl-estimator', choices=KL_ESTIMATORS, default='k3')
    parser.add_argument('--temperature', type=float, default=1.0)
    parser.add_argument('--clip-high', type=float, default=None)
    parser.add_argument('--loss-average', choices=LOSS_AVERAGES, default='episode')
    parser.add_argument('--advantage-std', action='store_true')
    parser.add_argument('--grpo-iterations', type=int, default=40)
    parser.add_argument('--update-epochs', type=int, default=1)
    parser.add_argument('--variants', type=lambda s: s.split(','), default=sorted(VARIANTS),
                        help="comma-separated; each a VARIANTS name or several joined by '+'")
    parser.add_argument('--variant-iterations', type=int, default=10)
    parser.add_argument('--grpo-patience', type=int, default=8)
    parser.add_argument('--extra-episodes', type=int, default=0,
                        help='more / table: the extra demonstrations (0 = as many as GRPO '
                             'played; set it to clone them while GRPO runs)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stages = (('clones', 'variants', 'grpo', 'more', 'table') if args.stage == 'all'
              else (args.stage,))
    episodes = (stage_clones(out, args) if 'clones' in stages
                else json.loads((out / 'count.json').read_text())['episodes'])
    config = grpo_config(out, episodes, args)
    if 'variants' in stages:
        compare_variants(config, out, args)
    if 'grpo' in stages:
        summary = GRPOTrainer(config).run()
        print(f'GRPO: {summary["iterations"]} iterations, {summary["env_steps"]} env steps, '
              f'max KL (k3 mean / exact) {summary["max_kl"]:.3f} / '
              f'{summary["max_kl_exact"]:.3f}', flush=True)
    grpo_path = Path(config.run_dir) / 'grpo.safetensors'
    grpo_meta = load_policy(grpo_path)[1].metadata['grpo'] if grpo_path.exists() else None
    if grpo_meta is None and 'table' in stages or (
            'more' in stages and grpo_meta is None and not args.extra_episodes):
        raise SystemExit(f'{grpo_path}: no GRPO checkpoint yet; run --stage grpo first')
    if not {'more', 'table'} & set(stages):
        return 0
    grpo_episodes = args.extra_episodes or grpo_meta['iteration'] * config.start_states * \
        config.group_size
    if 'more' in stages:
        result = cached_clone(episodes + grpo_episodes, out, args)
        print(f'clone of {episodes} + {grpo_episodes} episodes: plateau '
              f'{100 * result["selection_success"]:.0f} % on the selection seeds', flush=True)
    if 'table' in stages:
        table(out, episodes, grpo_path, grpo_meta, grpo_episodes)
    return 0


def table(out: Path, episodes: int, grpo_path: Path, grpo_meta: dict, grpo_episodes: int):
    """Print the final test table and the one-line summary."""
    rows = [(f'BC, {episodes} demonstrations (plateau)', out / f'bc_{episodes}.safetensors', 0),
            (f'BC + GRPO ({grpo_meta["iteration"]} iterations)', grpo_path,
             grpo_meta['env_steps']),
            (f'BC, {episodes} + {grpo_episodes} demonstrations',
             out / f'bc_{episodes + grpo_episodes}.safetensors', 0)]
    results = {}
    print(f'final test seeds {FINAL_SEEDS.start}..{FINAL_SEEDS.stop - 1} '
          f'({len(FINAL_SEEDS)} episodes per split), greedy actions, in-process sim')
    print(f'{"policy":<44} {"train phrasings":>16} {"held-out phrasings":>19} '
          f'{"GRPO env steps":>15}')
    for label, path, env_steps in rows:
        if not path.exists():
            print(f'{label:<44} {"(not trained)":>16}')
            continue
        policy, _ = load_policy(path)
        rates = [success(policy, FINAL_SEEDS, phrasings) for phrasings in ('train', 'heldout')]
        results[label] = {'train': rates[0], 'heldout': rates[1], 'env_steps': env_steps}
        print(f'{label:<44} {100 * rates[0]:>15.1f}% {100 * rates[1]:>18.1f}% '
              f'{env_steps:>15}', flush=True)
    (out / 'results.json').write_text(json.dumps(results, indent=2))
    bc, grpo = (results.get(label) for label, _, _ in rows[:2])
    if bc and grpo:
        print(f'low-data: {episodes} demonstrations; BC {100 * bc["train"]:.0f} % / '
              f'{100 * bc["heldout"]:.0f} %; BC + GRPO {100 * grpo["train"]:.0f} % / '
              f'{100 * grpo["heldout"]:.0f} % (training / held-out phrasings); '
              f'{grpo["env_steps"]} GRPO env steps')


if __name__ == '__main__':
    sys.exit(main())
