"""What the predictor attends to, whether its predictions depend on the action, where gradients go.

Definitions (the reference's, over the LAST layer's attention, queries = the future-frame
tokens, averaged over heads, queries and batch; the sequence is
[frame_0][action_0] ... [frame_{T-1}][action_{T-1}][future], see `models/predictor.py`):

- APA, attention to the previous action: mass on the last action token (the action whose
  outcome is being predicted).
- ALF, attention to the last frame: mass on the tokens of frame T-1.
- TTAR, token-type attention ratio: mass on all action tokens / mass on all frame tokens.
- RI@16, recency index: mass on the 16 tokens just before the future segment.
- entropy: -sum p log p of each query's attention row (nats).
- uniform baseline: each figure for attention spread evenly over the keys a future query may
  see (every token: the future segment is the last), e.g. APA 1/L, entropy log L.

Counterfactuals: the predictor's patch loss on a batch with its true actions, with the actions
shuffled across the batch, and with every action replaced by action 0; a predictor that uses the
action has a higher loss on both. The action-sensitivity sweep predicts the next frame for every
action from the same states and reports the mean squared difference between the predictions of
two different actions (0 = the action changes nothing). Gradient flow: the share of the
predictor's gradient norm that lands on the action embedding; per-layer gradient norms and
update-to-weight ratios are in `WorldModel.train_step(detailed=True)`.
"""
from typing import Dict

import numpy as np
import torch

RECENT = 16


def token_layout(t: int, n: int) -> Dict[str, torch.Tensor]:
    """Token positions of a sequence of t history steps of n patches: frames, actions, future."""
    step = n + 1
    frames = torch.cat([torch.arange(k * step, k * step + n) for k in range(t)])
    actions = torch.arange(t) * step + n
    return {'frames': frames, 'actions': actions, 'last_action': actions[-1:],
            'last_frame': torch.arange((t - 1) * step, (t - 1) * step + n),
            'future': torch.arange(t * step, t * step + n)}


def attention_metrics(attention: torch.Tensor, t: int, n: int) -> Dict[str, float]:
    """APA, ALF, TTAR, RI@16, entropy and their uniform baselines from one layer's attention.

    attention: (B, heads, L, L) weights of the last layer, L = t * (n + 1) + n.
    """
    layout = token_layout(t, n)
    length = attention.shape[-1]
    if length != t * (n + 1) + n:
        raise ValueError(f'attention over {length} tokens is not {t} steps of {n} patches')
    rows = attention.detach().double()[:, :, layout['future']]  # (B, H, n, L)
    recent = torch.arange(t * (n + 1) - min(RECENT, t * (n + 1)), t * (n + 1))

    def mass(keys):
        return rows[..., keys].sum(dim=-1)

    frame_mass = mass(layout['frames'])
    action_mass = mass(layout['actions'])
    entropy = -(rows * rows.clamp(min=1e-12).log()).sum(dim=-1)
    figures = {'apa': mass(layout['last_action']).mean(), 'alf': mass(layout['last_frame']).mean(),
               'ttar': action_mass.mean() / frame_mass.mean().clamp(min=1e-12),
               'ri@16': mass(recent).mean(), 'entropy': entropy.mean()}
    figures = {name: float(value) for name, value in figures.items()}
    figures.update({'uniform/apa': 1.0 / length, 'uniform/alf': n / length,
                    'uniform/ttar': 1.0 / n, 'uniform/ri@16': len(recent) / length,
                    'uniform/entropy': float(np.log(length))})
    return figures


def attention_heatmap(attention: torch.Tensor, t: int, n: int, scale: int = 4) -> np.ndarray:
    """Return an rgb8 image of the future queries' attention (rows) over all tokens (columns).

    Head- and batch-averaged, normalised to the row maximum, `scale` pixels per cell; frame
    tokens in the red channel, action tokens in green (so they stand out), future in blue.
    """
    layout = token_layout(t, n)
    rows = attention.detach().float().mean(dim=(0, 1))[layout['future']]  # (n, L)
    rows = rows / rows.max(dim=-1, keepdim=True).values.clamp(min=1e-12)
    image = np.zeros(rows.shape + (3,), dtype=np.float32)
    values = rows.numpy()
    for channel, name in ((0, 'frames'), (1, 'actions'), (2, 'future')):
        keys = layout[name].numpy()
        image[:, keys, channel] = values[:, keys]
    image = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
    return (image * 255).round().astype(np.uint8)


def action_gradient_share(predictor: torch.nn.Module) -> float:
    """Share of the predictor's gradient norm on the action embedding (after backward)."""
    grads = {name: p.grad.detach().norm() for name, p in predictor.named_parameters()
             if p.grad is not None}
    if not grads:
        return 0.0
    total = torch.stack(list(grads.values())).norm()
    action = grads.get('action_embed.weight', torch.zeros(()))
    return float(action / total) if total > 0 else 0.0
