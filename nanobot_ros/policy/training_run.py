"""One policy training run: its folder, checkpoint, experiment log, summary and plot.

The behaviour-cloning trainer (training.py) and the GRPO trainer (grpo.py) share it and keep
only their loops. The run folder holds the checkpoint (written atomically with a rolling
backup, policy/weights.py: weights, optimizer state, the config and the trainer's counters
under its own metadata section), `summary.json` at the end, the trainer's curve PNG and the
W&B files (learning/experiment_log.py: offline unless WANDB_MODE says otherwise). Only the
writer (rank 0 of a distributed run) writes; the other ranks only read the checkpoint.
"""
from dataclasses import asdict
import json
from pathlib import Path
from typing import Callable, Optional

from nanobot_ros.learning.experiment_log import ExperimentLog
from nanobot_ros.models.checkpoint import optimizer_to_tensors
from nanobot_ros.policy.modeling import Policy
from nanobot_ros.policy.weights import resume_into, save_policy

WANDB_PROJECT = 'nanobot_ros'


def jsonable(config) -> dict:
    """Return dataclass `config` as JSON-ready values (paths, tuple keys, ... as strings)."""
    return json.loads(json.dumps(_string_keys(asdict(config)), default=str))


def _string_keys(value):
    """Return `value` with every dict key a string (a task's templates are keyed by tuples)."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_string_keys(v) for v in value]
    return value


class TrainingRun:
    """The run folder of one trainer.

    `section` names the trainer's counters in the checkpoint's metadata, `job_type` its W&B
    job; `config` is the trainer's config dataclass (saved with the log).
    """

    def __init__(self, run_dir, checkpoint_name: str, section: str, job_type: str, config,
                 wandb: bool, writer: bool = True):
        self.run_dir = Path(run_dir)
        self.checkpoint_path = self.run_dir / checkpoint_name
        self.section, self.job_type = section, job_type
        self.config = jsonable(config)
        self.wandb = wandb and writer
        self.writer = writer
        self.experiment: Optional[ExperimentLog] = None

    def resume(self, policy: Policy, optimizer) -> Optional[dict]:
        """Load the checkpoint (or its backup) into policy and optimizer; return the counters.

        None when there is no checkpoint yet; ConfigMismatchError for another topology.
        """
        return resume_into(self.checkpoint_path, policy, optimizer, self.section)

    def save(self, policy: Policy, optimizer, counters: dict) -> Optional[Path]:
        """Write the checkpoint with `counters` and the optimizer state; return its path."""
        if not self.writer:
            return None
        tensors, optimizer_meta = optimizer_to_tensors(optimizer)
        return save_policy(self.checkpoint_path, policy,
                           {f'optimizer.{k}': v for k, v in tensors.items()},
                           {self.section: dict(counters, optimizer=optimizer_meta)})

    def start(self) -> None:
        """Make the run folder and start the experiment log (when asked for)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.wandb:
            self.experiment = ExperimentLog(WANDB_PROJECT, str(self.run_dir), self.config,
                                            job_type=self.job_type)

    def log(self, values: dict, step: int) -> None:
        if self.experiment is not None:
            self.experiment.log(values, step=step)

    def finish(self, summary: dict, plot: Callable[[Path], None]) -> dict:
        """Draw `plot(run_dir)`, write summary.json, close the log with it; return `summary`."""
        if self.writer:
            plot(self.run_dir)
            (self.run_dir / 'summary.json').write_text(json.dumps(summary, indent=2))
            if self.experiment is not None:
                self.experiment.finish(summary)
        return summary
