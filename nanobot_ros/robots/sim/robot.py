"""How the sim runs as a robot: frame rate, lockstep, watchdog, and the optional target task."""
from dataclasses import dataclass
from typing import Optional

from nanobot_ros.robots.sim.target_task import TargetTaskConfig
from nanobot_ros.robots.sim.task_family import task_preset
from nanobot_ros.robots.sim.toroidal_dot import ToroidalDotConfig


@dataclass
class SimConfig:
    """The sim node's settings beside the world's (ToroidalDotConfig)."""

    targets: str = ''              # comma-separated marker colours; non-empty = the target task
    task: str = ''                 # a task-family preset (task_family.py); replaces targets
    phrasings: str = 'train'       # the task family's instruction templates: train or heldout
    step_budget: int = TargetTaskConfig.step_budget
    view: str = TargetTaskConfig.view
    episode_limit: int = 0         # target task: stop after this many episodes (0 = never)
    announce_instruction: bool = True
    frame_rate: float = 30.0       # frames per second at most; 0 = as fast as answers (lockstep)
    lockstep: bool = True
    action_timeout: float = 0.5    # s without a valid action before the dot stays put
    frame_id: str = 'camera'

    def __post_init__(self):
        if self.frame_rate < 0:
            raise ValueError(f'frame_rate must be >= 0, got {self.frame_rate}')
        if self.frame_rate == 0 and not self.lockstep:
            raise ValueError('frame_rate 0 (as fast as answers) needs lockstep: true')
        if self.action_timeout <= 0:
            raise ValueError(f'action_timeout must be > 0, got {self.action_timeout}')
        if self.task and self.targets:
            raise ValueError(f'set task ({self.task!r}) or targets ({self.targets!r}), not both')

    def task_config(self, world: ToroidalDotConfig) -> Optional[TargetTaskConfig]:
        """Return the target task's config in `world`'s size, or None without targets."""
        if self.task:  # the preset brings its own world size, palette and budget
            return task_preset(self.task, phrasings=self.phrasings, seed=world.seed,
                               view=self.view)
        colors = tuple(t.strip() for t in self.targets.split(',') if t.strip())
        if not colors:
            return None
        return TargetTaskConfig(img_size=world.img_size, dot_radius=world.dot_radius,
                                move_pixels=world.move_pixels, colors=colors,
                                step_budget=self.step_budget, seed=world.seed, view=self.view)
