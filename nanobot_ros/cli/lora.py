"""`nanobot lora`: adapt a trained policy to a task variant with LoRA adapters (policy/lora.py)."""
import json
from pathlib import Path

import torch


def main(argv=None) -> int:
    """`nanobot lora INIT.safetensors BAGS... --out OUT.safetensors [--steps N] [--rank R]`."""
    import argparse
    parser = argparse.ArgumentParser(prog='nanobot lora', description=__doc__.split('\n')[0])
    parser.add_argument('init', help='the trained policy to adapt')
    parser.add_argument('data', nargs='+', help='demonstration bags of the variant')
    parser.add_argument('--out', required=True, help='the adapted (merged) policy')
    parser.add_argument('--steps', type=int, default=300)
    parser.add_argument('--rank', type=int, default=4)
    parser.add_argument('--lr', type=float, default=3e-3)
    parser.add_argument('--batch-size', type=int, default=64)
    args = parser.parse_args(argv)
    from nanobot_ros.policy.demonstrations import BagSource, DemoBuffer
    from nanobot_ros.policy.lora import lora_finetune
    from nanobot_ros.policy.processing import processor_for
    from nanobot_ros.policy.weights import load_policy, save_policy
    torch.set_num_threads(1)
    policy, _ = load_policy(args.init)
    buffer = DemoBuffer(processor_for(policy.config), policy.config.robotics_action_dim)
    BagSource(args.data, buffer).poll()
    if not len(buffer):
        print(f'[ERROR] no samples in {args.data}', flush=True)
        return 1
    adapted, report = lora_finetune(policy, buffer, args.steps, args.batch_size, args.lr,
                                    args.rank)
    report.update(init=args.init, samples=len(buffer))
    save_policy(Path(args.out), adapted, extra_metadata={'lora': report}, keep_backup=False)
    print(json.dumps({k: v for k, v in report.items() if k != 'losses'}, indent=2))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
