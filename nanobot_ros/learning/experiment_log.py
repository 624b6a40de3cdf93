"""Experiment tracking with Weights & Biases, offline by default, never needing an account.

The reference's metric names are logged as they are (reconstruction_loss,
predictor_training_loss, predictor_explained_variance, ...). Offline runs land in
`<directory>/wandb/offline-run-*`; upload them later with `wandb sync`. If wandb cannot start, the
logger says why once and does nothing, so learning never stops for logging.
"""
import logging
import os
from typing import Dict, Optional

log = logging.getLogger(__name__)


class ExperimentLog:
    """A thin wandb run: `log(metrics, step)`, `log_image(name, rgb)`, `finish()`."""

    def __init__(self, project: str, directory: str, config: dict, mode: str = 'offline',
                 name: Optional[str] = None, job_type: Optional[str] = None):
        self.run = None
        if not project:
            return
        try:
            import wandb
            os.makedirs(directory, exist_ok=True)
            self._wandb = wandb
            self.run = wandb.init(project=project, dir=directory, config=config,
                                  mode=os.environ.get('WANDB_MODE', mode), name=name,
                                  job_type=job_type,
                                  settings=wandb.Settings(silent=True))
        except Exception as error:  # noqa: B902 - any failure only disables logging
            log.warning('W&B logging disabled: %s', error)
            self.run = None

    @property
    def active(self) -> bool:
        return self.run is not None

    def log(self, metrics: Dict[str, float], step: Optional[int] = None) -> None:
        """Log scalar metrics (non-numbers are skipped)."""
        if self.run is not None:
            self.run.log({k: v for k, v in metrics.items()
                          if isinstance(v, (int, float))}, step=step)

    def log_image(self, name: str, image, step: Optional[int] = None) -> None:
        """Log an rgb8 image (e.g. the predictions visualization)."""
        if self.run is not None:
            self.run.log({name: self._wandb.Image(image)}, step=step)

    def finish(self, summary: Optional[dict] = None) -> None:
        """Close the run (flushes the offline files), with `summary`'s scalars as its summary."""
        if self.run is not None:
            self.run.summary.update({k: v for k, v in (summary or {}).items()
                                     if isinstance(v, (int, float, str))})
            self.run.finish()
            self.run = None
