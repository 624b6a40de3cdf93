"""A fixed number of optimizer steps on random demonstration batches (LoRA, ternary QAT)."""
from typing import List

import numpy as np
import torch

from nanobot_ros.policy.demonstrations import DemoBuffer


def fit_steps(model: torch.nn.Module, buffer: DemoBuffer, steps: int, batch_size: int = 64,
              lr: float = 1e-3, seed: int = 0) -> List[float]:
    """Train `model`'s trainable parameters by its loss (`model(batch)`); return the losses."""
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr,
                                  weight_decay=0.0)
    rng = np.random.default_rng(seed)
    losses = []
    model.train()
    for _ in range(steps):
        loss = model(buffer.batch(rng.integers(0, len(buffer), batch_size)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses
