"""The trainer node's settings: a bag folder that keeps growing, exports a kernel watches."""
from dataclasses import dataclass, replace
import json

from nanobot_ros.policy.modeling import PolicyConfig
from nanobot_ros.policy.processing import DEFAULT_ACTION_NAMES
from nanobot_ros.policy.serving_config import SamplingConfig
from nanobot_ros.policy.training import TrainerConfig
from nanobot_ros.robots.tasks import task_actions, task_config, TASKS

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
    # PolicyConfig fields beside `head`, a JSON object ('' = the defaults), as `nanobot train
    # --set` gives them: e.g. the room's {"image_size": 64, "patch_size": 16}
    policy: str = ''
    # the task whose robot's actions a categorical head indexes and the export names (room: the
    # JetBot's motor values); '' = the sim's moves
    task: str = ''
    encoder_from: str = TrainerConfig.encoder_from
    freeze_encoder: bool = TrainerConfig.freeze_encoder
    batch_size: int = TrainerConfig.batch_size
    lr: float = TrainerConfig.lr
    torch_threads: int = 1

    def validate(self) -> None:
        """Raise ValueError naming the setting that makes no sense."""
        if self.export_every < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError('export_every and batch_size must be >= 1 and lr > 0')
        SamplingConfig(self.sampler, self.ddim_steps)  # validates the sampler
        self.policy_config().validate()  # names the heads there are, unknown fields
        if self.task and self.task not in TASKS:
            raise ValueError(f'unknown task {self.task!r}; tasks: {sorted(TASKS)}')

    def policy_config(self) -> PolicyConfig:
        """Return the PolicyConfig: the defaults, `policy`'s fields, then `head`."""
        try:
            fields = json.loads(self.policy) if self.policy else {}
        except json.JSONDecodeError as error:
            raise ValueError(f'policy must be a JSON object of PolicyConfig fields: {error}') \
                from None
        if not isinstance(fields, dict):
            raise ValueError(f'policy must be a JSON object of PolicyConfig fields, got '
                             f'{self.policy!r}')
        return PolicyConfig.from_dict({**PolicyConfig().to_dict(), **fields, 'head': self.head})

    def action_names(self) -> tuple:
        """Return the names the export gives the action values (the task's robot's)."""
        return task_actions(task_config(self.task))[1] if self.task else DEFAULT_ACTION_NAMES

    def trainer_config(self) -> TrainerConfig:
        """Return the continual TrainerConfig: checkpoints in <run_dir>/policy, no W&B."""
        defaults = TrainerConfig()
        return TrainerConfig(
            data=[self.data_dir], run_dir=f'{self.run_dir}/policy',
            policy=self.policy_config(),
            discrete_actions=task_actions(task_config(self.task))[2] if self.task else (),
            encoder_from=self.encoder_from, freeze_encoder=self.freeze_encoder,
            batch_size=self.batch_size, lr=self.lr, continual=True, idle_timeout=None,
            wandb=False, progress=False,
            plateau=replace(defaults.plateau, max_epochs=CONTINUAL_MAX_EPOCHS))
