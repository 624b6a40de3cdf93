"""In-process select_action cost of each policy v2 export kind, Python kernel runtime and Rust.

    ./run.sh python bench/kernel_exports.py CHECKPOINT [--calls 300]

From one checkpoint (e.g. a GRPO one: categorical head), writes the exports the kernels serve:
fp32 ONNX, int8 (ORT dynamic quantization), ternary (the checkpoint's weights in a ternary
config, frozen without QAT: the cost is that of the layers, the accuracy is not measured here),
MiniLM (the checkpoint's config with text_encoder minilm, untrained weights: cost only), GGUF
F32 and F16 (Candle). Each is timed in-process, one thread, back to back and after 10 ms idle
(`kernel_latency.compute_times`; the Rust side `nanobot_kernel time`), on the same 40x40 frame
and instruction. Prints one line per export and runtime, p50 ms, and the size of the file that
runtime reads (Candle: the .safetensors beside the .onnx, or the .gguf).
"""
import argparse
from dataclasses import replace
from pathlib import Path
import subprocess
import sys
import tempfile

import numpy as np
import torch

from kernel_latency import compute_times
from nanobot_ros.policy.export import export_policy
from nanobot_ros.policy.modeling import Policy
from nanobot_ros.policy.onnx_runtime import OnnxPolicy
from nanobot_ros.policy.quantize import export_gguf, export_ternary, quantize_int8
from nanobot_ros.policy.text_encoder import MAX_TOKENS
from nanobot_ros.policy.weights import load_policy
from nanobot_ros.stack import node_executable

INSTRUCTION = 'go to the red marker'  # the frame and text `nanobot_kernel time` uses


def exports(policy: Policy, out: Path, ddim_steps: int) -> dict:
    """Write every export kind of `policy` into `out`; return {label: (path, backends)}."""
    both = ('ort', 'candle')
    for folder in ('fp32', 'ternary', 'minilm'):
        (out / folder).mkdir(parents=True, exist_ok=True)
    fp32 = export_policy(policy, out / 'fp32' / 'policy.onnx', 'ddim', ddim_steps)
    ternary = Policy(replace(policy.config, ternary=True))
    ternary.load_state_dict(policy.state_dict())
    minilm = Policy(replace(policy.config, text_encoder='minilm', max_text_len=MAX_TOKENS))
    return {
        'fp32': (fp32, both),
        'int8': (quantize_int8(fp32, out / 'fp32' / 'policy_int8.onnx'), ('ort',)),
        'ternary': (export_ternary(ternary.eval(), out / 'ternary' / 'policy.onnx'), both),
        'minilm': (export_policy(minilm.eval(), out / 'minilm' / 'policy.onnx', 'ddim',
                                 ddim_steps), both),
        'gguf f32': (export_gguf(policy, out / 'fp32' / 'policy_f32.gguf', 'f32', 'ddim',
                                 ddim_steps), ('candle',)),
        'gguf f16': (export_gguf(policy, out / 'fp32' / 'policy_f16.gguf', 'f16', 'ddim',
                                 ddim_steps), ('candle',)),
    }


def rust_p50(backend: str, model: Path, calls: int, idle_ms: int) -> float:
    """Return `nanobot_kernel time`'s p50 ms."""
    run = subprocess.run([node_executable('nanobot_kernel'), 'time', backend, str(model),
                          str(calls), str(idle_ms)], capture_output=True, text=True, check=True)
    return float(run.stdout.split(' p50 ')[1].split()[0])


def main() -> int:
    """Export every kind, time each runtime on it, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='policy .safetensors')
    parser.add_argument('--calls', type=int, default=300)
    parser.add_argument('--ddim-steps', type=int, default=10)
    parser.add_argument('--out', default='')
    args = parser.parse_args()
    node_executable('nanobot_kernel')  # fails early, with the reason, when it is not built
    torch.set_num_threads(1)
    out = Path(args.out or tempfile.mkdtemp(prefix='kernel_exports_'))
    policy, _ = load_policy(args.checkpoint)
    c = policy.config
    head = f'diffusion DDIM-{args.ddim_steps}' if c.head == 'diffusion' else c.head
    print(f'{args.checkpoint}: {c.n_layer} layers x {c.n_embd}, image {c.image_size} px, '
          f'{head} head; select_action in-process, one thread, {args.calls} calls, p50 ms')
    print(f'{"export":<10} {"runtime":<22} {"back to back":>12} {"10 ms idle":>11} '
          f'{"file KiB":>9}')
    observation = {'image': np.zeros((40, 40, 3), np.uint8), 'instruction': INSTRUCTION}
    for label, (path, backends) in exports(policy, out, args.ddim_steps).items():
        rows = []
        if path.suffix == '.onnx':
            runner = OnnxPolicy(path)
            (hot, _), (cold, _) = compute_times(runner.select_action, observation, args.calls)
            rows.append(('Python ONNX Runtime', path, hot, cold))
        for backend in backends:
            model = path if path.suffix == '.gguf' or backend == 'ort' else \
                path.with_suffix('.safetensors')
            rows.append((f'Rust {backend}', model, rust_p50(backend, model, args.calls, 0),
                         rust_p50(backend, model, args.calls, 10)))
        for runtime, model, hot, cold in rows:
            print(f'{label:<10} {runtime:<22} {hot:>12.3f} {cold:>11.3f} '
                  f'{model.stat().st_size / 1024:>9.0f}', flush=True)
    print(f'(exports in {out})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
