"""`select_action(observation)` over a PyTorch policy (eager), with its matching processor."""
from typing import Optional

import numpy as np
import torch

from nanobot_ros.policy.modeling import Policy
from nanobot_ros.policy.format import head_sampler
from nanobot_ros.policy.processing import PolicyProcessor, processor_for, sampler_noise


class EagerPolicy:
    """`select_action(observation)` over a PyTorch policy (eager)."""

    def __init__(self, policy: Policy, sampler: str = 'ddim', ddim_steps: int = 10,
                 seed: int = 0, processor: Optional[PolicyProcessor] = None,
                 temperature: float = 0.0):
        self.policy = policy.eval()
        self.processor = processor or processor_for(policy.config)
        self.sampler, self.ddim_steps = sampler, ddim_steps
        self.rng = np.random.default_rng(seed)
        self.temperature = temperature

    @torch.no_grad()
    def select_action(self, observation: dict, noise: Optional[np.ndarray] = None) -> dict:
        """Return the action for one observation; `noise` overrides the sampler's draw."""
        inputs = {k: torch.from_numpy(v) for k, v in
                  self.processor.preprocess([observation]).items()}
        shape = self.policy.noise_shape(self.sampler, 1)
        if shape:
            inputs['noise'] = torch.from_numpy(
                noise if noise is not None else
                sampler_noise(head_sampler(self.policy.config, self.sampler), shape, self.rng,
                              self.temperature))
        values = self.policy.act(inputs['images'] if 'images' in inputs else None,
                                 inputs['text'], inputs.get('sensors'), inputs.get('surface'),
                                 inputs.get('noise'), self.sampler, self.ddim_steps)
        values = values[0].numpy()
        if not np.all(np.isfinite(values)):
            raise ValueError('the model produced non-finite actions')
        return self.processor.postprocess(values)
