"""The world_model node's settings beside the model's sizes and the loop's (LoopConfig)."""
from dataclasses import dataclass, field
from typing import List

from nanobot_ros.contract import ACTION_OVERRIDE
from nanobot_ros.learning.world_model import WorldModelConfig


@dataclass
class OnlineConfig:
    """Persistence, learning rates, timing rules, debug output and exploration of the node."""

    run_dir: str = ''                 # learning curve, last prediction grid, W&B files
    checkpoint_dir: str = ''          # '' = no persistence
    checkpoint_name: str = 'world_model'
    save_interval: int = 500          # learner steps between saves (0 = only at shutdown)
    # The learning rates of a fresh start, and explicit ones (0 = the saved, else the config's).
    config_autoencoder_lr: float = WorldModelConfig.autoencoder_lr
    config_predictor_lr: float = WorldModelConfig.predictor_lr
    autoencoder_lr: float = 0.0
    predictor_lr: float = 0.0
    action_names: List[str] = field(default_factory=lambda: ['action'])
    answer_deadline: float = 0.35     # no action later than this after the frame's stamp (s)
    sync_interval: int = 5            # learner steps between copies to the acting model
    debug_image_interval: int = 5     # frames between debug images (0 = never)
    log_interval: int = 100           # steps between W&B / console metrics
    wandb_project: str = ''           # '' = no W&B
    selector: str = 'uncertainty'     # or a runner selector (robots/sim/selectors.py)
    torch_threads: int = 1
    override_topic: str = ACTION_OVERRIDE.name  # a person's next action replaces the model's

    def __post_init__(self):
        if self.answer_deadline <= 0:
            raise ValueError(f'answer_deadline must be > 0, got {self.answer_deadline}')
        if self.sync_interval < 1 or self.log_interval < 1:
            raise ValueError('sync_interval and log_interval must be >= 1')
