"""The NanoBot policy: a GPT-style transformer over sensor, surface, vision and text tokens.

    [sensor token][surface token][vision tokens (ViT patches)][text tokens (bytes)][ACT]
        -> transformer -> hidden state at ACT -> regression head or diffusion head

Attention is bidirectional over the observation by default (`causal=False`, the prefix-LM form
of PaliGemma-style VLMs): the policy generates no text, and letting the vision tokens see the
instruction lets each patch mark "I am the named target" in the first layer, which made the
target task learnable in minutes instead of not at all in the same budget. `causal=True` gives
nanoGPT's causal mask.

Language-conditioned vision (`film=True`, RT-1's FiLM idea): a summary of the instruction
scales and shifts every vision token before the transformer, so a patch "knows" what is asked
for from the first layer on. Without it the same model had to discover a two-hop attention
circuit (text token finds the patch, ACT finds the text token) and stayed at chance for the
whole CPU budget; with it the target task trains in minutes. The summary (`text_condition`):
'mean', the mean of the text tokens, one vector for all patches; it cannot tell "first red, then
blue" from "first blue, then red" (the same bytes, so exactly the same mean), and cloned
policies went to either named marker first about equally often. 'cross' adds to that mean, per
vision token, a cross-attention over the text tokens after one transformer block over them with
fixed sin-cos positions (bytes become words that know where they stand): a red patch reads what
the instruction says about red, including whether red comes first. The cross-attention's
output projection starts at zero (as adapters do), so at init the sum is exactly the mean and a
'cross' policy computes what the 'mean' one with the same other weights does: it learns as fast
from scratch and warm-starts from a cloned 'mean' checkpoint (`nanobot train --init`). With a
random output projection the per-patch term started as noise on every patch's FiLM input and
the cloned policy sat on the action marginal's loss (1.59) for ~900 steps, 6 % success after
4000 steps where the mean alone reached 80 % (docs/policy.md, "Two-step instructions").

Diffusion head and the trunk (`robotics_aux_regression`, weight of an auxiliary regression
loss): trained by the denoising loss alone, the trunk collapsed on the target task (its output
varied by 0.002 std across observations after 1200 steps: the denoiser learned the action
marginal and ignored the condition). A small regression head on the same hidden state gives the
trunk a direct signal; the diffusion head still draws the actions. 0 disables it.

Categorical head (`head='categorical'`): logits over the `n_actions` discrete action vectors
the robot executes (`DEFAULT_DISCRETE_ACTIONS`, kept as the buffer `action_vectors`), trained
by cross-entropy on the expert's action (the nearest vector); `act()` returns the vector of
the most likely action, or with `noise` (n_actions values per observation, temperature T times
Gumbel(0, 1) noise: `processing.sampler_noise`) the vector of argmax(logits + noise), a draw
from softmax(logits / T) (the Gumbel-max trick), so the exported graph can sample and stays
deterministic for given noise. It exists for reinforcement fine-tuning (`policy/grpo.py`): a
categorical policy has exact log-probabilities and an exact KL to the cloned policy, which a
diffusion head snapped to a discrete action has not.

Config flags follow the reference's GPTConfig: `use_vision`, `use_robotics`,
`robotics_diffusion_steps` (100), `robotics_sensor_dim`, `robotics_surface_dim`; the action head
is one field, `head` (regression, diffusion or categorical; `action_head` builds it). Vision
tokens come from a ViT encoder (`models/vit.py`'s `ViTEncoder`, the one the world model's MAE
composes), projected to the transformer width. Sensor and surface
vectors get one token each through a linear projector, as the reference's Sensor / Surface
Projectors do. Text is UTF-8 bytes (`ByteTokenizer` in `policy_processing.py`).

Normalization (LeRobot style, kept as buffers so it travels with the weights): sensors and
surface vectors mean/std, actions min/max to [-1, 1]. `act()` takes raw inputs and returns
actions in robot units, clipped to the bounds seen in training. Pre- and post-processing
(images from messages, text to bytes, action to discrete index) live in
`policy_processing.py`; this file is the network only and imports no rclpy.
"""
from typing import Optional

import torch
from torch import nn
import torch.nn.functional as F

from nanobot_ros.policy.bitnet import ternarize_
from nanobot_ros.policy.diffusion import DiffusionHead
from nanobot_ros.policy.configuration import DEFAULT_DISCRETE_ACTIONS, PolicyConfig, TEXT_VOCAB
from nanobot_ros.policy.text_encoder import MINILM_DIM
from nanobot_ros.models.transformer import Block, sincos_pos_embed_1d
from nanobot_ros.models.vit import ViTEncoder


class Normalizer(nn.Module):
    """Per-feature statistics as buffers: mean/std for inputs, min/max for actions."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer('mean', torch.zeros(dim))
        self.register_buffer('std', torch.ones(dim))
        self.register_buffer('low', -torch.ones(dim))
        self.register_buffer('high', torch.ones(dim))

    def fit(self, values: torch.Tensor) -> None:
        """Set the statistics from samples (N, dim)."""
        if values.numel() == 0:
            return
        self.mean.copy_(values.mean(0))
        self.std.copy_(values.std(0, unbiased=False).clamp(min=1e-6))
        low, high = values.min(0).values, values.max(0).values
        same = (high - low) < 1e-6  # a constant feature: a unit range around it
        self.low.copy_(torch.where(same, low - 1, low))
        self.high.copy_(torch.where(same, high + 1, high))

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * (x - self.low) / (self.high - self.low) - 1

    def from_unit(self, x: torch.Tensor) -> torch.Tensor:
        return (x.clamp(-1, 1) + 1) / 2 * (self.high - self.low) + self.low

    def stats(self) -> dict:
        return {name: getattr(self, name).tolist() for name in ('mean', 'std', 'low', 'high')}


class CrossAttention(nn.Module):
    """Multi-head attention of query tokens (vision) over context tokens (text)."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.norm = nn.LayerNorm(dim)
        self.query = nn.Linear(dim, dim)
        self.key_value = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = self.num_heads
        q = self.query(self.norm(x)).reshape(b, n, h, d // h).transpose(1, 2)
        k, v = self.key_value(context).reshape(b, -1, 2, h, d // h).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.out(out.transpose(1, 2).reshape(b, n, d))


def action_head(config: PolicyConfig) -> nn.Module:
    """Return the action head `config.head` names, reading the trunk's hidden state."""
    d = config.n_embd
    if config.head == 'diffusion':
        return DiffusionHead(config.robotics_action_dim, d, config.robotics_diffusion_steps,
                             config.diffusion_hidden, config.robotics_diffusion_prediction)
    outputs = config.n_actions if config.head == 'categorical' else config.robotics_action_dim
    return nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, outputs))


class Policy(nn.Module):
    """Transformer trunk + action head; raw inputs in, robot-unit actions out."""

    def __init__(self, config: PolicyConfig = PolicyConfig(),
                 discrete_actions=DEFAULT_DISCRETE_ACTIONS):
        """`discrete_actions`: a categorical head's n_actions action vectors (robot units)."""
        super().__init__()
        config.validate()
        self.config = config
        d = config.n_embd
        if config.use_vision:
            self.vision = ViTEncoder(config.vit_config())
            self.vision_proj = nn.Linear(config.vision_embd, d)
            if config.film:
                self.film = nn.Linear(d, 2 * d)
                nn.init.zeros_(self.film.weight)
                nn.init.zeros_(self.film.bias)
        if config.robotics_sensor_dim:
            self.sensor_norm = Normalizer(config.robotics_sensor_dim)
            self.sensor_proj = nn.Linear(config.robotics_sensor_dim, d)
        if config.robotics_surface_dim:
            self.surface_norm = Normalizer(config.robotics_surface_dim)
            self.surface_proj = nn.Linear(config.robotics_surface_dim, d)
        self.action_norm = Normalizer(config.robotics_action_dim)
        if config.text_encoder == 'minilm':
            self.text_proj = nn.Linear(MINILM_DIM, d)
        else:
            self.text_embed = nn.Embedding(TEXT_VOCAB, d)
        if config.text_condition == 'cross':
            self.register_buffer('text_pos', sincos_pos_embed_1d(
                d, torch.arange(config.max_text_len))[None])
            self.text_block = Block(d, config.n_head)
            self.text_cross = CrossAttention(d, config.n_head)
            # Adapter-style start: the cross term is exactly zero, so a 'cross' policy begins
            # as the 'mean' one with the same other weights (and can warm-start from it).
            nn.init.zeros_(self.text_cross.out.weight)
            nn.init.zeros_(self.text_cross.out.bias)
        self.act_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, config.sequence_length, d))
        self.blocks = nn.ModuleList(Block(d, config.n_head) for _ in range(config.n_layer))
        self.norm = nn.LayerNorm(d)
        self.attn_mask = None
        if config.causal:
            self.register_buffer('attn_mask', torch.ones(
                config.sequence_length, config.sequence_length).tril().bool(), persistent=False)
        if config.head == 'categorical':
            vectors = torch.as_tensor(discrete_actions, dtype=torch.float32)
            if tuple(vectors.shape) != (config.n_actions, config.robotics_action_dim):
                raise ValueError(f'a categorical head of n_actions={config.n_actions} needs '
                                 f'{config.n_actions} action vectors of '
                                 f'{config.robotics_action_dim} values, got '
                                 f'{tuple(vectors.shape)}')
            self.register_buffer('action_vectors', vectors)
        self.head = action_head(config)
        if config.head == 'diffusion' and config.robotics_aux_regression > 0:
            self.aux_head = nn.Linear(d, config.robotics_action_dim)
        nn.init.normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.act_token, std=0.02)
        if config.ternary:
            ternarize_(self)

    def condition(self, images: Optional[torch.Tensor], text: torch.Tensor,
                  sensors: Optional[torch.Tensor] = None,
                  surface: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Return the hidden state (B, n_embd) the action heads read.

        images (B, 3, S, S) float in [0, 1]; text (B, max_text_len) int64 byte ids (or, with
        text_encoder 'minilm', (B, max_text_len, 384) float encoder token states); sensors
        (B, sensor_dim) and surface (B, surface_dim) raw values.
        """
        c = self.config
        tokens = []
        if c.robotics_sensor_dim:
            tokens.append(self.sensor_proj(self.sensor_norm.standardize(sensors))[:, None])
        if c.robotics_surface_dim:
            tokens.append(self.surface_proj(self.surface_norm.standardize(surface))[:, None])
        text_tokens = (self.text_proj(text) if c.text_encoder == 'minilm'
                       else self.text_embed(text))
        if c.use_vision:
            vision = self.vision_proj(self.vision(images))
            if c.film:
                summary = text_tokens.mean(dim=1, keepdim=True)
                if c.text_condition == 'cross':
                    words, _ = self.text_block(text_tokens + self.text_pos)
                    summary = summary + self.text_cross(vision, words)
                scale, shift = self.film(summary).chunk(2, dim=2)
                vision = vision * (1 + scale) + shift
            tokens.append(vision)
        tokens.append(text_tokens)
        tokens.append(self.act_token.expand(text.shape[0], -1, -1))
        x = torch.cat(tokens, dim=1) + self.pos_embed
        for block in self.blocks:
            x, _ = block(x, self.attn_mask)
        return self.norm(x[:, -1])

    def loss(self, batch: dict, generator: torch.Generator = None) -> torch.Tensor:
        """Training loss on a batch of raw inputs and actions (robot units)."""
        cond = self.condition(batch.get('images'), batch['text'], batch.get('sensors'),
                              batch.get('surface'))
        if self.config.head == 'categorical':
            return nn.functional.cross_entropy(self.head(cond),
                                               self.action_index(batch['actions']))
        target = self.action_norm.to_unit(batch['actions'])
        if self.config.head == 'regression':
            return ((self.head(cond) - target) ** 2).mean()
        loss = self.head.loss(target, cond, generator)
        if self.config.robotics_aux_regression > 0:
            aux = ((self.aux_head(cond) - target) ** 2).mean()
            loss = loss + self.config.robotics_aux_regression * aux
        return loss

    def forward(self, batch: dict, generator: torch.Generator = None) -> torch.Tensor:
        """Return the training loss (as LeRobot policies do), so DDP can wrap the policy."""
        return self.loss(batch, generator)

    def act(self, images, text, sensors=None, surface=None, noise=None,
            sampler: str = 'ddim', ddim_steps: int = 10) -> torch.Tensor:
        """Return actions (B, action_dim) in robot units, within the training bounds.

        Diffusion heads consume `noise` of `head.noise_shape(sampler, B)`; DDPM uses all
        robotics_diffusion_steps steps, DDIM `ddim_steps`. A categorical head adds `noise`
        (B, n_actions) to its logits when given (sampling), else takes the most likely action.
        """
        cond = self.condition(images, text, sensors, surface)
        if self.config.head == 'categorical':
            logits = self.head(cond)  # (B, n_actions)
            return self.action_vectors[(logits if noise is None else logits + noise).argmax(dim=1)]
        if self.config.head == 'regression':
            return self.action_norm.from_unit(self.head(cond))
        if sampler == 'ddpm':
            unit = self.head.sample_ddpm(cond, noise)
        elif sampler == 'ddim':
            unit = self.head.sample_ddim(cond, noise[0], ddim_steps)
        else:
            raise ValueError(f'unknown sampler {sampler!r}; choose ddpm or ddim')
        return self.action_norm.from_unit(unit)

    def noise_shape(self, sampler: str, batch: int) -> tuple:
        """Return the shape of `act`'s noise for `batch` observations; () when it takes none."""
        if self.config.head == 'diffusion':
            return self.head.noise_shape(sampler, batch)
        return (batch, self.config.n_actions) if self.config.head == 'categorical' else ()

    def action_index(self, actions: torch.Tensor) -> torch.Tensor:
        """Return the index of the discrete action vector nearest to each action (B, A)."""
        return torch.cdist(actions.float(), self.action_vectors).argmin(dim=1)

    def action_logits(self, images, text, sensors=None, surface=None) -> torch.Tensor:
        """Return the categorical head's logits (B, actions) for raw inputs."""
        return self.head(self.condition(images, text, sensors, surface))

    def normalization_stats(self) -> dict:
        """Return every normalizer's statistics, JSON-ready (also in the weights)."""
        return {name: module.stats() for name, module in self.named_children()
                if isinstance(module, Normalizer)}
