"""The world model's losses and its quality figure, R² in patch space.

Predictor loss (the reference's dual loss): patch loss (weight 1.0, MSE between the decoded
predicted next frame and the observed next frame's patches; keeps predictions visual) +
latent loss (weight 0.2, MSE between predicted and observed next-frame encoder tokens, the
target detached; makes the encoder's features predictable) + action loss (weight 0.0 by
default, cross-entropy of an action classifier on the predicted features).
"""
from dataclasses import asdict, dataclass
from typing import Dict, Optional

import torch
import torch.nn.functional as F


@dataclass
class LossWeights:
    """Weights of the predictor's loss terms (the reference's current values)."""

    patch: float = 1.0
    latent: float = 0.2
    action: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def explained_variance(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """R² = 1 - SSE / SST in patch space, SST around the mean over all target elements.

    0 = no better than predicting the mean patch value, 1 = perfect, < 0 = worse than the mean.
    Returns nan when the target has no variance (nothing to explain).
    """
    predicted, target = predicted.detach().double(), target.detach().double()
    sst = ((target - target.mean()) ** 2).sum()
    if sst <= 0:
        return float('nan')
    return float(1.0 - ((predicted - target) ** 2).sum() / sst)


def predictor_losses(predicted_patches: torch.Tensor, target_patches: torch.Tensor,
                     predicted_latent: torch.Tensor, target_latent: torch.Tensor,
                     weights: LossWeights, action_logits: Optional[torch.Tensor] = None,
                     actions: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
    """Return {'patch', 'latent', 'action', 'total'} (tensors; 'total' carries gradients)."""
    patch = F.mse_loss(predicted_patches, target_patches)
    latent = F.mse_loss(predicted_latent, target_latent.detach())
    action = torch.zeros((), device=patch.device)
    if action_logits is not None and actions is not None:
        action = F.cross_entropy(action_logits, actions)
    total = weights.patch * patch + weights.latent * latent
    if weights.action:
        total = total + weights.action * action
    return {'patch': patch, 'latent': latent, 'action': action, 'total': total}
