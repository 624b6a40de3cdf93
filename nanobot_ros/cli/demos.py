"""`nanobot demos`: record the scripted expert (or DAgger: a policy it labels) into bags."""
from collections import Counter
from pathlib import Path

from nanobot_ros.policy.demonstrations import dagger_summary, write_demonstration_bag
from nanobot_ros.policy.weights import load_policy
from nanobot_ros.robots.sim.target_task import TargetTaskConfig
from nanobot_ros.robots.tasks import task_action_names, task_config, TASKS


def main(argv=None) -> int:
    """`nanobot demos OUT_DIR [--episodes N] [--seed S] [--split K] [--policy P]`: bags."""
    import argparse
    from tqdm import tqdm
    parser = argparse.ArgumentParser(prog='nanobot demos',
                                     description='record the scripted expert into rosbag2 bags')
    parser.add_argument('out', help='folder to write bags into (one bag per split)')
    parser.add_argument('--episodes', type=int, default=600)
    parser.add_argument('--seed', type=int, default=1000,
                        help='first episode seed (benches evaluate on seeds below 1000)')
    parser.add_argument('--split', type=int, default=200, help='episodes per bag')
    parser.add_argument('--task', choices=sorted(TASKS), default=None,
                        help='a task-family preset or the room task (training phrasings); '
                        'default: the sim\'s target task')
    parser.add_argument('--policy', default='',
                        help='DAgger: this policy.safetensors drives (--temperature) '
                        'and the expert labels every frame on teacher/action, the action '
                        '`nanobot train` learns')
    parser.add_argument('--temperature', type=float, default=0.0,
                        help='with --policy: 0 drives its most likely action, T > 0 a draw from '
                        'softmax(logits / T) (the kernels\' temperature)')
    args = parser.parse_args(argv)
    config = task_config(args.task) if args.task else TargetTaskConfig()
    try:
        policy = load_policy(args.policy)[0] if args.policy else None
    except (ValueError, RuntimeError, FileNotFoundError) as error:  # RuntimeError: CheckpointError
        print(f'[ERROR] {error}', flush=True)
        return 1
    if policy is not None and not args.task:
        print('[ERROR] --policy needs --task: DAgger plays a task family preset or the room',
              flush=True)
        return 1
    out = Path(args.out)
    seeds = list(range(args.seed, args.seed + args.episodes))
    tally = Counter()
    for start in tqdm(range(0, len(seeds), args.split), desc='demonstration bags', unit='bag'):
        chunk = seeds[start:start + args.split]
        name = f'demos_{chunk[0]:06d}'
        if (out / name).exists():
            print(f'{out / name} exists: skipped')
            continue
        write_demonstration_bag(out / name, config, chunk, policy=policy, tally=tally,
                                temperature=args.temperature)
    print(f'wrote {args.episodes} {"DAgger" if policy else "expert"} episodes to {out}')
    if policy is not None:
        print(dagger_summary(tally, task_action_names(config)))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
