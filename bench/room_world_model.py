"""Does the world model learn the MuJoCo room? Held-out next-frame R² per action vs two baselines.

The adaptive loop (perceive -> predict every action -> select -> act -> train) drives the
room's JetBot (`robots/room/`: stop, forward, backward, left, right at the driver's duration)
in-process from a fresh start, CPU, seeded, with the world model's own selector: the
uncertainty explorer, or with `--selector random` the same explorer at epsilon 1. Every
`--eval-every` learner steps it measures, on a fixed held-out set of transitions that the
learner never trains on, the next-frame R² in patch space of each action and the mean squared
error over the whole set against copy-the-last-frame's:

- the held-out set: `--held-out-poses` poses drawn with their own seed (continuous positions
  and headings, so the learner's trajectory never produced them; a quarter close to a wall
  and facing it, so `forward` bumps), each followed by every action (`set_pose`, then the
  action);
- the same figures on a second layout the learner never saw (`--unseen-layout-seed`: the
  objects moved), to show what generalises;
- two baselines on the same sets: copy-the-last-frame, and the best action-blind predictor:
  for each pose the mean of its five next frames, the prediction that minimises the squared
  error of a predictor that knows the frame (and even the exact pose) but not which of the
  equally likely actions was taken. No trained action-blind model can beat it.

The goal: held-out R² >= 0.9 for every action and the mean error at most half of
copy-the-last-frame's (`stop` is nearly free for copying; it is judged by its R²), within
`--minutes` of loop time (acting and learning; evaluations not counted). The model's sizes,
replay and exploration settings default to the `world_model:` section of config/room.yaml
(what `./run.sh sim --config config/room.yaml` runs); each is a flag here for experiments.

    ./run.sh python bench/room_world_model.py --minutes 10 --seed 0 --reset-every 100
    ./run.sh python bench/room_world_model.py --selector both --seeds 0 1 2 --minutes 10 \
        --reset-every 100
    ./run.sh python bench/room_world_model.py --clock cpu --minutes 4 ...  # a busy machine

`--selector coverage` takes the loop away: the learner trains on every action at
`--coverage-poses` poses of its own seed (drawn as the held-out poses are), batches uniform over
them, on the same schedule and clock. What it reaches is the learner's ceiling when coverage is
perfect, the measure of what exploration could still gain and what only a better learner can.

    ./run.sh python bench/room_world_model.py --selector coverage --clock cpu --minutes 6

`--motion-ceiling` measures what moving the last frame's pixels can explain at all: each
patch of every held-out next frame replaced by the best integer shift of the last frame (chosen
knowing the next frame, within the advection's reach), per action, for patches of the model's
patch size and of its halves and quarters; then it ends. With `--checkpoint` the tables
include what a perfect paint would give the model's own moved pixels and mask.

    ./run.sh python bench/room_world_model.py --motion-ceiling

`--reset-every N` puts the robot down at a random free pose every N frames (the loop's history
is broken there): without it the uncertainty explorer at argmax turns on the spot (a turn
changes the view most, so its outcome is always the most uncertain) and sees a few cells of the
room (docs/world_model.md, "The room"). `--start-at-wall S` puts a share S of those poses at a
wall, facing it close up, as a quarter of the held-out poses are (the room's `start_at_wall`).

Ends with one line: `room world model: goal reached in <s> s (<n> learner steps); worst action
R² <x>; error / copy-last-frame <y>` (or `goal not reached in <s> s; ...` with the best
figures of the run), the median over seeds when there are several.
"""
import argparse
import math
import os
from pathlib import Path
import statistics
import time

import numpy as np
import torch

from nanobot_ros.explorer.workbench import Workbench
from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.replay_buffer import ActionErrors
from nanobot_ros.learning.world_model import action_patch_losses, training_dtype
from nanobot_ros.learning.visualize import labelled_tile, patches_to_image, save_png, \
    stacked_rows, tile_row
from nanobot_ros.models.advection import blend
from nanobot_ros.models.checkpoint import CheckpointError
from nanobot_ros.models.losses import explained_variance
from nanobot_ros.models.vit import images_to_tensor, patchify
from nanobot_ros.robots.room.mjcf import CAMERA_FRONT
from nanobot_ros.robots.room.world import ACTION_NAMES, RoomConfig, RoomWorld
from nanobot_ros.stack_config import node_parameters
from world_model_exploration import chosen_selectors
from world_model_learning import add_model_arguments, held_out_predictions, loop_config, \
    make_model, reconstruction_r2

GOAL_R2 = 0.9
GOAL_ERROR_RATIO = 0.5
HELD_OUT_POSES = 40  # each followed by every action
HELD_OUT_SEED = 1000
WALL_NEAR = 0.1  # m: a pose "facing a wall" (the held-out wall poses are 0.5-4 cm from one)
ROOM_CONFIG = Path(__file__).resolve().parents[1] / 'config' / 'room.yaml'
# Flags whose defaults come from config/room.yaml's world_model section: {flag dest: key}.
FROM_ROOM_CONFIG = {
    'img_size': 'img_size', 'patch_size': 'patch_size', 'embed_dim': 'embed_dim',
    'depth': 'depth', 'predictor_depth': 'predictor_depth', 'batch_size': 'batch_size',
    'buffer_capacity': 'buffer_capacity', 'temperature': 'exploration_temperature',
    'relative': 'exploration_relative', 'hold': 'exploration_hold',
    'hold_stall': 'exploration_hold_stall',
    'reconstruction_threshold': 'reconstruction_threshold',
    'balance_actions': 'balance_actions', 'replay_error_share': 'replay_error_share',
    'lr': 'config_autoencoder_lr',
    'predictor_lr': 'config_predictor_lr', 'lr_decay_steps': 'lr_decay_steps',
    'lr_final_ratio': 'lr_final_ratio', 'latent_weight': 'latent_loss_weight',
    'advection_subdivision': 'advection_subdivision',
    'training_precision': 'training_precision',
}


def room_defaults(path: Path = ROOM_CONFIG) -> dict:
    """Return the flag defaults that config/room.yaml's world_model section sets."""
    if not path.exists():
        return {}
    values = node_parameters(path, 'world_model')
    defaults = {dest: values[key] for dest, key in FROM_ROOM_CONFIG.items() if key in values}
    if 'advection_x' in values or 'advection_y' in values:  # one flag, --advection X Y
        defaults['advection'] = (values.get('advection_x', 0), values.get('advection_y', 0))
    return defaults


def held_out_poses(world: RoomWorld, count: int, seed: int) -> list:
    """Return `count` poses (x, y, yaw): three quarters anywhere free, a quarter at a wall.

    Continuous random positions and headings drawn with their own seed, so no pose is one the
    learner's trajectory produced. A pose at a wall faces it (within 23 degrees) with the
    robot's front (the camera's mount) 0.5-4 cm from it (`RoomWorld.sample_wall_pose`), so
    `forward` bumps into it.
    """
    rng = np.random.default_rng(seed)
    return [world.sample_wall_pose(rng) if at_wall(i) else world.sample_pose(rng)
            for i in range(count)]


def at_wall(pose: int) -> bool:
    """Return whether held-out pose number `pose` is one at a wall (every fourth)."""
    return pose % 4 == 3


def wall_ahead(world: RoomWorld, x: float, y: float, yaw: float) -> float:
    """Metres from the robot's front to the wall straight ahead of pose (x, y, yaw)."""
    ahead = math.inf
    for position, direction, size in ((x, math.cos(yaw), world.config.room_size[0]),
                                      (y, math.sin(yaw), world.config.room_size[1])):
        if abs(direction) > 1e-9:
            wall = size / 2 if direction > 0 else -size / 2
            ahead = min(ahead, (wall - position) / direction)
    return ahead - CAMERA_FRONT


def room_held_out(config: RoomConfig, count: int, seed: int):
    """Return (frames, action labels, next frames) of every action from `count` poses.

    Pose-major: transitions 5k..5k+4 start from pose k (the action-blind baseline uses that).
    """
    world = RoomWorld(config)
    try:
        frames, labels, next_frames = [], [], []
        for pose in held_out_poses(world, count, seed):
            for action in range(len(ACTION_NAMES)):
                frames.append(world.set_pose(*pose))
                labels.append(action)
                next_frames.append(world.step(action))
    finally:
        world.close()
    return frames, labels, next_frames


def baseline_figures(held_out, patch_size: int) -> dict:
    """Copy-the-last-frame and the best action-blind predictor: {name: {label: R², 'mse': e}}.

    The action-blind prediction of a transition is the mean of the next frames of its pose's
    transitions (every action once, pose-major order).
    """
    frames, labels, next_frames = held_out
    actions = len(ACTION_NAMES)

    def patches(images):
        return patchify(images_to_tensor(np.stack(images)), patch_size)
    observed = patches(next_frames)
    poses = observed.reshape(-1, actions, *observed.shape[1:])
    blind = poses.mean(dim=1, keepdim=True).expand_as(poses).reshape(observed.shape)
    figures = {}
    for name, predicted in (('copy-last-frame', patches(frames)), ('action-blind', blind)):
        figures[name] = error_figures(predicted, observed, labels)
    return figures


def error_figures(predicted: torch.Tensor, observed: torch.Tensor, labels) -> dict:
    """{'all': R², label: R² of that action's transitions, 'mse': mean squared error}."""
    labels = torch.tensor(labels)
    figures = {'all': explained_variance(predicted, observed),
               'mse': float(((predicted.double() - observed.double()) ** 2).mean())}
    for label in range(len(ACTION_NAMES)):
        chosen = labels == label
        figures[label] = explained_variance(predicted[chosen], observed[chosen])
    return figures


def model_figures(model, held_out) -> dict:
    """Return the model's held-out figures: R² (all, per action, reconstruction), 'mse'."""
    figures = error_figures(*held_out_predictions(model, held_out), held_out[1])
    figures['reconstruction'] = reconstruction_r2(model, held_out[2])
    return figures


def goal_figures(figures: dict, copy_mse: float):
    """Return (worst action R², error / copy-last-frame's)."""
    return (min(figures[label] for label in range(len(ACTION_NAMES))),
            figures['mse'] / copy_mse)


def reached_goal(figures: dict, copy_mse: float) -> bool:
    worst, ratio = goal_figures(figures, copy_mse)
    return worst >= GOAL_R2 and ratio <= GOAL_ERROR_RATIO


def per_action(figures: dict) -> str:
    return ', '.join(f'{name} {figures[label]:+.3f}' for label, name in enumerate(ACTION_NAMES))


def evaluate(model, seed: int, held_out: dict, baselines: dict, result: dict, clock: float,
             progress: str, situation: str) -> bool:
    """Measure the held-out sets into `result`, print a line; return whether the goal is reached.

    `progress`: the run's frames and seconds; `situation`: what the learner has seen so far.
    """
    copy_mse = baselines['seen']['copy-last-frame']['mse']
    steps = model.autoencoder_training_step
    last = {name: model_figures(model, held_out[name]) for name in held_out}
    worst, ratio = goal_figures(last['seen'], copy_mse)
    unseen_worst, unseen_ratio = goal_figures(
        last['unseen'], baselines['unseen']['copy-last-frame']['mse'])
    result['curve'].append((clock, steps, worst, ratio))
    result['last'] = last
    if result['best'] is None or worst > result['best'][0]:
        result['best'] = (worst, ratio)
    print(f'seed {seed}: {progress}  learner steps {steps:5d}  held-out R2 '
          f'{last["seen"]["all"]:+.3f} ({per_action(last["seen"])}; reconstruction '
          f'{last["seen"]["reconstruction"]:+.3f}); error / copy {ratio:.3f}  | unseen '
          f'layout {last["unseen"]["all"]:+.3f} (worst {unseen_worst:+.3f}, error / copy '
          f'{unseen_ratio:.3f}); {situation}; load {os.getloadavg()[0]:.2f}', flush=True)
    if result['reached'] is None and reached_goal(last['seen'], copy_mse):
        result['reached'] = (clock, steps)  # the first time (--past-goal goes on)
    return bool(result['reached'])


def run_coverage(args, seed: int, held_out: dict, baselines: dict) -> dict:
    """Train the learner without the loop: what it reaches when coverage is perfect.

    Batches are drawn uniformly from every action at `--coverage-poses` poses (drawn as the
    held-out poses are, with the learner's seed: never the held-out ones), or with
    `--replay-error-share` an action by the loop's error weights first; no gate, no
    explorer, no acting; the learning rates follow the loop's schedule. Returns what `run`
    does.
    """
    frames, labels, next_frames = room_held_out(
        RoomConfig(img_size=args.img_size, layout_seed=args.layout_seed), args.coverage_poses,
        seed)
    model = make_model(args, num_actions=len(ACTION_NAMES))
    schedule = loop_config(args, lr_decay_steps=args.lr_decay_steps,
                           lr_final_ratio=args.lr_final_ratio)
    before, after = model.to_tensor(frames)[:, None], model.to_tensor(next_frames)
    actions = torch.tensor(labels)[:, None]
    batches = torch.Generator().manual_seed(seed)
    errors = ActionErrors(range(len(ACTION_NAMES)), args.replay_error_share)
    by_action = [torch.nonzero(actions[:, 0] == a)[:, 0] for a in errors.actions]
    result = {'reached': None, 'best': None, 'curve': []}
    seconds, cpu = 0.0, 0.0

    def measure() -> bool:
        return evaluate(model, seed, held_out, baselines, result,
                        cpu if args.clock == 'cpu' else seconds,
                        f'{seconds:6.1f} s ({cpu:6.1f} s CPU)',
                        f'{len(labels)} transitions of {args.coverage_poses} poses')

    while (cpu if args.clock == 'cpu' else seconds) < args.minutes * 60:
        started, started_cpu = time.perf_counter(), time.process_time()
        model.scale_learning_rates(schedule.learning_rate_scale(
            model.autoencoder_training_step))
        weights = errors.weights()
        if weights is None:
            chosen = torch.randint(len(labels), (args.batch_size,), generator=batches)
        else:
            drawn = torch.multinomial(torch.tensor(list(weights.values())), args.batch_size,
                                      replacement=True, generator=batches)
            chosen = torch.stack([by_action[a][torch.randint(len(by_action[a]), (1,),
                                                             generator=batches)[0]]
                                  for a in drawn.tolist()])
        metrics = model.train_step(before[chosen], actions[chosen], after[chosen])
        errors.update(action_patch_losses(metrics))
        seconds += time.perf_counter() - started
        cpu += time.process_time() - started_cpu
        if model.autoencoder_training_step % args.eval_every == 0 and measure() \
                and not args.past_goal:
            break
    if not result['curve'] or result['curve'][-1][1] != model.autoencoder_training_step:
        measure()  # where the budget ended
    result.update(seconds=cpu if args.clock == 'cpu' else seconds,
                  steps=model.autoencoder_training_step, frames=0, cpu=cpu,
                  selections={label: labels.count(label) for label in sorted(set(labels))})
    return result


def run(args, seed: int, epsilon: float, held_out: dict, baselines: dict) -> dict:
    """Drive the learner in the room until the goal or --minutes; return what it reached.

    {'reached': (seconds, learner steps) or None, 'best': (worst R², ratio) of the best
    evaluation, 'curve': [(seconds, steps, worst R², ratio)], 'last': {set: figures}}.
    """
    args.seed = seed
    actions = tuple(range(len(ACTION_NAMES)))
    model = make_model(args, num_actions=len(actions))
    loop = AdaptiveWorldModelLoop(model, loop_config(
        args, actions=actions, idle_action=0, exploration_epsilon=epsilon,
        exploration_temperature=args.temperature, exploration_relative=args.relative,
        exploration_hold=args.hold, exploration_hold_stall=args.hold_stall,
        balance_actions=args.balance_actions, replay_error_share=args.replay_error_share,
        reconstruction_threshold=args.reconstruction_threshold,
        buffer_capacity=args.buffer_capacity, lr_decay_steps=args.lr_decay_steps,
        lr_final_ratio=args.lr_final_ratio,
        train_steps_per_frame=0 if args.frames_per_step > 1 else args.train_steps))
    world = RoomWorld(RoomConfig(img_size=args.img_size, layout_seed=args.layout_seed,
                                 start_at_wall=args.start_at_wall))
    rng = np.random.default_rng(seed)

    def execute(action):
        return world.step(loop.config.idle_action if action is None else action)

    frame, frames, seconds, cpu = world.reset(seed=seed), 0, 0.0, 0.0
    visited = set()  # the room's 10 x 10 cells the robot has been in
    # Frames that ended facing a wall within WALL_NEAR (as a quarter of the held-out poses
    # do), and the actions taken from such a pose.
    at_wall, from_wall = 0, {action: 0 for action in actions}
    result = {'reached': None, 'best': None, 'curve': []}

    def measure() -> bool:
        return evaluate(model, seed, held_out, baselines, result,
                        cpu if args.clock == 'cpu' else seconds,
                        f'frame {frames:5d}  {seconds:6.1f} s ({cpu:6.1f} s CPU)  gated '
                        f'{loop.gated_frames:4d}',
                        f'{len(visited)} of 100 cells visited, {at_wall} frames facing a '
                        f'wall (actions taken there {list(from_wall.values())}), actions taken '
                        f'{list(loop.explorer.selections.values())}, holds ended stalled '
                        f'{loop.explorer.holds_ended_stalled}')

    next_eval = args.eval_every
    while (cpu if args.clock == 'cpu' else seconds) < args.minutes * 60:
        started, started_cpu = time.perf_counter(), time.process_time()
        if args.reset_every and frames and frames % args.reset_every == 0:
            loop.break_history()
            frame = world.reset(seed=int(rng.integers(2 ** 31)))
        facing_wall = wall_ahead(world, *world.pose) <= WALL_NEAR
        outcome = loop.step(frame, execute)
        frame = outcome['next_frame']
        if facing_wall and outcome['action'] is not None:
            from_wall[outcome['action']] += 1
        if args.frames_per_step > 1 and (frames + 1) % args.frames_per_step == 0:
            loop.train()
        seconds += time.perf_counter() - started
        cpu += time.process_time() - started_cpu
        frames += 1
        x, y, yaw = world.pose
        at_wall += wall_ahead(world, x, y, yaw) <= WALL_NEAR
        visited.add(tuple(int(10 * (v / size + 0.5)) for v, size in zip(
            (x, y), world.config.room_size)))
        if model.autoencoder_training_step >= next_eval:
            next_eval += args.eval_every
            if measure() and not args.past_goal:
                break
    if not result['curve'] or result['curve'][-1][1] != model.autoencoder_training_step:
        measure()  # where the budget ended
    world.close()
    result.update(seconds=cpu if args.clock == 'cpu' else seconds,
                  steps=model.autoencoder_training_step, frames=frames,
                  cpu=cpu, selections=dict(loop.explorer.selections))
    return result


def held_out_sets(img_size: int, patch_size: int, poses: int, seed: int, layout_seed: int,
                  unseen_layout_seed: int):
    """Return (held-out sets, their baselines), seen and unseen layout; print the baselines."""
    held_out = {name: room_held_out(RoomConfig(img_size=img_size, layout_seed=layout), poses,
                                    seed)
                for name, layout in (('seen', layout_seed), ('unseen', unseen_layout_seed))}
    baselines = {name: baseline_figures(held_out[name], patch_size) for name in held_out}
    for name, figures in baselines.items():
        for label, values in figures.items():
            print(f'{name} layout, {label}: R2 {values["all"]:+.3f} ({per_action(values)}); '
                  f'mean squared error {values["mse"]:.5f}', flush=True)
    return held_out, baselines


def checkpoint_figures(path: Path, held_out: dict = None, baselines: dict = None,
                       worst_picture: Path = None) -> dict:
    """Measure a saved world model (the stack's) as `run` measures its own; print the tables.

    Loaded as the explorer's workbench loads one (`Workbench.load`): the model is built from
    the checkpoint's own configuration, so any room world model is measured as it was trained;
    the held-out sets default to the bench's, at the checkpoint's image and patch size. With
    `worst_picture`, the seen layout's worst-predicted transitions are drawn there.
    Returns {'worst', 'ratio', 'steps', 'frames'}.
    """
    try:
        loop = Workbench.load(path).loop
    except (ValueError, CheckpointError) as error:
        raise SystemExit(f'room_world_model: {error}') from None
    model = loop.learner
    if held_out is None:
        vit = model.config.vit
        held_out, baselines = held_out_sets(vit.img_size, vit.patch_size, HELD_OUT_POSES,
                                            HELD_OUT_SEED, RoomConfig.layout_seed,
                                            RoomConfig.layout_seed + 1)
    result = {'reached': None, 'best': None, 'curve': []}
    evaluate(model, 0, held_out, baselines, result, 0.0, f'checkpoint {path}',
             f'{loop.frames_seen} frames seen')
    parts = held_out_parts(model, held_out['seen'])  # the prediction's parts, read twice
    print_error_columns(model, parts)
    print_paint_ceiling(model, parts)
    predicted, observed = held_out_predictions(model, held_out['seen'])
    print_wall_split(held_out['seen'], predicted, observed)
    print_table('seen', result, baselines)
    print_table('unseen', result, baselines)
    if worst_picture is not None:
        saved = save_worst_transitions(held_out['seen'], predicted, observed,
                                       model.config.vit.patch_size, worst_picture)
        print(f'the worst-predicted transitions of each action: {saved}', flush=True)
    steps = model.autoencoder_training_step
    worst, ratio = result['best']
    print(f'room world model: checkpoint after {steps} learner steps; worst action R² '
          f'{worst:.3f}; error / copy-last-frame {ratio:.3f}', flush=True)
    return {'worst': worst, 'ratio': ratio, 'steps': steps, 'frames': loop.frames_seen}


def save_worst_transitions(held_out, predicted, observed, patch: int, path: Path,
                           count: int = 4, scale: int = 3) -> Path:
    """Write a picture of the `count` held-out transitions of each action predicted worst.

    predicted, observed: `held_out_predictions` of the set (patches of `patch` px). One row
    each: the last frame, the next frame, the prediction (its squared error x 1000 in the
    label) and the error (absolute, x 4), every tile enlarged `scale` times.
    """
    frames, labels, next_frames = held_out
    errors = ((predicted - observed) ** 2).mean(dim=(1, 2))

    def tile(image: np.ndarray, label: str) -> np.ndarray:
        return labelled_tile(np.kron(image, np.ones((scale, scale, 1), dtype=np.uint8)), label)
    rows = []
    for label, name in enumerate(ACTION_NAMES):
        chosen = [i for i, other in enumerate(labels) if other == label]
        for i in sorted(chosen, key=lambda i: -float(errors[i]))[:count]:
            guess = patches_to_image(predicted[i], patch)
            error = np.clip(np.abs(guess.astype(int) - next_frames[i].astype(int)) * 4, 0, 255)
            rows.append(tile_row([
                tile(frames[i], f'{name}: last'), tile(next_frames[i], 'next'),
                tile(guess, f'predicted {float(errors[i]) * 1000:.1f}'),
                tile(error.astype(np.uint8), 'error x 4')]))
    return save_png(stacked_rows(rows), path)


def print_wall_split(held_out, predicted, observed) -> None:
    """Print each action's held-out R² from the poses at a wall and from the others.

    predicted, observed: `held_out_predictions` of the set.
    """
    labels = torch.tensor(held_out[1])
    wall = torch.tensor([at_wall(i // len(ACTION_NAMES)) for i in range(len(labels))])
    for name, chosen in (('open poses', ~wall), ('poses at a wall', wall)):
        figures = error_figures(predicted[chosen], observed[chosen], labels[chosen].tolist())
        print(f'seen layout, {name}: R2 {figures["all"]:+.3f} ({per_action(figures)})',
              flush=True)


@torch.no_grad()
def print_motion_ceiling(held_out, patch_size: int, reach) -> None:
    """Print per action the R² of the best integer shift per patch of the last frame.

    For each patch of each next frame, the shift (within `reach` = (x, y) px) of the last
    frame that errs least there, chosen knowing the next frame: what advection with one shift
    a patch could explain at best, the decoder's paint aside. At patch_size / 1, 2 and 4.
    """
    frames, labels, next_frames = held_out
    last, observed = (images_to_tensor(np.stack(images)) for images in (frames, next_frames))
    rx, ry = reach
    padded = torch.nn.functional.pad(last, (rx, rx, ry, ry), mode='replicate')
    size = last.shape[-1]
    for patch in (patch_size, patch_size // 2, patch_size // 4):
        best = torch.full((len(labels), size // patch, size // patch), math.inf)
        chosen = torch.zeros_like(observed)
        for dy in range(-ry, ry + 1):
            for dx in range(-rx, rx + 1):
                shifted = padded[..., ry + dy:ry + dy + size, rx + dx:rx + dx + size]
                error = torch.nn.functional.avg_pool2d(
                    ((shifted - observed) ** 2).mean(dim=1, keepdim=True), patch)[:, 0]
                better = error < best
                best = torch.where(better, error, best)
                wider = better.repeat_interleave(patch, 1).repeat_interleave(patch, 2)
                chosen = torch.where(wider[:, None], shifted, chosen)
        figures = error_figures(patchify(chosen, patch_size), patchify(observed, patch_size),
                                labels)
        print(f'seen layout, the best shift per {patch} px patch (within {rx} / {ry} px): R2 '
              f'{figures["all"]:+.3f} ({per_action(figures)})', flush=True)


@torch.no_grad()
def held_out_parts(model, held_out):
    """Return (labels, last frames, next frames, decoded patches, (moved, mask) or None).

    The parts of the model's predictions of the held-out transitions (`prediction_parts`).
    """
    frames, labels, next_frames = held_out
    model.autoencoder.eval()
    model.predictor.eval()
    last, observed = model.to_tensor(frames), model.to_tensor(next_frames)
    features = model.autoencoder.encode(last)[:, None]
    _, decoded, advected = model.prediction_parts(features, torch.tensor(labels)[:, None],
                                                  last)
    return labels, last, observed, decoded, advected


@torch.no_grad()
def print_paint_ceiling(model, parts) -> None:
    """Print the model's R² per action with its paint replaced by better ones.

    parts: `held_out_parts` of the set. The model's moved pixels and mask kept; painted
    instead by the decoder from the true next frame's tokens (a perfect predictor of tokens),
    or with the true next frame's pixels.
    """
    labels, _, observed, decoded, advected = parts
    if advected is None:
        return
    moved, mask = advected
    paints = {'its paint': model.autoencoder.unpatchify(decoded),
              'the decoder on the true next frame': model.autoencoder.unpatchify(
                  model.autoencoder(observed, 0.0)[0]),
              'the true next frame': observed}
    for name, painted in paints.items():
        figures = error_figures(model.autoencoder.patchify(blend(moved, mask, painted)),
                                model.autoencoder.patchify(observed), labels)
        print(f'seen layout, moved pixels and mask with {name} as paint: R2 '
              f'{figures["all"]:+.3f} ({per_action(figures)})', flush=True)


@torch.no_grad()
def print_error_columns(model, parts, band: int = 8) -> None:
    """Print where across the image each action's error lies (bands of `band` columns).

    Per action: the prediction's squared error per band, and apart its parts (the last
    frame's pixels moved, the decoder's paint, the mask that weighs the moved pixels),
    with copy-the-last-frame's beside them. A turn brings a strip of new view in at one side.
    parts: `held_out_parts` of the set.
    """
    labels, last, observed, decoded, advected = parts
    painted = model.autoencoder.unpatchify(decoded)
    parts = {'copy-last-frame': last, 'decoder alone': painted}
    if advected is not None:
        moved, mask = advected
        parts = {'prediction': blend(moved, mask, painted), **parts,
                 'moved pixels alone': moved}
    else:
        parts = {'prediction': painted, **parts}
    width = last.shape[-1]
    columns = ' | '.join(f'{start}-{start + band - 1}' for start in range(0, width, band))
    print(f'where the error lies (seen layout; squared error x 1000 per band of {band} image '
          f'columns, left to right; mask: the weight of the moved pixels)')
    print(f'| action | part | {columns} |')
    print('|---|---|' + '---|' * (width // band))
    chosen = torch.tensor(labels)
    for label, name in enumerate(ACTION_NAMES):
        rows = {part: ((image[chosen == label] - observed[chosen == label]) ** 2
                       ).mean(dim=(0, 1, 2)) * 1000 for part, image in parts.items()}
        if advected is not None:
            rows['mask'] = mask[chosen == label].mean(dim=(0, 1, 2))
        for part, values in rows.items():
            cells = ' | '.join(f'{float(values[start:start + band].mean()):.2f}'
                               for start in range(0, width, band))
            print(f'| {name} | {part} | {cells} |')


def print_table(name: str, result: dict, baselines: dict) -> None:
    """Per-action held-out R² of the model against both baselines on one set."""
    rows = [('world model', result['last'][name])] + list(baselines[name].items())
    print(f'{name} layout: ' + ' | '.join(f'{label:>15}' for label in (
        'set', *ACTION_NAMES, 'all', 'mean sq. error')), flush=True)
    for label, figures in rows:
        print(f'{name} layout: {label:>15} | ' + ' | '.join(
            f'{figures[a]:+15.3f}' for a in (*range(len(ACTION_NAMES)), 'all'))
            + f' | {figures["mse"]:15.5f}', flush=True)


def level_off(curve) -> str:
    """Where a run that missed the goal levelled off: its best worst-action R² and when."""
    best = max(curve, key=lambda point: point[2])
    return (f'best worst-action R2 {best[2]:+.3f} at {best[0]:.0f} s ({best[1]} learner steps), '
            f'last {curve[-1][2]:+.3f} at {curve[-1][0]:.0f} s')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--minutes', type=float, default=10.0,
                        help='time budget of the loop per run (evaluations not counted)')
    parser.add_argument('--clock', choices=('wall', 'cpu'), default='wall',
                        help='what --minutes and the reported seconds count: wall time (the '
                        'goal), or the process\'s CPU time (to compare settings on a shared '
                        'machine; with one torch thread on a quiet machine the two agree)')
    parser.add_argument('--seeds', type=int, nargs='+', default=None,
                        help='learner seeds (default: --seed)')
    parser.add_argument('--selector', choices=('uncertainty', 'random', 'both', 'coverage'),
                        default='uncertainty', help='coverage: no loop, the learner alone on '
                        'every action at --coverage-poses poses (its ceiling when coverage is '
                        'perfect)')
    parser.add_argument('--coverage-poses', type=int, default=2000,
                        help='--selector coverage: poses of its training set')
    parser.add_argument('--temperature', type=float, default=LoopConfig.exploration_temperature,
                        help="the uncertainty explorer's sampling temperature (0 = argmax)")
    parser.add_argument('--hold', type=float, default=LoopConfig.exploration_hold,
                        help='mean frames the explorer holds each action it chooses (1 = a '
                        'new choice every frame)')
    parser.add_argument('--hold-stall', type=float, default=LoopConfig.exploration_hold_stall,
                        help='a hold ends when the frame changed by a mean squared change '
                        'below this (0 = holds run their course)')
    parser.add_argument('--relative', action=argparse.BooleanOptionalAction,
                        default=LoopConfig.exploration_relative,
                        help='the explorer scores uncertainty over its running mean per action')
    parser.add_argument('--eval-every', type=int, default=100, help='learner steps')
    parser.add_argument('--past-goal', action='store_true',
                        help='learn to the end of the budget after the goal is reached (where '
                        'does it level off?)')
    parser.add_argument('--held-out-poses', type=int, default=HELD_OUT_POSES,
                        help='poses of the held-out sets (each followed by every action)')
    parser.add_argument('--held-out-seed', type=int, default=HELD_OUT_SEED)
    parser.add_argument('--layout-seed', type=int, default=RoomConfig.layout_seed,
                        help='the room the learner drives in')
    parser.add_argument('--unseen-layout-seed', type=int, default=RoomConfig.layout_seed + 1,
                        help='a room with the objects elsewhere, never trained on')
    parser.add_argument('--reset-every', type=int, default=0,
                        help='frames between teleports of the learner to a random pose (0 = '
                        'never: it drives the whole time, as in the stack)')
    parser.add_argument('--start-at-wall', type=float, default=RoomConfig.start_at_wall,
                        help='share of those poses facing a wall close up')
    parser.add_argument('--checkpoint', type=Path, default=None,
                        help='measure this saved world model (e.g. the room stack\'s, '
                        'saved/checkpoints/room/world_model.safetensors) on the held-out sets '
                        'instead of training one')
    parser.add_argument('--motion-ceiling', action='store_true',
                        help='print what the best shift per patch of the last frame explains '
                        'of the held-out next frames, then end')
    parser.add_argument('--worst-picture', type=Path, default=None,
                        help='with --checkpoint: draw the worst-predicted held-out transitions '
                        'of each action into this PNG')
    parser.add_argument('--frames-per-step', type=int, default=1,
                        help='frames acted per learner step (the node learns in its own '
                        'thread, so in the stack the robot acts several frames per learner '
                        'step; 1 = --train-steps learner steps after every frame)')
    parser.add_argument('--buffer-capacity', type=int, default=LoopConfig.buffer_capacity)
    parser.add_argument('--reconstruction-threshold', type=float,
                        default=LoopConfig.reconstruction_threshold,
                        help='the quality gate (reconstruction MSE)')
    parser.add_argument('--lr-decay-steps', type=int, default=LoopConfig.lr_decay_steps,
                        help='learner steps of the learning rates\' cosine decay (0 = constant)')
    parser.add_argument('--lr-final-ratio', type=float, default=LoopConfig.lr_final_ratio)
    parser.add_argument('--balance-actions', action=argparse.BooleanOptionalAction,
                        default=LoopConfig.balance_actions)
    parser.add_argument('--replay-error-share', type=float,
                        default=LoopConfig.replay_error_share,
                        help='share of balanced replay draws given to the actions in '
                        'proportion to their running prediction error')
    add_model_arguments(parser)
    parser.set_defaults(**{'img_size': RoomConfig.img_size, **room_defaults()})
    args = parser.parse_args(argv)
    seeds = args.seeds or [args.seed]
    torch.set_num_threads(args.threads)
    precision = str(training_dtype(args.training_precision)).removeprefix('torch.')
    print(f'room_world_model: {args.img_size} px, patch {args.patch_size}, dim '
          f'{args.embed_dim}, depth {args.depth}/{args.predictor_depth}, advection '
          f'{args.advection[0]}/{args.advection[1]} px in {args.advection_subdivision}^2 '
          f'parts a patch, batch '
          f'{args.batch_size}, buffer {args.buffer_capacity}, lr {args.lr:g} (predictor '
          f'{args.predictor_lr:g}; cosine decay to x{args.lr_final_ratio:g} over '
          f'{args.lr_decay_steps} steps), learner steps in {args.training_precision} '
          f'({precision} here), latent loss weight {args.latent_weight:g}, gate '
          f'{args.reconstruction_threshold:g}, '
          f'{"balanced" if args.balance_actions else "unbalanced"} replay ('
          f'{args.replay_error_share:g} of it by error), temperature '
          f'{args.temperature:g}{" (relative)" if args.relative else ""}, actions held '
          f'{args.hold:g} frames on average (ended when still: change < '
          f'{args.hold_stall:g}), resets every '
          f'{args.reset_every or "never"} ({args.start_at_wall:g} of them at a wall), '
          f'{args.frames_per_step} frame(s) per learner '
          f'step, seeds {seeds}, '
          f'{args.minutes:g} min ({args.clock} clock) per run, {torch.get_num_threads()} '
          f'torch thread(s); load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores',
          flush=True)
    held_out, baselines = held_out_sets(args.img_size, args.patch_size, args.held_out_poses,
                                        args.held_out_seed, args.layout_seed,
                                        args.unseen_layout_seed)
    if args.motion_ceiling:
        print_motion_ceiling(held_out['seen'], args.patch_size, args.advection)
        return
    if args.checkpoint:
        checkpoint_figures(args.checkpoint, held_out, baselines, args.worst_picture)
        return
    summaries = {}
    selectors = {'coverage': None} if args.selector == 'coverage' else \
        chosen_selectors(args.selector)
    for selector, epsilon in selectors.items():
        results = [run_coverage(args, seed, held_out, baselines) if epsilon is None
                   else run(args, seed, epsilon, held_out, baselines) for seed in seeds]
        for seed, result in zip(seeds, results):
            print(f'{selector}: seed {seed}: ' + (
                f'goal reached in {result["reached"][0]:.1f} s ({result["reached"][1]} learner '
                f'steps)' if result['reached'] else f'goal not reached in '
                f'{result["seconds"]:.1f} s ({result["steps"]} learner steps); '
                + level_off(result['curve'])) + f'; {result["frames"]} frames, '
                f'{result["cpu"]:.1f} s CPU; actions taken {result["selections"]}', flush=True)
            print_table('seen', result, baselines)
            print_table('unseen', result, baselines)
        summaries[selector] = results
        steps = [r['reached'][1] if r['reached'] else math.inf for r in results]
        print(f'{selector}: median learner steps to the goal {statistics.median(steps)} over '
              f'seeds {seeds} ({steps})', flush=True)
    print(f'load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores',
          flush=True)
    print(f'seconds below: the {args.clock} clock of the loop; the first selector '
          f'({next(iter(summaries))}), median over seeds', flush=True)
    results = summaries[next(iter(summaries))]
    copy_mse = baselines['seen']['copy-last-frame']['mse']
    reached = [r for r in results if r['reached']]
    if len(reached) * 2 > len(results):
        seconds = statistics.median(r['reached'][0] for r in reached)
        steps = statistics.median(r['reached'][1] for r in reached)
        worst = statistics.median(goal_figures(r['last']['seen'], copy_mse)[0] for r in reached)
        ratio = statistics.median(goal_figures(r['last']['seen'], copy_mse)[1] for r in reached)
        print(f'room world model: goal reached in {seconds:.0f} s ({steps:.0f} learner steps); '
              f'worst action R² {worst:.3f}; error / copy-last-frame {ratio:.3f}', flush=True)
    else:
        seconds = statistics.median(r['seconds'] for r in results)
        worst = statistics.median(r['best'][0] for r in results)
        ratio = statistics.median(r['best'][1] for r in results)
        print(f'room world model: goal not reached in {seconds:.0f} s; worst action R² '
              f'{worst:.3f}; error / copy-last-frame {ratio:.3f}', flush=True)


if __name__ == '__main__':
    main()
