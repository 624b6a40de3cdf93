"""The world model's losses and its quality figure, R² in patch space.

Predictor loss (the reference's dual loss): patch loss (weight 1.0, MSE between the decoded
predicted next frame and the observed next frame's patches; keeps predictions visual) +
latent loss (weight 1.0, MSE between each predictor head's predicted and the observed
next-frame encoder tokens, the target detached; the reference's 0.2 left the predictor a
sparse signal: only the dot's few patches carry patch loss, every token carries latent loss;
held-out R² 0.44 instead of 0.22 after 200 learner steps, bench/world_model_learning.py) +
action loss (weight 0.0 by default, cross-entropy of an action classifier on the predicted
features).
"""
from dataclasses import asdict, dataclass
from typing import Dict, Optional

import torch
import torch.nn.functional as F


@dataclass
class LossWeights:
    """Weights of the predictor's loss terms (the reference's current values)."""

    patch: float = 1.0
    latent: float = 1.0
    action: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def r2_score(sse: float, sst: float) -> float:
    """R² = 1 - SSE / SST: the one definition every R² figure of the package uses.

    0 = no better than predicting the mean, 1 = perfect, < 0 = worse than the mean. Returns nan
    when the target has no variance (SST <= 0: nothing to explain). Means work as well as sums
    (MSE / variance), both over the same elements.
    """
    return 1.0 - float(sse) / float(sst) if sst > 0 else float('nan')


def explained_variance(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """R² in patch space, SST around the mean over all target elements (`r2_score`)."""
    predicted, target = predicted.detach().double(), target.detach().double()
    return r2_score(((predicted - target) ** 2).sum(), ((target - target.mean()) ** 2).sum())


def predictor_losses(predicted_patches: torch.Tensor, target_patches: torch.Tensor,
                     head_latents: torch.Tensor, target_latent: torch.Tensor,
                     weights: LossWeights, action_logits: Optional[torch.Tensor] = None,
                     actions: Optional[torch.Tensor] = None,
                     bootstrap: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
    """Return {'patch', 'latent', 'action', 'total'} (tensors; 'total' carries gradients).

    predicted_patches: the decoded mean prediction (B, N, P); head_latents: every head's
    predicted tokens (B, K, N, D). The latent loss is each head's MSE, a head counting only
    the samples its `bootstrap` (B, K) weights pick (all when None): heads trained on
    different resamples agree where the data pin them down and disagree elsewhere.
    """
    patch = F.mse_loss(predicted_patches, target_patches)
    per_head = ((head_latents - target_latent.detach()[:, None]) ** 2).mean(dim=(2, 3))
    if bootstrap is None:
        latent = per_head.mean()
    else:
        latent = (per_head * bootstrap).sum() / bootstrap.sum().clamp(min=1.0)
    action = torch.zeros((), device=patch.device)
    if action_logits is not None and actions is not None:
        action = F.cross_entropy(action_logits, actions)
    total = weights.patch * patch + weights.latent * latent
    if weights.action:
        total = total + weights.action * action
    return {'patch': patch, 'latent': latent, 'action': action, 'total': total}
