"""Vision Transformer pieces and the masked autoencoder (MAE) the world model sees through.

`MaskedAutoencoderViT` follows the reference's autoencoder: the image is cut into square
patches, a ViT encoder with fixed 2-D sin-cos positional embeddings turns the visible patches
into tokens, and a light decoder (a few narrow blocks and an MLP head) rebuilds every patch's
pixels. During training a random fraction of the patches is hidden (mask ratio drawn from
[mask_ratio_min, mask_ratio_max] = [0.3, 0.85] by default).

The encoder is its own module, `ViTEncoder`, which the MAE composes (`mae.encoder`) and other
models hold alone as a vision tokenizer (the policy): `encoder(images)` (or the MAE's
`encode(images)`) returns one token per patch, (B, num_patches, embed_dim). Either loads the
tensors the other wrote before the split (load-state-dict pre-hooks map the key names).
Images are float tensors (B, C, H, W) with values in [0, 1] (`images_to_tensor` converts uint8
(B, H, W, C) arrays). Plain PyTorch; no rclpy here.
"""
from dataclasses import asdict, dataclass
import math
from typing import Optional, Tuple

import numpy as np
import torch
from torch import nn

from nanobot_ros.models.transformer import Block, sincos_pos_embed_2d


@dataclass
class ViTConfig:
    """Sizes of the MAE; the defaults train on two CPU cores."""

    img_size: int = 224
    patch_size: int = 16
    in_chans: int = 3
    embed_dim: int = 96
    depth: int = 3
    num_heads: int = 4
    mlp_ratio: float = 4.0
    decoder_dim: int = 64
    decoder_depth: int = 1
    decoder_num_heads: int = 4
    mask_ratio_min: float = 0.3
    mask_ratio_max: float = 0.85

    def validate(self) -> None:
        """Raise ValueError naming the first inconsistent size."""
        if self.img_size % self.patch_size:
            raise ValueError(f'img_size {self.img_size} is not a multiple of patch_size '
                             f'{self.patch_size}')
        for dim, heads, name in ((self.embed_dim, self.num_heads, 'embed_dim'),
                                 (self.decoder_dim, self.decoder_num_heads, 'decoder_dim')):
            if dim % heads or dim % 4:
                raise ValueError(f'{name} {dim} must be divisible by 4 and by its head count '
                                 f'{heads}')
        if not 0.0 <= self.mask_ratio_min <= self.mask_ratio_max < 1.0:
            raise ValueError(f'mask ratios must satisfy 0 <= min <= max < 1, got '
                             f'{self.mask_ratio_min}, {self.mask_ratio_max}')

    @property
    def grid_size(self) -> int:
        return self.img_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid_size ** 2

    @property
    def patch_dim(self) -> int:
        return self.patch_size ** 2 * self.in_chans

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> 'ViTConfig':
        """Build a config from `to_dict()` output; unknown keys are an error."""
        return cls(**values)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """Turn uint8 images (B, H, W, C) or (H, W, C) into float (B, C, H, W) in [0, 1]."""
    array = np.asarray(images)
    if array.dtype != np.uint8:
        raise ValueError(f'images must be uint8, got {array.dtype}')
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4:
        raise ValueError(f'images must be (B, H, W, C), got shape {array.shape}')
    return torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).float() / 255.0


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, num_patches, patch_size**2 * C), patches in row-major order."""
    b, c, h, w = images.shape
    if h % patch_size or w % patch_size:
        raise ValueError(f'image {h}x{w} is not a multiple of patch size {patch_size}')
    gh, gw = h // patch_size, w // patch_size
    x = images.reshape(b, c, gh, patch_size, gw, patch_size)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, gh * gw, patch_size * patch_size * c)


def unpatchify(patches: torch.Tensor, patch_size: int, channels: int = 3) -> torch.Tensor:
    """Invert `patchify` for a square image: (B, N, p*p*C) -> (B, C, H, W)."""
    b, n, _ = patches.shape
    grid = int(round(math.sqrt(n)))
    if grid * grid != n:
        raise ValueError(f'{n} patches do not form a square grid')
    x = patches.reshape(b, grid, grid, patch_size, patch_size, channels)
    size = grid * patch_size
    return x.permute(0, 5, 1, 3, 2, 4).reshape(b, channels, size, size)


def random_masking(tokens: torch.Tensor, mask_ratio: float,
                   generator: Optional[torch.Generator] = None):
    """Keep a random (1 - mask_ratio) share of each sample's tokens.

    Returns (kept tokens (B, K, D), mask (B, N) with 1 = hidden, ids_restore (B, N)) as in MAE:
    `ids_restore` puts kept tokens followed by mask tokens back into patch order.
    """
    b, n, d = tokens.shape
    keep = max(1, int(round(n * (1.0 - mask_ratio))))
    noise = torch.rand(b, n, generator=generator, device=tokens.device)
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :keep]
    kept = torch.gather(tokens, 1, ids_keep.unsqueeze(-1).expand(-1, -1, d))
    mask = torch.ones(b, n, device=tokens.device)
    mask[:, :keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    return kept, mask, ids_restore


class ViTEncoder(nn.Module):
    """Patches -> ViT tokens: patch embedding, fixed 2-D sin-cos positions, blocks, norm."""

    def __init__(self, config: ViTConfig = ViTConfig(), init_weights: bool = True):
        """`init_weights=False` leaves the init to a composing model (the MAE's one pass)."""
        super().__init__()
        config.validate()
        self.config = config
        p, d = config.patch_size, config.embed_dim
        self.patch_embed = nn.Conv2d(config.in_chans, d, kernel_size=p, stride=p)
        # Fixed, not learned: buffers travel with state_dict but get no gradient.
        self.register_buffer('pos_embed', sincos_pos_embed_2d(d, config.grid_size)[None],
                             persistent=False)
        self.blocks = nn.ModuleList(Block(d, config.num_heads, config.mlp_ratio)
                                    for _ in range(config.depth))
        self.norm = nn.LayerNorm(d)
        if init_weights:
            self.apply(_init_weights)
        self.register_load_state_dict_pre_hook(_drop_decoder_keys)

    def _check_images(self, images: torch.Tensor) -> None:
        c, s = self.config.in_chans, self.config.img_size
        if images.ndim != 4 or tuple(images.shape[1:]) != (c, s, s):
            raise ValueError(f'expected images (B, {c}, {s}, {s}), got {tuple(images.shape)}')

    def encode_masked(self, images: torch.Tensor, mask_ratio: float,
                      generator: Optional[torch.Generator] = None):
        """Encode the visible patches; return (tokens (B, K, D), mask (B, N), ids_restore)."""
        self._check_images(images)
        tokens = self.patch_embed(images).flatten(2).transpose(1, 2) + self.pos_embed
        if mask_ratio > 0:
            tokens, mask, ids_restore = random_masking(tokens, mask_ratio, generator)
        else:
            b, n, _ = tokens.shape
            mask = torch.zeros(b, n, device=tokens.device)
            ids_restore = torch.arange(n, device=tokens.device).expand(b, n)
        for block in self.blocks:
            tokens, _ = block(tokens)
        return self.norm(tokens), mask, ids_restore

    def forward(self, images: torch.Tensor, mask_ratio: float = 0.0) -> torch.Tensor:
        """Return patch tokens (B, K, embed_dim); K = num_patches when mask_ratio is 0."""
        return self.encode_masked(images, mask_ratio)[0]


# A whole MAE's tensors that an encoder alone has not: policies written before the encoder
# was its own module held a whole MAE (keys 'vision.decoder_*', 'vision.mask_token').
MAE_DECODER_KEYS = ('decoder_', 'mask_token')
# The encoder's tensors, which an MAE written before the split kept at its top level.
ENCODER_KEYS = ('patch_embed.', 'blocks.', 'norm.')


def _drop_decoder_keys(module, state_dict, prefix, *args) -> None:
    """Load-state-dict pre-hook: an encoder loads from a whole (older) MAE's tensors."""
    for key in [k for k in state_dict if k.startswith(prefix)]:
        if key[len(prefix):].startswith(MAE_DECODER_KEYS):
            del state_dict[key]


def _nest_encoder_keys(module, state_dict, prefix, *args) -> None:
    """Load-state-dict pre-hook: an MAE loads an older checkpoint's top-level encoder keys."""
    for key in [k for k in state_dict if k.startswith(prefix)]:
        if key[len(prefix):].startswith(ENCODER_KEYS):
            state_dict[prefix + 'encoder.' + key[len(prefix):]] = state_dict.pop(key)


class MaskedAutoencoderViT(nn.Module):
    """ViT encoder + light decoder trained to rebuild hidden patches (He et al., MAE)."""

    def __init__(self, config: ViTConfig = ViTConfig()):
        super().__init__()
        config.validate()
        self.config = config
        dd = config.decoder_dim
        self.encoder = ViTEncoder(config, init_weights=False)
        self.decoder_embed = nn.Linear(config.embed_dim, dd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.register_buffer('decoder_pos_embed',
                             sincos_pos_embed_2d(dd, config.grid_size)[None], persistent=False)
        self.decoder_blocks = nn.ModuleList(Block(dd, config.decoder_num_heads, 2.0)
                                            for _ in range(config.decoder_depth))
        self.decoder_norm = nn.LayerNorm(dd)
        self.decoder_head = nn.Sequential(nn.Linear(dd, dd * 2), nn.GELU(),
                                          nn.Linear(dd * 2, config.patch_dim))
        # One pass over encoder and decoder, in the order of the MAE before the split: a seed
        # gives the weights it gave then.
        self.apply(_init_weights)
        # The last layer starts at zero: a fresh decoder draws an all-black frame, the mean of
        # a mostly black camera view, instead of noise it first has to unlearn (the dot world's
        # quality gate opens sooner: docs/world_model.md, "What makes it learn the dot world
        # fast").
        nn.init.zeros_(self.decoder_head[-1].weight)
        nn.init.zeros_(self.decoder_head[-1].bias)
        nn.init.normal_(self.mask_token, std=0.02)
        self.register_load_state_dict_pre_hook(_nest_encoder_keys)

    def sample_mask_ratio(self, generator: Optional[torch.Generator] = None) -> float:
        """Draw a training mask ratio uniformly from [mask_ratio_min, mask_ratio_max]."""
        low, high = self.config.mask_ratio_min, self.config.mask_ratio_max
        return low + (high - low) * float(torch.rand(1, generator=generator))

    def patchify(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> target patches (B, num_patches, patch_dim)."""
        return patchify(images, self.config.patch_size)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """Patches (B, num_patches, patch_dim) -> images (B, C, H, W)."""
        return unpatchify(patches, self.config.patch_size, self.config.in_chans)

    def encode_masked(self, images: torch.Tensor, mask_ratio: float,
                      generator: Optional[torch.Generator] = None):
        """Encode the visible patches; return (tokens (B, K, D), mask (B, N), ids_restore)."""
        return self.encoder.encode_masked(images, mask_ratio, generator)

    def encode(self, images: torch.Tensor, mask_ratio: float = 0.0) -> torch.Tensor:
        """Return patch tokens (B, K, embed_dim); K = num_patches when mask_ratio is 0."""
        return self.encoder(images, mask_ratio)

    def decode(self, tokens: torch.Tensor,
               ids_restore: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Rebuild every patch's pixels (B, N, patch_dim) from encoder tokens.

        With `ids_restore` (from `encode_masked`) the hidden patches get the mask token;
        without it `tokens` must hold all num_patches tokens in patch order.
        """
        x = self.decoder_embed(tokens)
        n = self.config.num_patches
        if ids_restore is not None:
            b, kept, dd = x.shape
            fill = self.mask_token.expand(b, n - kept, dd)
            x = torch.cat([x, fill], dim=1)
            x = torch.gather(x, 1, ids_restore.unsqueeze(-1).expand(-1, -1, dd))
        elif x.shape[1] != n:
            raise ValueError(f'decode needs {n} tokens without ids_restore, got {x.shape[1]}')
        x = x + self.decoder_pos_embed
        for block in self.decoder_blocks:
            x, _ = block(x)
        return self.decoder_head(self.decoder_norm(x))

    def forward(self, images: torch.Tensor, mask_ratio: float = 0.0,
                generator: Optional[torch.Generator] = None
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (predicted patches (B, N, patch_dim), mask (B, N), latent tokens (B, K, D))."""
        latent, mask, ids_restore = self.encode_masked(images, mask_ratio, generator)
        return self.decode(latent, ids_restore), mask, latent


def reconstruction_loss(predicted: torch.Tensor, target: torch.Tensor,
                        mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean squared error per patch element, over hidden patches when any are hidden."""
    per_patch = ((predicted - target) ** 2).mean(dim=-1)
    if mask is not None and mask.sum() > 0:
        return (per_patch * mask).sum() / mask.sum()
    return per_patch.mean()


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Conv2d):
        nn.init.xavier_uniform_(module.weight.view(module.weight.shape[0], -1))
        nn.init.zeros_(module.bias)
