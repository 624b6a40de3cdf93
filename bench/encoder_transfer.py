"""What curiosity learned, reused: room cloning steps to a success rate, encoder from curiosity.

    ./run.sh python bench/encoder_transfer.py saved/room_demos \
        --world-model saved/checkpoints/room/world_model.safetensors --seeds 0 1 2

Issue 22 item 3. For each seed, two room clones learn from the same demonstrations in the same
order with the same initialisation of everything but the vision encoder: one with a fresh
encoder, one whose encoder starts from the world model's (trained by curiosity in the room,
`config/room.yaml`, no task labels; policy/encoder_transfer.py). The policy is the room clone's
recipe (MiniLM, the `mean` condition, a categorical head over the JetBot's five actions) with
the world model's encoder sizes. Every `--eval-every` steps the clone drives `--episodes`
room episodes of the selection seeds (in process, batched, most likely action); a run stops at
`--target` success or `--max-steps`. Prints each run's success curve, the steps and seconds
(wall and this process's CPU) to the target, and ends with one line:

    encoder transfer: steps to 80 %: fresh <a>, world model <b> (median of <n> seeds; ...)

The demonstrations are read once and shared by every run (one DemoBuffer: same sizes).
"""
import argparse
import json
import logging
import math
from pathlib import Path
import tempfile
import time

import numpy as np
import torch

from nanobot_ros.policy.configuration import PolicyConfig
from nanobot_ros.policy.demonstrations import BagSource, DemoBuffer
from nanobot_ros.policy.encoder_transfer import world_model_encoder_sizes
from nanobot_ros.policy.grpo import policy_chooser
from nanobot_ros.policy.processing import processor_for
from nanobot_ros.policy.training import PolicyTrainer, TrainerConfig
from nanobot_ros.robots.room.task import SEEDS
from nanobot_ros.robots.sim.task_family import TaskBatch
from nanobot_ros.robots.tasks import task_actions, task_config

STARTS = ('fresh', 'world model')


def clone_config(world_model: str) -> PolicyConfig:
    """Return the room clone's recipe (docs/policy.md) with the world model's encoder sizes."""
    return PolicyConfig(head='categorical', text_encoder='minilm', text_condition='mean',
                        max_text_len=32, **world_model_encoder_sizes(world_model))


def run(start: str, seed: int, args, config: PolicyConfig, buffer: DemoBuffer, evaluate,
        out: Path) -> dict:
    """Clone from `start` until the target or the step budget; return the run's record."""
    trainer = PolicyTrainer(TrainerConfig(
        run_dir=str(out / f'{start.replace(" ", "_")}_{seed}'), policy=config,
        discrete_actions=task_actions(task_config('room'))[2], seed=seed,
        encoder_from=args.world_model if start == 'world model' else '',
        max_steps=args.max_steps, checkpoint_every=10**9, wandb=False, progress=False))
    trainer.buffer = buffer  # read once for every run (trainer.source stays None)
    record = {'start': start, 'seed': seed, 'curve': [], 'steps_to_target': None}
    began = {'wall': time.monotonic(), 'cpu': time.process_time()}
    evaluating = {'wall': 0.0, 'cpu': 0.0}

    def training_seconds() -> dict:
        return {k: round(now - began[k] - evaluating[k], 1) for k, now in
                (('wall', time.monotonic()), ('cpu', time.process_time()))}

    def on_step(t: PolicyTrainer) -> None:
        if t.step % args.eval_every:
            return
        seconds = training_seconds()
        marks = time.monotonic(), time.process_time()
        success = evaluate(t.policy)
        t.policy.train()
        evaluating['wall'] += time.monotonic() - marks[0]
        evaluating['cpu'] += time.process_time() - marks[1]
        record['curve'].append((t.step, success))
        print(f'  {start:<12} seed {seed}  step {t.step:>5}  success {100 * success:5.1f} %  '
              f'training {seconds["wall"]:6.0f} s wall / {seconds["cpu"]:6.0f} s CPU',
              flush=True)
        if success >= args.target:
            record['steps_to_target'] = t.step
            record['seconds_to_target'] = seconds
            t.stop()

    trainer.on_step = on_step
    trainer.run()
    record['final_loss'] = float(np.mean(trainer.losses[-200:]))
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data', nargs='+', help='room demonstration bags or folders')
    parser.add_argument('--world-model', required=True,
                        help='the room world model checkpoint (config/room.yaml run)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--target', type=float, default=0.8)
    parser.add_argument('--max-steps', type=int, default=6000)
    parser.add_argument('--eval-every', type=int, default=500)
    parser.add_argument('--episodes', type=int, default=50,
                        help='room episodes per evaluation, selection seeds from 0')
    parser.add_argument('--out', default='', help='folder for the runs and results.json')
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='[%(levelname)s] %(message)s')
    torch.set_num_threads(1)
    out = Path(args.out or tempfile.mkdtemp(prefix='encoder_transfer_'))
    config = clone_config(args.world_model)
    buffer = DemoBuffer(processor_for(config), config.robotics_action_dim)
    loaded = time.monotonic()
    BagSource(args.data, buffer).poll()
    print(f'{len(buffer)} demonstration samples in {time.monotonic() - loaded:.0f} s; policy '
          f'encoder {world_model_encoder_sizes(args.world_model)}', flush=True)
    seeds = list(SEEDS['selection'][:args.episodes])
    batch = TaskBatch(task_config('room'), len(seeds))

    def evaluate(policy) -> float:
        success, _ = batch.play(seeds, policy_chooser(policy))
        return float(success.mean())

    records = [run(start, seed, args, config, buffer, evaluate, out)
               for seed in args.seeds for start in STARTS]
    (out / 'results.json').write_text(json.dumps(records, indent=2))
    print(f'\nsteps to {100 * args.target:.0f} % success ({args.episodes} selection episodes '
          f'per evaluation, every {args.eval_every} steps, at most {args.max_steps}):')
    print(f'{"start":<12} {"seed":>4} {"steps":>6} {"wall s":>7} {"CPU s":>7} '
          f'{"best":>6} {"final loss":>10}')
    for r in records:
        best = max(s for _, s in r['curve']) if r['curve'] else 0.0
        seconds = r.get('seconds_to_target', {'wall': math.nan, 'cpu': math.nan})
        print(f'{r["start"]:<12} {r["seed"]:>4} {r["steps_to_target"] or "-":>6} '
              f'{seconds["wall"]:>7.0f} {seconds["cpu"]:>7.0f} '
              f'{100 * best:>5.0f}% {r["final_loss"]:>10.3f}')
    medians = {}
    for start in STARTS:  # a run that missed the target counts as more steps than any other
        steps = sorted(r['steps_to_target'] or math.inf for r in records if r['start'] == start)
        medians[start] = steps[len(steps) // 2]
    text = ', '.join(f'{start} {"none" if m == math.inf else m}'
                     for start, m in medians.items())
    print(f'encoder transfer: steps to {100 * args.target:.0f} %: {text} (median of '
          f'{len(args.seeds)} seeds; none = not within {args.max_steps} steps); results in '
          f'{out / "results.json"}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
