"""The report of a `nanobot train` run folder: losses, plateau, export parity, success.

Export parity is measured here: the run's checkpoint is exported to ONNX in a temporary folder
and ONNX Runtime's actions are compared with PyTorch's on the same inputs and noise
(`policy.export.export_parity`). Closed-loop success is shown when measured, i.e. when
`bench/policy_success.py <checkpoint> --out <run folder>/success` left results.json there.
"""
import json
from pathlib import Path
import tempfile

from nanobot_ros.report.document import Document
from nanobot_ros.report.environment import environment_rows

FIGURES = ('steps', 'epochs', 'samples', 'rejected_samples', 'final_loss', 'plateau',
           'resumed_from_step', 'world_size', 'checkpoint')


def _parity_rows(checkpoint: Path) -> list:
    from nanobot_ros.policy.export import export_parity
    from nanobot_ros.policy.weights import load_policy
    policy, _ = load_policy(checkpoint)
    samplers = ('ddim', 'ddpm') if policy.config.head == 'diffusion' else ('ddim',)
    # `nanobot export`'s default DDIM steps, within what the head's schedule allows.
    ddim_steps = min(10, policy.config.robotics_diffusion_steps)
    rows = []
    with tempfile.TemporaryDirectory(prefix='nanobot_parity_') as folder:
        for sampler in samplers:
            error = export_parity(policy, Path(folder) / f'{sampler}.onnx', sampler, ddim_steps)
            if policy.config.head != 'diffusion':
                rows.append(('regression', '-', f'{error:.3g}'))
            else:
                rows.append((sampler, ddim_steps if sampler == 'ddim' else 'all',
                             f'{error:.3g}'))
    return rows


def policy_report(run_dir: Path, summary: dict) -> Document:
    """Return the report of the policy training run in `run_dir`."""
    doc = Document(f'nanobot_ros policy training {run_dir.name}')
    doc.paragraph(f'{summary.get("steps")} steps over {summary.get("epochs")} epochs on '
                  f'{summary.get("samples")} samples; stopped: '
                  f'{summary.get("plateau") or "step or epoch budget"}.')
    doc.heading('Training')
    doc.table(['figure', 'value'], [(k, summary.get(k)) for k in FIGURES if k in summary])
    losses = summary.get('epoch_losses') or []
    if losses:
        doc.table(['epoch', 'mean loss'], [(i + 1, f'{v:.6g}') for i, v in enumerate(losses)])
    if (run_dir / 'learning_curve.png').is_file():
        doc.image(run_dir / 'learning_curve.png', 'policy loss per step')
    doc.heading('Export parity (ONNX Runtime vs PyTorch, max |difference| of actions)')
    checkpoint = Path(summary.get('checkpoint') or run_dir / 'policy.safetensors')
    try:
        doc.table(['sampler', 'steps', 'max abs difference'], _parity_rows(checkpoint))
    except (OSError, ValueError, RuntimeError) as error:
        doc.paragraph(f'not measured: {error}')
    results = run_dir / 'success' / 'results.json'
    doc.heading('Closed-loop success')
    if results.is_file():
        measured = json.loads(results.read_text())
        doc.table(['sampler', 'successes', 'episodes', 'rate'],
                  [(label, r['successes'], r['episodes'],
                    f'{100.0 * r["successes"] / max(r["episodes"], 1):.1f} %')
                   for label, r in measured.items()])
    else:
        doc.paragraph('not measured (bench/policy_success.py CHECKPOINT --out '
                      f'{run_dir / "success"} measures it)')
    doc.heading('Environment')
    doc.table(['what', 'value'], environment_rows())
    return doc
