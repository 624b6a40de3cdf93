"""`nanobot export`: a trained policy to ONNX (+ safetensors) for the kernels."""
import argparse
import json
from pathlib import Path

from nanobot_ros.defaults import add_config_options, config_values
from nanobot_ros.policy.export import export_policy, measure_export_options
from nanobot_ros.policy.serving_config import SamplingConfig
from nanobot_ros.policy.weights import load_policy

SAMPLING_OPTIONS = {'sampler': 'exported sampler: ddim or ddpm',
                    'ddim_steps': 'DDIM steps in the export'}


def main(argv=None) -> int:
    """`nanobot export CHECKPOINT --out FILE.onnx [--sampler ddim|ddpm] [--ddim-steps k]`."""
    parser = argparse.ArgumentParser(prog='nanobot export', description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='policy .safetensors (a trainer checkpoint)')
    parser.add_argument('--out', required=True, help='ONNX file to write (+ .safetensors)')
    add_config_options(parser, SamplingConfig, SAMPLING_OPTIONS)
    parser.add_argument('--measure', action='store_true',
                        help='also time the fused graph against the split loop and print it')
    args = parser.parse_args(argv)
    try:
        SamplingConfig(**config_values(args, SAMPLING_OPTIONS))
    except ValueError as error:
        parser.error(str(error))
    try:
        policy, _ = load_policy(args.checkpoint)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f'[ERROR] {error}')
        return 1
    path = export_policy(policy, Path(args.out), args.sampler, args.ddim_steps)
    print(f'wrote {path} and {path.with_suffix(".safetensors")}')
    if args.measure and policy.config.head == 'diffusion':
        print(json.dumps(measure_export_options(policy, args.ddim_steps), indent=2))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
