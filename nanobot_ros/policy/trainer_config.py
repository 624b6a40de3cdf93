"""The trainer node's settings: a bag folder that keeps growing, exports a kernel watches."""
from dataclasses import dataclass, replace

from nanobot_ros.policy.modeling import PolicyConfig
from nanobot_ros.policy.serving_config import SamplingConfig
from nanobot_ros.policy.training import TrainerConfig

# Beside a running robot training never ends on its own: the plateau only pauses it.
CONTINUAL_MAX_EPOCHS = 10**6


@dataclass
class ContinualConfig:
    """Where the bags are, where checkpoints and exports go, and how to train."""

    data_dir: str = 'saved/sessions'
    run_dir: str = 'runs/trainer'
    export_path: str = 'exports/policy.onnx'
    export_every: int = 5
    sampler: str = SamplingConfig.sampler
    ddim_steps: int = SamplingConfig.ddim_steps
    head: str = 'diffusion'
    batch_size: int = TrainerConfig.batch_size
    lr: float = TrainerConfig.lr
    torch_threads: int = 1

    def validate(self) -> None:
        """Raise ValueError naming the setting that makes no sense."""
        if self.export_every < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError('export_every and batch_size must be >= 1 and lr > 0')
        SamplingConfig(self.sampler, self.ddim_steps)  # validates the sampler
        PolicyConfig(head=self.head).validate()  # names the heads there are

    def trainer_config(self) -> TrainerConfig:
        """Return the continual TrainerConfig: checkpoints in <run_dir>/policy, no W&B."""
        defaults = TrainerConfig()
        return TrainerConfig(
            data=[self.data_dir], run_dir=f'{self.run_dir}/policy',
            policy=PolicyConfig(head=self.head),
            batch_size=self.batch_size, lr=self.lr, continual=True, idle_timeout=None,
            wandb=False, progress=False,
            plateau=replace(defaults.plateau, max_epochs=CONTINUAL_MAX_EPOCHS))
