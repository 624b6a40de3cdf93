"""`nanobot quantize`: fp32, int8 and ternary ONNX exports and GGUF of a policy (quantize.py)."""
import json
from pathlib import Path

import torch


def main(argv=None) -> int:
    """`nanobot quantize CHECKPOINT --out-dir DIR [--qat BAGS... --qat-steps N]`."""
    import argparse
    parser = argparse.ArgumentParser(prog='nanobot quantize', description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='policy .safetensors')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--qat', nargs='*', default=[],
                        help='demonstration bags for ternary quantization-aware training')
    parser.add_argument('--qat-steps', type=int, default=300)
    parser.add_argument('--qat-lr', type=float, default=1e-3)
    args = parser.parse_args(argv)
    from nanobot_ros.policy.demonstrations import BagSource, DemoBuffer
    from nanobot_ros.policy.export import export_policy
    from nanobot_ros.policy.quantize import (export_gguf, export_ternary, quantize_int8,
                                             ternary_qat)
    from nanobot_ros.policy.processing import processor_for
    from nanobot_ros.policy.weights import load_policy, save_policy
    torch.set_num_threads(1)
    policy, _ = load_policy(args.checkpoint)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fp32 = export_policy(policy, out / 'policy_fp32.onnx')
    written = [fp32, quantize_int8(fp32, out / 'policy_int8.onnx'),
               export_gguf(policy, out / 'policy_f32.gguf'),
               export_gguf(policy, out / 'policy_f16.gguf', 'f16')]
    if args.qat:
        buffer = DemoBuffer(processor_for(policy.config), policy.config.robotics_action_dim)
        BagSource(args.qat, buffer).poll()
        qat = ternary_qat(policy, buffer, args.qat_steps, lr=args.qat_lr)
        save_policy(out / 'policy_ternary_qat.safetensors', qat, keep_backup=False,
                    extra_metadata={'qat': {'steps': args.qat_steps, 'samples': len(buffer),
                                            'init': args.checkpoint}})
        written.append(export_ternary(qat, out / 'policy_ternary.onnx'))
    print(json.dumps({p.name: p.stat().st_size for p in written}, indent=2))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
