"""Closed-loop success of the exported policy: sim <-> kernel over DDS, held-out episodes.

    ./run.sh python bench/policy_success.py runs/policy_diffusion/policy.safetensors
    ./run.sh python bench/policy_success.py CHECKPOINT --kernel rust [--backend candle]
    ./run.sh python bench/policy_success.py CHECKPOINT --kernel rust --backend candle --gguf f16

Exports the checkpoint twice (DDIM-k and DDPM with all T steps in the graph), then for each
export runs the sim's target task (episode seeds from --seed, below the demonstrations' seeds
1000+, so none was seen in training) against the kernel node in lockstep and reads the sim's
episode counters from /diagnostics. Goal: >= 95 % success. Prints both samplers side by side.
`--gguf f32|f16`: the Candle backend serves the policy's GGUF (policy/quantize.py) instead.

The harder task family (robots/sim/task_family.py), or the room task (robots/room/task.py; its
final test seeds 500-999 are the default), BC and BC + GRPO side by side:

    ./run.sh python bench/policy_success.py runs/family_bc/policy.safetensors \
        --task family --grpo runs/family_grpo/grpo.safetensors

exports each checkpoint to ONNX and serves it with the Python kernel's runtime (OnnxPolicy, the
code the kernel node runs) over held-out seeds, once with the training phrasings and once with
the held-out ones, in one process; with `--dds` the sim node (`task` preset) and the kernel node
play the same episodes over DDS instead (slower: a round trip through two nodes per step); for
the room task the room node (`task: room`) is the robot, and the export names its values
motor_left / motor_right, as the JetBot driver reads them.
`--kernel rust` serves the same exports with the Rust kernel (kernel/, ort or Candle backend):

    ./run.sh python bench/policy_success.py runs/room_bc/policy.safetensors --task room \
        --grpo runs/room_grpo/grpo.safetensors --dds --kernel rust

ends with `room: BC <a> % / <b> %; BC + GRPO <c> % / <d> % (training / held-out phrasings,
<k> episodes, rust kernel over DDS)`.
"""
import argparse
import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import rclpy

from nanobot_ros.contract import DIAGNOSTICS, STATUS
from nanobot_ros.policy.export import export_policy
from nanobot_ros.policy.onnx_runtime import OnnxPolicy
from nanobot_ros.policy.quantize import export_gguf
from nanobot_ros.robots.sim.task_family import TaskBatch
from nanobot_ros.robots.room.task import SEEDS as ROOM_SEEDS
from nanobot_ros.robots.tasks import task_actions, task_config, TASKS
from nanobot_ros.policy.weights import load_policy
from nanobot_ros.nodes.common import qos_profile
from nanobot_ros.stack import node_command

TASK = {'targets': 'red,green,blue', 'moves': '2d', 'img_size': 40, 'dot_radius': 3,
        'move_pixels': 8, 'step_budget': 12, 'frame_rate': 0.0, 'lockstep': True,
        'action_timeout': 2.0}


def robot_node(task: str) -> str:
    """Return the node that runs `task` as a robot: the room for the room task, else the sim."""
    return 'room' if task == 'room' else 'sim'


# --kernel -> the kernel's executable
KERNEL_EXECUTABLES = {'python': 'kernel', 'rust': 'nanobot_kernel'}


def start(name: str, params: dict, log: Path, remap: dict = None,
          executable: str = None) -> subprocess.Popen:
    """Start node `name` (or `executable`) with parameters and remappings, output to `log`."""
    return subprocess.Popen(node_command(name, params.items(), remap, executable=executable),
                            stdout=open(log, 'w'), stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    """SIGINT a node and wait for it."""
    process.send_signal(2)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def robot_counters(reports: list, robot: str = 'sim') -> dict:
    """Return the newest status values of node `robot` from /diagnostics reports."""
    for report in reversed(reports):
        for status in report.status:
            if status.hardware_id == robot:
                return {kv.key: kv.value for kv in status.values}
    return {}


def run_episodes(node, model: Path, episodes: int, seed: int, logs: Path, label: str,
                 kernel: dict, task: dict = TASK, robot: str = 'sim') -> dict:
    """Drive `episodes` task episodes with the kernel serving `model`; return the counters.

    kernel: {'executable': ..., 'params': {...}} of the kernel implementation to run;
    task: the task parameters of node `robot` (the sim, or the room).
    """
    reports = []
    subscription = node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(), reports.append,
                                            qos_profile(STATUS))
    kernel = start('kernel', {'model_path': str(model), 'stale_after': 2.0,
                              'control_period': 2.0, **kernel['params']},
                   logs / f'kernel_{label}.log', executable=kernel['executable'])
    time.sleep(3.0)  # let the kernel load its model before the first frame
    sim = start(robot, {**task, 'seed': seed, 'episode_limit': episodes},
                logs / f'{robot}_{label}.log')
    start_time = time.monotonic()
    done = 0
    try:
        while done < episodes:
            rclpy.spin_once(node, timeout_sec=0.2)
            done = int(robot_counters(reports, robot).get('episodes', 0))
            if time.monotonic() - start_time > 60 + 5 * episodes:
                print(f'[{label}] timed out after {done} episodes', file=sys.stderr)
                break
    finally:
        stop(sim)
        stop(kernel)
        node.destroy_subscription(subscription)
    values = robot_counters(reports, robot)
    return {'episodes': int(values.get('episodes', 0)),
            'successes': int(values.get('successes', 0)),
            'seconds': round(time.monotonic() - start_time, 1)}


def kernel_success(model: Path, task: str, phrasings: str, seeds,
                   temperature: float = 0.0) -> tuple:
    """Return the success rates (all, two-step episodes) of export `model` on `seeds`."""
    kernel = OnnxPolicy(model, temperature=temperature)
    with TaskBatch(task_config(task, phrasings=phrasings), len(seeds)) as batch:
        success, steps = batch.play(seeds, kernel.choose)
    two_step = np.array([len(t.waypoints) == 2 for t in batch.tasks])
    return (float(success.mean()), float(success[two_step].mean()) if two_step.any() else 0.0,
            int(steps.sum()))


def dds_success(model: Path, args, phrasings: str, out: Path, kernel: dict) -> tuple:
    """Return the success rate of `model` in the kernel node against the robot node over DDS.

    The robot: the sim, or the room for the room task. The second and third values, the
    two-step success and the env steps, are None: the robot's counters do not split them.
    """
    rclpy.init()
    node = rclpy.create_node('policy_success_bench')
    try:
        r = run_episodes(node, model, args.episodes, args.seed, out,
                         f'{model.stem}_{phrasings}', kernel,
                         {'task': args.task, 'phrasings': phrasings, 'frame_rate': 0.0,
                          'lockstep': True, 'action_timeout': 2.0}, robot_node(args.task))
    finally:
        node.destroy_node()
        rclpy.shutdown()
    if r['episodes'] != args.episodes:
        raise RuntimeError(f'{model}: only {r["episodes"]} of {args.episodes} episodes ran')
    return r['successes'] / r['episodes'], None, None


def family_table(args, out: Path, kernel: dict) -> int:
    """BC (and BC + GRPO) on the task family: train vs held-out phrasings, held-out seeds."""
    seeds = list(range(args.seed, args.seed + args.episodes))
    rows = [('BC', args.checkpoint)] + ([('BC + GRPO', args.grpo)] if args.grpo else [])
    results = {}
    for label, path in rows:
        policy, checkpoint = load_policy(path)
        # named as the task's robot reads them (the room: the JetBot's motor_left / motor_right)
        _, names, _ = task_actions(task_config(args.task))
        model = export_policy(policy, out / f'{label.replace(" + ", "_")}.onnx',
                              action_names=names)
        results[label] = {}
        for phrasings in ('train', 'heldout'):
            rate, two_step, steps = (dds_success(model, args, phrasings, out, kernel) if args.dds
                                     else kernel_success(model, args.task, phrasings, seeds,
                                                         args.temperature))
            results[label].update({phrasings: rate, f'{phrasings}_two_step': two_step,
                                   f'{phrasings}_steps': steps})
        results[label]['env_steps'] = checkpoint.metadata.get('grpo', {}).get('env_steps', 0)
    (out / 'results.json').write_text(json.dumps(results, indent=2))
    where = (f'the {robot_node(args.task)} node and the {args.kernel} kernel node over DDS'
             if args.dds
             else 'ONNX export served by the Python kernel runtime in one process')
    actions = (f'sampled at temperature {args.temperature:g}' if args.temperature > 0
               else 'the most likely one')
    print(f'task {args.task}: success over held-out seeds {seeds[0]}..{seeds[-1]} '
          f'({len(seeds)} episodes each), {where}; actions: {actions}')
    print(f'{"policy":<10} {"train phrasings":>16} {"held-out phrasings":>19} '
          f'{"two-step train / held-out":>26} {"GRPO env steps":>15}')
    for label, r in results.items():
        two_step = ('-' if args.dds else
                    f'{100 * r["train_two_step"]:.1f}% / {100 * r["heldout_two_step"]:.1f}%')
        print(f'{label:<10} {100 * r["train"]:>15.1f}% {100 * r["heldout"]:>18.1f}% '
              f'{two_step:>26} {r["env_steps"]:>15}')
    if args.task == 'room':
        print('room: ' + '; '.join(
            f'{label} {100 * r["train"]:.0f} % / {100 * r["heldout"]:.0f} %'
            for label, r in results.items())
            + f' (training / held-out phrasings, {len(seeds)} episodes, '
            + (f'{args.kernel} kernel over DDS)' if args.dds else 'ONNX Runtime in process)'))
    return 0


def main() -> int:
    """Export both samplers, run the closed loop for each, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='policy .safetensors (diffusion head)')
    parser.add_argument('--episodes', type=int, default=100)
    parser.add_argument('--seed', type=int, default=None,
                        help='first held-out episode seed (default 0; the room task: its final '
                             f'test seeds, {ROOM_SEEDS["final"].start})')
    parser.add_argument('--ddim-steps', type=int, default=10)
    parser.add_argument('--out', default='', help='folder for exports, logs and results.json')
    parser.add_argument('--task', choices=sorted(TASKS), default=None,
                        help='a task-family preset or the room task (final test seeds: '
                        '--seed 500): in-process table of BC (and --grpo)')
    parser.add_argument('--grpo', default='', help='with --task: the GRPO checkpoint')
    parser.add_argument('--dds', action='store_true',
                        help='with --task: run the sim and kernel nodes over DDS')
    parser.add_argument('--kernel', default='python', choices=sorted(KERNEL_EXECUTABLES))
    parser.add_argument('--backend', default='ort', choices=('ort', 'candle'),
                        help='the Rust kernel\'s backend')
    parser.add_argument('--temperature', type=float, default=0.0,
                        help='a categorical head\'s: 0 takes the most likely action, T > 0 '
                             'samples softmax(logits / T) (GRPO trains at 1)')
    parser.add_argument('--gguf', choices=('f32', 'f16'), default=None,
                        help='with --kernel rust --backend candle: serve the GGUF export')
    args = parser.parse_args()
    if args.gguf and (args.kernel, args.backend) != ('rust', 'candle'):
        parser.error('--gguf needs --kernel rust --backend candle')
    if args.seed is None:
        args.seed = ROOM_SEEDS['final'].start if args.task == 'room' else 0
    kernel = {'executable': KERNEL_EXECUTABLES[args.kernel],
              'params': {'temperature': args.temperature,
                         **({'backend': args.backend} if args.kernel == 'rust' else {})}}
    os.environ.setdefault('ROS_DOMAIN_ID', '205')
    out = Path(args.out or tempfile.mkdtemp(prefix='policy_success_'))
    out.mkdir(parents=True, exist_ok=True)
    if args.task:
        return family_table(args, out, kernel)
    policy, _ = load_policy(args.checkpoint)
    steps = policy.config.robotics_diffusion_steps
    variants = [(f'DDIM-{args.ddim_steps}', 'ddim')]
    if policy.config.head == 'diffusion':
        variants.append((f'DDPM-{steps}', 'ddpm'))
    rclpy.init()
    node = rclpy.create_node('policy_success_bench')
    results = {}
    for label, sampler in variants:
        model = export_policy(policy, out / f'{sampler}.onnx', sampler, args.ddim_steps)
        if args.gguf:
            model = export_gguf(policy, out / f'{sampler}_{args.gguf}.gguf', args.gguf, sampler,
                                args.ddim_steps)
        results[label] = run_episodes(node, model, args.episodes, args.seed, out, label,
                                      kernel)
        r = results[label]
        print(f'{label}: {r["successes"]}/{r["episodes"]} episodes reached the target '
              f'({r["seconds"]} s)', flush=True)
    node.destroy_node()
    rclpy.shutdown()
    (out / 'results.json').write_text(json.dumps(results, indent=2))
    print(f'\nclosed-loop success over held-out seeds {args.seed}..'
          f'{args.seed + args.episodes - 1} (goal >= 95 %), {args.kernel} kernel'
          f'{" (" + args.backend + ")" if args.kernel == "rust" else ""}'
          f'{" from the GGUF " + args.gguf.upper() if args.gguf else ""} over DDS:')
    print(f'{"sampler":<10} {"success":>8} {"episodes":>9}')
    for label, r in results.items():
        rate = 100.0 * r['successes'] / max(r['episodes'], 1)
        print(f'{label:<10} {rate:>7.1f}% {r["episodes"]:>9}')
    print(f'(exports, logs, results.json in {out})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
