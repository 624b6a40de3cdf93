"""TransformerActionConditionedPredictor: next-frame features from past frames and actions.

The reference's predictor: a causal transformer over a sequence that interleaves each frame's
feature tokens (one per image patch, from the MAE encoder) with a token for the action taken
after that frame, followed by one query token per patch for the frame to come:

    [frame_0 patches][action_0] [frame_1 patches][action_1] ... [frame_T patches][action_T]
    [future queries]

Attention is causal by segment: a token sees every token of its own segment and of the earlier
ones, never a later one, so frame t's tokens cannot peek at the action taken after it. The
future queries start from the last frame's tokens (the world mostly stays as it is) plus the
embedding of the action whose outcome they predict, and their
outputs are the predicted next frame's feature tokens, which the MAE decoder turns into pixels.

The history is clipped to the newest frames that fit `token_capacity` (the reference's 4096)
and `max_history`. `forward(..., return_attn=True)` also returns every layer's attention
weights (B, heads, L, L) for introspection.
"""
from dataclasses import asdict, dataclass, field
from typing import List, Optional, Tuple

import torch
from torch import nn

from nanobot_ros.models.advection import AdvectionShape, sub_patch_logits
from nanobot_ros.models.transformer import Block, sincos_pos_embed_1d, sincos_pos_embed_2d

# Segment kinds, as type embeddings: frame tokens, action tokens, future query tokens.
FRAME, ACTION, FUTURE = 0, 1, 2
# Adam moves a weight by about lr per step; a relative bias must move by a few units (a softmax
# preference) within a few hundred steps, so it is stored divided by this gain.
RELATIVE_BIAS_GAIN = 20.0
# Spread of the heads' initial weights: their initial disagreement (the explorer's uncertainty
# about what has not been learned yet).
HEAD_INIT_STD = 0.05
# Initial logit of the advection kernels' zero-displacement tap: the moved frame starts as
# mostly the last frame (copying is a fair first guess), while every other tap keeps enough
# weight (about 1/50) to receive a gradient.
ADVECTION_STAY_LOGIT = 3.0


@dataclass
class PredictorConfig:
    """Sizes of the predictor; `feature_dim`/`num_patches` must match the encoder."""

    feature_dim: int = 96
    num_patches: int = 196
    num_actions: int = 2
    embed_dim: int = 96
    depth: int = 2
    num_heads: int = 4
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    max_history: int = 2
    token_capacity: int = 4096
    heads: int = field(default=4, metadata={'description': (
        'output heads on the shared transformer; the prediction is their mean, their '
        'disagreement the uncertainty exploration maximises')})
    advection_x: int = field(default=0, metadata={'description': (
        'pixels the next frame may move the last one horizontally, per patch (0 with '
        'advection_y 0 = the decoder alone paints the prediction; models/advection.py)')})
    advection_y: int = field(default=0, metadata={'description': (
        'pixels the next frame may move the last one vertically, per patch')})
    advection_subdivision: int = field(default=1, metadata={'description': (
        'each patch moves as s x s sub-patches with kernels of their own (1 = one kernel '
        'pair per patch; the room uses 2: a turn moves a 16 px patch unevenly)')})

    def validate(self) -> None:
        """Raise ValueError naming the first inconsistent setting."""
        if self.embed_dim % self.num_heads or self.embed_dim % 4:
            raise ValueError(f'embed_dim {self.embed_dim} must be divisible by 4 and by '
                             f'num_heads {self.num_heads}')
        if self.num_actions < 1:
            raise ValueError(f'num_actions must be >= 1, got {self.num_actions}')
        if self.max_history < 1:
            raise ValueError(f'max_history must be >= 1, got {self.max_history}')
        if self.heads < 1:
            raise ValueError(f'heads must be >= 1, got {self.heads}')
        if self.advection_x < 0 or self.advection_y < 0:
            raise ValueError(f'advection_x/y must be >= 0, got {self.advection_x}, '
                             f'{self.advection_y}')
        if self.advection_subdivision < 1:
            raise ValueError(f'advection_subdivision must be >= 1, got '
                             f'{self.advection_subdivision}')
        if self.token_capacity < 2 * self.num_patches + 1:
            raise ValueError(f'token_capacity {self.token_capacity} cannot hold one frame, one '
                             f'action and the future queries ({2 * self.num_patches + 1})')

    @property
    def advection(self) -> AdvectionShape:
        return AdvectionShape(self.advection_x, self.advection_y)

    def history_that_fits(self, frames: int) -> int:
        """Return how many of the newest `frames` fit max_history and token_capacity."""
        per_frame = self.num_patches + 1
        fits = (self.token_capacity - self.num_patches) // per_frame
        return max(1, min(frames, self.max_history, fits))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> 'PredictorConfig':
        """Rebuild a saved config; one saved before heads existed had a single head."""
        return cls(**{'heads': 1, **values})


def segment_causal_mask(segment_ids: torch.Tensor) -> torch.Tensor:
    """Return (L, L) bool, True where query i may attend key j: segment(j) <= segment(i)."""
    return segment_ids[None, :] <= segment_ids[:, None]


class TransformerActionConditionedPredictor(nn.Module):
    """Predicts the next frame's feature tokens from frame-token/action-token history."""

    def __init__(self, config: PredictorConfig = PredictorConfig()):
        super().__init__()
        config.validate()
        self.config = config
        d = config.embed_dim
        self.input_proj = nn.Linear(config.feature_dim, d)
        self.action_embed = nn.Embedding(config.num_actions, d)
        self.type_embed = nn.Embedding(3, d)
        grid = int(round(config.num_patches ** 0.5))
        if grid * grid == config.num_patches:
            patch_pos = sincos_pos_embed_2d(d, grid)
        else:
            patch_pos = sincos_pos_embed_1d(d, torch.arange(config.num_patches))
        self.register_buffer('patch_pos', patch_pos, persistent=False)
        # Time step of each segment; the future is step max_history.
        self.register_buffer('time_pos', sincos_pos_embed_1d(
            d, torch.arange(config.max_history + 1)), persistent=False)
        # A learned bias per head and spatial offset between two patch tokens (any frames),
        # added to their attention score (Swin's relative position bias): a head can attend
        # "one patch to the left" from the start instead of having to learn it from the
        # positional codes. Action tokens get none. Offsets index a (2g-1) x (2g-1) table.
        index = torch.arange(config.num_patches)
        if grid * grid == config.num_patches:
            rows, cols, span = index // grid, index % grid, 2 * grid - 1
        else:  # one row of patches
            rows, cols, span = torch.zeros_like(index), index, 2 * config.num_patches - 1
        offset = ((rows[:, None] - rows[None] + span // 2) * span
                  + cols[:, None] - cols[None] + span // 2)
        self.register_buffer('patch_offset', offset, persistent=False)
        self.relative_bias = nn.Parameter(torch.zeros(config.depth, config.num_heads,
                                                      span * span))
        self.blocks = nn.ModuleList(Block(d, config.num_heads, config.mlp_ratio, config.dropout)
                                    for _ in range(config.depth))
        self.norm = nn.LayerNorm(d)
        # One projection per head (rows k*feature_dim.. of the weight), random in antithetic
        # pairs: their mean starts at exactly "nothing changes", while the heads disagree about
        # everything until training makes them agree where the data pins the outcome down.
        self.output_proj = nn.Linear(d, config.feature_dim * config.heads)
        weight = torch.randn(config.heads // 2, config.feature_dim, d) * HEAD_INIT_STD
        weight = torch.cat([weight, -weight] + ([torch.zeros(1, config.feature_dim, d)]
                                                if config.heads % 2 else []))
        with torch.no_grad():
            self.output_proj.weight.copy_(weight.reshape(-1, d))
        nn.init.zeros_(self.output_proj.bias)
        # Per sub-patch (advection_subdivision ** 2 of them a patch): the advection kernels'
        # and mask's logits (models/advection.py).
        shape, parts = config.advection, config.advection_subdivision ** 2
        self.motion_head = nn.Linear(d, parts * shape.logits_per_patch) \
            if shape.enabled else None
        if self.motion_head is not None:
            nn.init.zeros_(self.motion_head.weight)
            bias = torch.zeros(parts, shape.logits_per_patch)
            bias[:, shape.radius_x] = ADVECTION_STAY_LOGIT
            bias[:, 2 * shape.radius_x + 1 + shape.radius_y] = ADVECTION_STAY_LOGIT
            with torch.no_grad():
                self.motion_head.bias.copy_(bias.reshape(-1))

    def clip_history(self, features: torch.Tensor, actions: torch.Tensor):
        """Keep the newest frames that fit the token capacity and max_history."""
        keep = self.config.history_that_fits(features.shape[1])
        return features[:, -keep:], actions[:, -keep:]

    def _check(self, features: torch.Tensor, actions: torch.Tensor) -> None:
        c = self.config
        if features.ndim != 4 or features.shape[2:] != (c.num_patches, c.feature_dim):
            raise ValueError(f'features must be (B, T, {c.num_patches}, {c.feature_dim}), got '
                             f'{tuple(features.shape)}')
        if actions.shape != features.shape[:2]:
            raise ValueError(f'actions must be (B, T) = {tuple(features.shape[:2])}, got '
                             f'{tuple(actions.shape)}')
        if actions.numel() and (actions.min() < 0 or actions.max() >= c.num_actions):
            raise ValueError(f'action indices must be in [0, {c.num_actions}), got '
                             f'{actions.min().item()}..{actions.max().item()}')

    def forward(self, features: torch.Tensor, actions: torch.Tensor,
                return_attn: bool = False
                ) -> Tuple[torch.Tensor, Optional[List[torch.Tensor]]]:
        """Predict the next frame's features.

        features: (B, T, N, feature_dim) encoder tokens of the last T frames, oldest first.
        actions:  (B, T) long, the action taken after each of those frames.
        Returns (predicted features (B, N, feature_dim): the heads' mean, per-layer attention
        or None).
        """
        heads, attention = self.forward_heads(features, actions, return_attn)
        return heads.mean(dim=1), attention

    def forward_heads(self, features: torch.Tensor, actions: torch.Tensor,
                      return_attn: bool = False
                      ) -> Tuple[torch.Tensor, Optional[List[torch.Tensor]]]:
        """`forward`, but every head's prediction: (B, heads, N, feature_dim)."""
        heads, _, attention = self.forward_motion(features, actions, return_attn)
        return heads, attention

    def forward_motion(self, features: torch.Tensor, actions: torch.Tensor,
                       return_attn: bool = False):
        """`forward_heads` plus the advection logits (B, N * s * s, logits_per_patch), or None.

        s = advection_subdivision: the logits of the image's sub-patches, row-major over the
        finer grid (what `advect` takes), each patch's token predicting its s x s.
        """
        self._check(features, actions)
        features, actions = self.clip_history(features, actions)
        b, t, n, _ = features.shape
        c = self.config
        steps = torch.arange(c.max_history - t, c.max_history, device=features.device)
        frames = (self.input_proj(features) + self.patch_pos
                  + self.time_pos[steps][None, :, None] + self.type_embed.weight[FRAME])
        acts = (self.action_embed(actions) + self.time_pos[steps][None]
                + self.type_embed.weight[ACTION])
        # The queries also carry the action whose outcome they predict, so the first layer can
        # already look where that action moves things (else it must first fetch the action).
        future = (self.input_proj(features[:, -1]) + self.patch_pos
                  + self.time_pos[c.max_history] + self.type_embed.weight[FUTURE]
                  + self.action_embed(actions[:, -1:]))
        history = torch.cat([frames, acts.unsqueeze(2)], dim=2).reshape(b, t * (n + 1), -1)
        x = torch.cat([history, future], dim=1)
        # Segments: frame t = 2t, action t = 2t + 1, future = 2T.
        segments = torch.cat([
            torch.arange(2 * t, device=x.device).repeat_interleave(
                torch.tensor([n, 1], device=x.device).repeat(t)),
            torch.full((n,), 2 * t, device=x.device)])
        allowed = segment_causal_mask(segments)
        # Patch index of every token (-1 = action token), for the relative bias.
        patch = torch.cat([torch.arange(n + 1, device=x.device).repeat(t),
                           torch.arange(n, device=x.device)])
        patch[torch.arange(1, t + 1, device=x.device) * (n + 1) - 1] = -1
        is_patch = patch >= 0
        pair = is_patch[:, None] & is_patch[None]
        index = self.patch_offset[patch.clamp(min=0)][:, patch.clamp(min=0)]
        attention = [] if return_attn else None
        for layer, block in enumerate(self.blocks):
            bias = RELATIVE_BIAS_GAIN * self.relative_bias[layer][:, index] * pair
            mask = bias.masked_fill(~allowed, float('-inf'))
            x, weights = block(x, mask, return_attn)
            if return_attn:
                attention.append(weights)
        out = self.norm(x[:, -n:])
        delta = self.output_proj(out).reshape(b, n, c.heads, -1)
        motion = self.motion_head(out) if self.motion_head is not None else None
        if motion is not None:
            motion = sub_patch_logits(motion, c.advection_subdivision)
        return features[:, -1, None] + delta.transpose(1, 2), motion, attention


class ActionClassifier(nn.Module):
    """Guesses the action from (current, predicted next) features: the optional action loss."""

    def __init__(self, feature_dim: int, num_actions: int, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * feature_dim, hidden), nn.GELU(),
                                 nn.Linear(hidden, num_actions))

    def forward(self, current: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
        """Return action logits (B, num_actions) from mean-pooled token pairs."""
        return self.net(torch.cat([current.mean(dim=1), predicted.mean(dim=1)], dim=-1))
