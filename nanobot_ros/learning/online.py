"""The world_model node's settings and the learner it builds from them.

`OnlineConfig` holds the node's settings beside the model's sizes and the loop's (LoopConfig);
`build_online_learner` makes the loop the node runs (learner, acting copy, optional levels),
resumed from its checkpoint when there is one, without ROS.
"""
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, List, Optional

from nanobot_ros.contract import ACTION_OVERRIDE
from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.hierarchy import Hierarchy, HierarchyConfig
from nanobot_ros.learning.persistence import WorldModelCheckpoints
from nanobot_ros.learning.world_model import WorldModel, WorldModelConfig, WorldModelSize


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


@dataclass
class OnlineLearner:
    """The node's loop and where its state came from."""

    loop: AdaptiveWorldModelLoop
    model_config: WorldModelConfig
    checkpoints: Optional[WorldModelCheckpoints]
    lr_sources: Dict[str, str]        # optimizer -> 'explicit' | 'checkpoint' | 'config'
    resumed_from: Optional[str]       # the checkpoint file read, None on a fresh start


def build_online_learner(settings: OnlineConfig, size: WorldModelSize, loop_config: LoopConfig,
                         hierarchy_config: HierarchyConfig, selector=None) -> OnlineLearner:
    """Build the learner, its acting copy and the levels; resume from the checkpoint if any.

    `selector` None explores by uncertainty. Raises ValueError for a checkpoint of another
    model configuration and CheckpointError when neither it nor its backup can be read.
    """
    model_config = WorldModelConfig.of_size(
        size, len(loop_config.actions), autoencoder_lr=settings.config_autoencoder_lr,
        predictor_lr=settings.config_predictor_lr)
    learner = WorldModel(model_config, seed=loop_config.seed)
    actor = WorldModel(model_config, seed=loop_config.seed)
    hierarchy = (Hierarchy(hierarchy_config, learner, len(loop_config.actions),
                           loop_config.batch_size, loop_config.buffer_capacity,
                           separate_actor=True, seed=loop_config.seed)
                 if hierarchy_config.hierarchy_levels else None)
    # Gradient details on exactly the steps that are logged.
    loop = AdaptiveWorldModelLoop(
        learner, replace(loop_config, detailed_metrics_interval=settings.log_interval),
        selector, actor, hierarchy)
    checkpoints = (WorldModelCheckpoints(Path(settings.checkpoint_dir).expanduser(),
                                         settings.checkpoint_name)
                   if settings.checkpoint_dir else None)
    lr_sources = learner.resolve_learning_rates(settings.autoencoder_lr, settings.predictor_lr,
                                                restored=False)
    resumed_from = None
    if checkpoints is not None:
        restored = checkpoints.restore(loop, settings.autoencoder_lr, settings.predictor_lr)
        if restored is not None:
            resumed_from, lr_sources = restored
    loop.sync_actor()
    return OnlineLearner(loop, model_config, checkpoints, lr_sources, resumed_from)
