"""Demonstration bags and trainer command lines for the trainer tests."""
from pathlib import Path
import subprocess
import sys

from nanobot_ros.policy.demonstrations import write_demonstration_bag
from nanobot_ros.robots.sim.target_task import TargetTaskConfig

TINY = ['--set', 'n_layer=1', '--set', 'n_head=2', '--set', 'n_embd=16',
        '--set', 'vision_embd=16', '--set', 'max_text_len=24']


def demo_bags(folder: Path, episodes: int = 30, bags: int = 1) -> Path:
    """Write `bags` expert bags of `episodes` episodes each into `folder`; return it."""
    for i in range(bags):
        write_demonstration_bag(folder / f'demos_{i}', TargetTaskConfig(),
                                range(1000 + i * episodes, 1000 + (i + 1) * episodes))
    return folder


def train_command(data: Path, run_dir: Path, *extra: str, launcher=()) -> list:
    """Return the `nanobot train` command line for a tiny model without W&B or bars."""
    return [*launcher, *([] if launcher else [sys.executable]), '-m', 'nanobot_ros.cli',
            'train', str(data), '--run-dir', str(run_dir), '--no-wandb', '--no-progress',
            *TINY, *extra]


def run(command: list, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run a command to completion, capturing its output as text."""
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
