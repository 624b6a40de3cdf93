"""LoRA and quantized exports on the task family: success, latency, file size, trainable share.

    ./run.sh python bench/policy_variants.py --bc runs/family_bc/policy.safetensors \
        --lora runs/family_lora/policy.safetensors --exports exports/family

LoRA: success of the BC policy and of its LoRA adaptation on the 'new-colours' variant (orange
and purple markers, never in the family) and on the family itself, and the adapter's trainable
share (from the LoRA checkpoint's metadata). Quantization: each ONNX export in --exports
(policy_fp32 / int8 / ternary, written by `nanobot quantize`) served by the Python kernel
runtime (OnnxPolicy) on the family: success, observation -> action latency p50 / p99 (one
thread, the same observation, after a warm-up), file size; and the GGUF files' sizes with the
largest action difference of the model the Python reader rebuilds from them against fp32.
Held-out seeds 0..episodes-1, training phrasings.
"""
import argparse
import json
from pathlib import Path
import sys
import tempfile
import time

import numpy as np
import torch

from nanobot_ros.policy.export import export_policy
from nanobot_ros.policy.onnx_runtime import OnnxPolicy
from nanobot_ros.policy.quantize import read_gguf
from nanobot_ros.policy.processing import processor_for
from nanobot_ros.policy.weights import load_policy
from nanobot_ros.robots.sim.task_family import TaskBatch, TaskFamily, task_preset


def success(kernel: OnnxPolicy, task: str, seeds) -> float:
    """Return the kernel's success rate on the preset's episodes `seeds`."""
    done, _ = TaskBatch(task_preset(task), len(seeds)).play(seeds, kernel.choose)
    return float(done.mean())


def latency(kernel: OnnxPolicy, observation: dict, repeats: int = 300) -> tuple:
    """Return (p50, p99) ms of select_action on one observation."""
    for _ in range(20):
        kernel.select_action(observation)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        kernel.select_action(observation)
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def lora_table(args, seeds, out: Path) -> dict:
    """Print BC vs BC + LoRA on the new-colours variant and on the family."""
    rows = {}
    for label, path in (('BC', args.bc), ('BC + LoRA', args.lora)):
        policy, checkpoint = load_policy(path)
        kernel = OnnxPolicy(export_policy(policy, out / f'{label.replace(" + ", "_")}.onnx'))
        rows[label] = {'new-colours': success(kernel, 'new-colours', seeds),
                       'family': success(kernel, 'family', seeds),
                       'lora': checkpoint.metadata.get('lora')}
    report = rows['BC + LoRA']['lora'] or {}
    print(f'\nLoRA (rank {report.get("rank")}, {report.get("steps")} steps on '
          f'{report.get("samples")} new-colours samples): trainable '
          f'{report.get("trainable")} of {report.get("total")} parameters '
          f'({100 * report.get("trainable_share", 0):.1f} %)')
    print(f'{"policy":<10} {"new-colours":>12} {"family":>8}')
    for label, r in rows.items():
        print(f'{label:<10} {100 * r["new-colours"]:>11.1f}% {100 * r["family"]:>7.1f}%')
    return rows


def quantization_table(args, seeds) -> dict:
    """Print success, latency and size of each export in --exports."""
    folder = Path(args.exports)
    task = TaskFamily(task_preset('family'))
    observation = {'image': task.render(), 'instruction': task.instruction}
    rows = {}
    for name in ('fp32', 'int8', 'ternary'):
        path = folder / f'policy_{name}.onnx'
        if not path.exists():
            continue
        kernel = OnnxPolicy(path)
        p50, p99 = latency(kernel, observation)
        rows[name] = {'success': success(kernel, 'family', seeds), 'p50_ms': p50,
                      'p99_ms': p99, 'bytes': path.stat().st_size}
    reference, _ = load_policy(folder / 'policy_fp32.safetensors')
    inputs = {k: torch.from_numpy(v) for k, v in
              processor_for(reference.config).preprocess([observation]).items()}
    for name in ('f32', 'f16'):
        path = folder / f'policy_{name}.gguf'
        if path.exists():
            rebuilt = read_gguf(path)
            with torch.no_grad():
                logits = [m.action_logits(inputs['images'], inputs['text'])
                          for m in (reference, rebuilt)]
            rows[f'gguf {name}'] = {'bytes': path.stat().st_size,
                                    'max_logit_difference': float((logits[0] - logits[1])
                                                                  .abs().max())}
    print(f'\nquantized exports on the family ({len(seeds)} held-out episodes, Python kernel '
          f'runtime, 1 thread)')
    print(f'{"export":<12} {"success":>8} {"p50 ms":>7} {"p99 ms":>7} {"size KiB":>9}')
    for name, r in rows.items():
        if 'success' in r:
            print(f'{name:<12} {100 * r["success"]:>7.1f}% {r["p50_ms"]:>7.2f} '
                  f'{r["p99_ms"]:>7.2f} {r["bytes"] / 1024:>9.1f}')
        else:
            print(f'{name:<12} {"-":>8} {"-":>7} {"-":>7} {r["bytes"] / 1024:>9.1f}  (Python '
                  f'reader vs fp32: max logit difference {r["max_logit_difference"]:.1e})')
    return rows


def main() -> int:
    """Print the LoRA and the quantization tables."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--bc', required=True, help='the cloned policy')
    parser.add_argument('--lora', default='', help='its LoRA adaptation (nanobot lora)')
    parser.add_argument('--exports', default='', help='folder written by nanobot quantize')
    parser.add_argument('--episodes', type=int, default=100)
    parser.add_argument('--out', default='')
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out or tempfile.mkdtemp(prefix='policy_variants_'))
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.episodes))
    results = {}
    if args.lora:
        results['lora'] = lora_table(args, seeds, out)
    if args.exports:
        results['quantization'] = quantization_table(args, seeds)
    (out / 'results.json').write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == '__main__':
    sys.exit(main())
