"""Transformer pieces every model here shares: attention, the pre-norm block, sin-cos embeddings.

`Attention` is standard multi-head self-attention (one fused qkv projection) that can also hand
back its weights for introspection: the plain path calls `scaled_dot_product_attention` and
returns None for the weights, so looking costs nothing when nobody looks. `Block` is the
pre-norm (GPT-2 / ViT) block with a GELU MLP. The sin-cos embeddings are fixed (not learned), as
MAE uses them, so a model trained at one grid size keeps its positional code. Plain PyTorch.
"""
import math
from typing import Optional

import torch
from torch import nn
import torch.nn.functional as F


def sincos_pos_embed_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """Return fixed sin-cos embeddings (len(positions), dim) of 1-D positions."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0))
    angles = positions.double().reshape(-1, 1) * omega[None]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).float()


def sincos_pos_embed_2d(dim: int, grid_size: int) -> torch.Tensor:
    """Return fixed 2-D sin-cos embeddings (grid_size**2, dim), row-major as `patchify`."""
    coords = torch.arange(grid_size)
    rows, cols = torch.meshgrid(coords, coords, indexing='ij')
    return torch.cat([sincos_pos_embed_1d(dim // 2, rows.reshape(-1)),
                      sincos_pos_embed_1d(dim // 2, cols.reshape(-1))], dim=1)


class Attention(nn.Module):
    """Multi-head self-attention that can hand back its attention weights."""

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, attn_mask: Optional[torch.Tensor] = None,
                return_attn: bool = False):
        """Attend; return (out, weights (B, heads, L, L) or None).

        `attn_mask`: (L, L) bool, True = may attend; or float, added to the attention scores
        (-inf = may not attend), broadcastable to (B, heads, L, L).
        """
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads) \
            .permute(2, 0, 3, 1, 4)
        dropout = self.dropout if self.training else 0.0
        weights = None
        if return_attn:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
            if attn_mask is not None and attn_mask.dtype == torch.bool:
                scores = scores.masked_fill(~attn_mask, float('-inf'))
            elif attn_mask is not None:
                scores = scores + attn_mask
            weights = scores.softmax(dim=-1)
            out = F.dropout(weights, dropout, self.training) @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                                 dropout_p=dropout)
        return self.proj(out.transpose(1, 2).reshape(b, n, d)), weights


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0,
                 dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, attn_mask: Optional[torch.Tensor] = None,
                return_attn: bool = False):
        """Return (x, attention weights (B, heads, L, L) or None)."""
        attended, weights = self.attn(self.norm1(x), attn_mask, return_attn)
        x = x + attended
        return x + self.mlp(self.norm2(x)), weights
