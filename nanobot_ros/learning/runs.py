"""The end of a training run: summary.json in the run folder and the W&B (offline) summary."""
import json
from pathlib import Path


def write_summary(run_dir, summary: dict, wandb_run=None) -> Path:
    """Write `summary` as run_dir/summary.json and close the W&B run with its scalar values."""
    path = Path(run_dir) / 'summary.json'
    path.write_text(json.dumps(summary, indent=2))
    if wandb_run is not None:
        wandb_run.summary.update({k: v for k, v in summary.items()
                                  if isinstance(v, (int, float, str))})
        wandb_run.finish()
    return path
