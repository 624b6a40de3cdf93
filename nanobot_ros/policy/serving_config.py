"""How the kernel (ONNX Runtime) and policy (PyTorch) nodes serve a model: their settings."""
from dataclasses import dataclass


@dataclass
class SamplingConfig:
    """How a diffusion policy samples its action: the sampler and its DDIM steps."""

    sampler: str = 'ddim'         # ddim or ddpm
    ddim_steps: int = 10

    def __post_init__(self):
        if self.sampler not in ('ddim', 'ddpm'):
            raise ValueError(f'sampler must be ddim or ddpm, got {self.sampler!r}')


@dataclass
class ServingConfig:
    """When an answer cannot be trusted and the safe action goes out instead."""

    stale_after: float = 0.5      # s after which a frame or telemetry is too old to act on
    control_period: float = 0.2   # s without a frame before the watchdog sends stop
    reload_period: float = 0.5    # s between looks at the model file
    safe_index: int = 0           # action index of the safe action
    seed: int = 0                 # seed of the sampler noise (diffusion, sampled categorical)
    # a categorical head: 0 takes the most likely action, T > 0 samples softmax(logits / T)
    # (GRPO trains the policy as sampled at 1)
    temperature: float = 0.0

    def __post_init__(self):
        for name in ('stale_after', 'control_period', 'reload_period'):
            if getattr(self, name) <= 0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)}')
        if not 0 <= self.temperature < float('inf'):
            raise ValueError(f'temperature must be >= 0 and finite, got {self.temperature}')


@dataclass
class OnnxServingConfig:
    """The kernel's model file and ONNX Runtime threads.

    One thread each and no spinning leave the CPU to the camera, recorder and trainer; raise
    them on a machine with cores to spare.
    """

    model_path: str = 'exports/policy.onnx'
    intra_op_num_threads: int = 1
    inter_op_num_threads: int = 1
    allow_spinning: bool = False

    def __post_init__(self):
        if self.intra_op_num_threads < 1 or self.inter_op_num_threads < 1:
            raise ValueError(f'thread counts must be >= 1, got intra '
                             f'{self.intra_op_num_threads}, inter {self.inter_op_num_threads}')


@dataclass
class EagerServingConfig:
    """The policy node's checkpoint and PyTorch sampling."""

    model_path: str = 'exports/policy.safetensors'
    sampler: str = SamplingConfig.sampler
    ddim_steps: int = SamplingConfig.ddim_steps
    torch_threads: int = 1
