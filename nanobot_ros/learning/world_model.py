"""The world model learner: MAE-ViT + action-conditioned predictor, their optimizers and state.

`WorldModel` owns the networks and does the numerical work the adaptive loop asks for:
reconstruction quality of a frame (the gate), next-frame predictions for every action, an
autoencoder training step (random mask ratio), a joint training step (autoencoder loss +
predictor patch/latent/action losses, gradients flowing into the shared encoder), and its
state as safetensors tensors + JSON metadata (config, counters, optimizer hyper-parameters).
"""
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from nanobot_ros.learning.predictor_introspection import action_gradient_share, \
    attention_heatmap, attention_metrics
from nanobot_ros.models.advection import advect, blend
from nanobot_ros.models.checkpoint import (optimizer_from_tensors, optimizer_to_tensors,
                                           prefixed, resolve_learning_rate, unprefixed)
from nanobot_ros.models.losses import LossWeights, predictor_losses, r2_score
from nanobot_ros.models.predictor import (ActionClassifier, PredictorConfig,
                                          TransformerActionConditionedPredictor)
from nanobot_ros.models.vit import (images_to_tensor, MaskedAutoencoderViT,
                                    reconstruction_loss, ViTConfig)


# train_step's metric of one action's patch loss (its samples in the batch alone): + label.
ACTION_PATCH_LOSS = 'predictor_patch_loss/action_'
TRAINING_PRECISIONS = ('float32', 'bfloat16', 'auto')


def training_dtype(precision: str) -> torch.dtype:
    """Return the dtype a learner step's forward pass computes in for `precision`.

    'auto' is bfloat16 where the CPU multiplies it natively (AVX-512 BF16 or AMX), else
    float32: emulated, bfloat16 costs more than the float32 it replaces.
    """
    if precision not in TRAINING_PRECISIONS:
        raise ValueError(f'training_precision must be one of {TRAINING_PRECISIONS}, got '
                         f'{precision!r}')
    if precision == 'auto':
        native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
        return torch.bfloat16 if native else torch.float32
    return torch.bfloat16 if precision == 'bfloat16' else torch.float32


def action_patch_losses(metrics: Dict[str, float]) -> Dict[int, float]:
    """Return {action label: patch loss} of the actions a train_step's batch held."""
    return {int(name[len(ACTION_PATCH_LOSS):]): value for name, value in metrics.items()
            if name.startswith(ACTION_PATCH_LOSS)}


@dataclass
class WorldModelSize:
    """The few sizes people change; `WorldModelConfig.small` builds a consistent config."""

    img_size: int = 224          # camera image width and height the model expects
    patch_size: int = 32         # 7x7 patches of a 224 px frame: small enough for 2 CPU cores
    embed_dim: int = 64          # ViT and predictor width
    depth: int = 2               # ViT encoder blocks
    predictor_depth: int = 2     # predictor transformer blocks
    history_frames: int = 1      # frames of history the predictor sees
    # Pixels the prediction may move the last frame's own pixels, per patch (0 and 0 = the
    # decoder paints all of it): models/advection.py; the room uses them for sharp turns.
    advection_x: int = 0
    advection_y: int = 0
    advection_subdivision: int = 1  # each patch moves as s x s sub-patches (PredictorConfig)


@dataclass
class WorldModelConfig:
    """Networks, loss weights and optimizer settings of the world model."""

    vit: ViTConfig = field(default_factory=ViTConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    loss_weights: LossWeights = field(default_factory=LossWeights)
    autoencoder_lr: float = 3e-3
    # Below the autoencoder's: at 3e-3 (before the relative position bias) the predictor never
    # learned to move the dot across patches; with the bias and the zero-initialized decoder
    # head 2e-3 learns faster than 1e-3 (figures: docs/world_model.md, "What makes it learn
    # the dot world fast").
    predictor_lr: float = 2e-3
    # Adam's second-moment decay for the predictor (PyTorch's default is 0.999). At 0.999 a
    # predictor that had learned the dot world could spike in a long run: after stretches of
    # tiny gradients the slow second-moment estimate lets one large gradient make a huge step.
    # 0.95 (GPT-style) tracks the gradient scale.
    predictor_beta2: float = 0.95
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    # The reference lets the predictor's losses train the shared encoder too. On a small CPU
    # budget that lets the encoder erase the dot to shrink the error of not-yet-learned moves
    # (reconstruction then stalls near all-black), so by default the encoder learns from
    # reconstruction only and the predictor from detached features.
    encoder_learns_from_predictor: bool = False
    # The learner steps' forward passes under bfloat16 autocast ('bfloat16', or 'auto': where
    # the CPU has it natively); weights, optimizer state and inference stay float32. On this
    # machine's AVX-512 BF16 a room learner step costs a fifth less CPU and learns as much
    # per step (docs/world_model.md, "bfloat16 learner steps, and turns replayed backwards").
    training_precision: str = 'float32'

    def validate(self) -> None:
        """Check the pieces fit together (the predictor reads the encoder's tokens)."""
        self.vit.validate()
        self.predictor.validate()
        training_dtype(self.training_precision)
        if self.predictor.feature_dim != self.vit.embed_dim:
            raise ValueError(f'predictor.feature_dim {self.predictor.feature_dim} must equal '
                             f'vit.embed_dim {self.vit.embed_dim}')
        if self.predictor.num_patches != self.vit.num_patches:
            raise ValueError(f'predictor.num_patches {self.predictor.num_patches} must equal '
                             f'the encoder\'s {self.vit.num_patches}')
        if self.vit.patch_size % self.predictor.advection_subdivision:
            raise ValueError(f'advection_subdivision {self.predictor.advection_subdivision} '
                             f'must divide patch_size {self.vit.patch_size}')
        for name in ('autoencoder_lr', 'predictor_lr'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)}')

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def of_size(cls, size: WorldModelSize, num_actions: int, **kwargs) -> 'WorldModelConfig':
        """Return `small()` of the sizes in `size` (kwargs: the other fields)."""
        return cls.small(img_size=size.img_size, patch_size=size.patch_size,
                         embed_dim=size.embed_dim, depth=size.depth,
                         predictor_depth=size.predictor_depth, max_history=size.history_frames,
                         num_actions=num_actions, advection_x=size.advection_x,
                         advection_y=size.advection_y,
                         advection_subdivision=size.advection_subdivision, **kwargs)

    @classmethod
    def from_dict(cls, values: dict) -> 'WorldModelConfig':
        """Rebuild a config saved by `to_dict` (checkpoint metadata)."""
        values = dict(values)
        return cls(vit=ViTConfig.from_dict(values.pop('vit')),
                   predictor=PredictorConfig.from_dict(values.pop('predictor')),
                   loss_weights=LossWeights(**values.pop('loss_weights')), **values)

    @classmethod
    def small(cls, patch_size: int = WorldModelSize.patch_size,
              embed_dim: int = WorldModelSize.embed_dim, depth: int = WorldModelSize.depth,
              predictor_depth: int = WorldModelSize.predictor_depth, num_actions: int = 2,
              max_history: int = WorldModelSize.history_frames,
              img_size: int = WorldModelSize.img_size, mask_ratio_min: float = 0.0,
              mask_ratio_max: float = 0.0, advection_x: int = WorldModelSize.advection_x,
              advection_y: int = WorldModelSize.advection_y,
              advection_subdivision: int = WorldModelSize.advection_subdivision,
              **kwargs) -> 'WorldModelConfig':
        """Return a consistent config from the few sizes people change.

        No masking by default (the reference's MAE hides 0.3-0.85 of the patches): when a
        frame's only informative patch (the dot) is hidden, nothing visible says where it was
        and the decoder can only learn a blur. Reconstruction, the ceiling of every prediction
        (decoded by the same decoder), stalled near R² 0.86 on the dot world after 4800
        learner steps at 0.3-0.85; at 0-0.5 the held-out next-frame R² was +0.843 after 400
        steps, unmasked +0.900 (bench/world_model_learning.py).
        """
        vit = ViTConfig(img_size=img_size, patch_size=patch_size, embed_dim=embed_dim,
                        depth=depth, decoder_dim=embed_dim, mask_ratio_min=mask_ratio_min,
                        mask_ratio_max=mask_ratio_max)
        predictor = PredictorConfig(feature_dim=embed_dim, num_patches=vit.num_patches,
                                    num_actions=num_actions, embed_dim=embed_dim,
                                    depth=predictor_depth, max_history=max_history,
                                    advection_x=advection_x, advection_y=advection_y,
                                    advection_subdivision=advection_subdivision)
        return cls(vit=vit, predictor=predictor, **kwargs)


def _network_sizes(vit: ViTConfig) -> dict:
    """Return the ViT config without its training mask ratios.

    They shape no weight, so checkpoints saved with the reference's 0.3-0.85 still load.
    """
    sizes = asdict(vit)
    del sizes['mask_ratio_min'], sizes['mask_ratio_max']
    return sizes


def _median(values) -> float:
    return float(torch.stack(values).median()) if values else 0.0


def _global_grad_norm(parameters) -> float:
    norms = [p.grad.detach().norm() for p in parameters if p.grad is not None]
    return float(torch.stack(norms).norm()) if norms else 0.0


class WorldModel:
    """Networks + optimizers + training counters of the world model."""

    def __init__(self, config: WorldModelConfig = None, seed: int = 0):
        self.config = config or WorldModelConfig()
        self.config.validate()
        self.generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.autoencoder = MaskedAutoencoderViT(self.config.vit)
        pc = self.config.predictor
        self.predictor = TransformerActionConditionedPredictor(pc)
        self.action_classifier = ActionClassifier(pc.feature_dim, pc.num_actions)
        self.autoencoder_optimizer = torch.optim.AdamW(
            self.autoencoder.parameters(), lr=self.config.autoencoder_lr,
            weight_decay=self.config.weight_decay)
        self.predictor_optimizer = torch.optim.AdamW(
            list(self.predictor.parameters()) + list(self.action_classifier.parameters()),
            lr=self.config.predictor_lr, betas=(0.9, self.config.predictor_beta2),
            weight_decay=self.config.weight_decay)
        self.autoencoder_training_step = 0
        self.predictor_training_step = 0
        self.training_dtype = training_dtype(self.config.training_precision)

    # -- inference ---------------------------------------------------------------------------

    @staticmethod
    def to_tensor(frames) -> torch.Tensor:
        """uint8 (B, H, W, 3) arrays (or a list of (H, W, 3)) -> float (B, 3, H, W)."""
        if isinstance(frames, torch.Tensor):
            return frames
        return images_to_tensor(np.stack(frames) if isinstance(frames, (list, tuple))
                                else frames)

    @torch.no_grad()
    def reconstruct(self, frame) -> tuple:
        """Return (reconstruction loss of the unmasked frame, decoded patches (1, N, P))."""
        self.autoencoder.eval()
        images = self.to_tensor(frame)
        patches, _, _ = self.autoencoder(images, 0.0)
        return float(reconstruction_loss(patches, self.autoencoder.patchify(images))), patches

    @torch.no_grad()
    def predict_all(self, history_frames: Sequence, history_actions: Sequence[int],
                    candidate_actions: Sequence[int]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Predicted next-frame patches (A, N, P) and the heads' disagreement (A,).

        One per candidate action. history_frames: the last T frames, oldest first (uint8
        (H, W, 3)); history_actions: the T - 1 actions taken between them. The disagreement of
        an action is the variance across the predictor's heads of their predicted tokens,
        averaged over tokens and channels (0 with one head).
        """
        self.autoencoder.eval()
        self.predictor.eval()
        images = self.to_tensor(list(history_frames))
        features = self.autoencoder.encode(images)
        a = len(candidate_actions)
        features = features.unsqueeze(0).expand(a, -1, -1, -1)
        past = torch.tensor(list(history_actions), dtype=torch.long).expand(a, -1)
        actions = torch.cat([past, torch.tensor(candidate_actions).reshape(a, 1)], dim=1)
        predicted, heads = self.predict_patches(features, actions,
                                                images[-1:].expand(a, -1, -1, -1))
        return predicted, heads.var(dim=1, unbiased=False).mean(dim=(1, 2))

    def predict_patches(self, features: torch.Tensor, actions: torch.Tensor,
                        last_images: torch.Tensor, decode=None
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return (predicted next-frame patches (B, N, P), every head's tokens).

        features (B, T, N, F) and actions (B, T) as the predictor takes them; last_images
        (B, 3, H, W) the frames the features of step T came from. The heads' mean token is
        decoded; with advection (`PredictorConfig.advection_x/y`) the last frame's pixels,
        moved per patch, are composed with it through the predicted mask.
        """
        heads, decoded, advected = self.prediction_parts(features, actions, last_images, decode)
        if advected is None:
            return decoded, heads
        moved, mask = advected
        painted = self.autoencoder.unpatchify(decoded)
        return self.autoencoder.patchify(blend(moved, mask, painted)), heads

    def prediction_parts(self, features: torch.Tensor, actions: torch.Tensor,
                         last_images: torch.Tensor, decode=None):
        """Return (heads' tokens, decoded patches (B, N, P), (moved images, mask) or None).

        What `predict_patches` composes, apart: the decoder's paint, and with advection the
        last frame's pixels moved (B, 3, H, W) and the mask (B, 1, H, W) that weighs them.
        """
        heads, motion, _ = self.predictor.forward_motion(features, actions)
        decoded = (decode or self.autoencoder.decode)(heads.mean(dim=1))
        if motion is None:
            return heads, decoded, None
        return heads, decoded, advect(last_images, motion, self.config.predictor.advection)

    # -- training ----------------------------------------------------------------------------

    def _forward_precision(self):
        """Return the context a training forward pass runs in (bfloat16 autocast, or none)."""
        if self.training_dtype == torch.float32:
            return nullcontext()
        return torch.autocast('cpu', dtype=self.training_dtype)

    def _autoencoder_loss(self, images: torch.Tensor):
        """Return (loss, mask ratio, the images' tokens when none was hidden, else None)."""
        mask_ratio = self.autoencoder.sample_mask_ratio(self.generator)
        patches, _, latent = self.autoencoder(images, mask_ratio, self.generator)
        # Over all patches: the world model needs the visible ones rebuilt too (MAE's
        # masked-only loss would leave the unmasked reconstruction that gates acting untrained).
        return (reconstruction_loss(patches, self.autoencoder.patchify(images)), mask_ratio,
                latent if mask_ratio == 0 else None)

    def train_autoencoder(self, frames) -> Dict[str, float]:
        """One autoencoder step on a batch of frames; return the reference's metrics."""
        self.autoencoder.train()
        with self._forward_precision():
            loss, mask_ratio, _ = self._autoencoder_loss(self.to_tensor(frames))
        self.autoencoder_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.autoencoder.parameters(), self.config.grad_clip)
        self.autoencoder_optimizer.step()
        self.autoencoder_training_step += 1
        return {'autoencoder_training_loss': loss.item(), 'mask_ratio': mask_ratio,
                'autoencoder_training_step': self.autoencoder_training_step}

    def train_step(self, history: torch.Tensor, actions: torch.Tensor, next_frames: torch.Tensor,
                   detailed: bool = False) -> Dict[str, float]:
        """One joint step on transitions; return the reference's metrics.

        history (B, T, 3, H, W) float, actions (B, T) long (actions[:, -1] is the one whose
        outcome is `next_frames` (B, 3, H, W)). The autoencoder loss (random mask) on the next
        frames and the predictor losses are summed, so the encoder learns from both.
        `detailed` adds the gradient norm and the 95th percentile update-to-weight ratio.
        """
        self.autoencoder.train()
        self.predictor.train()
        b, t = actions.shape
        with self._forward_precision():
            ae_loss, mask_ratio, target_latent = self._autoencoder_loss(next_frames)
            # Unmasked, the autoencoder step already encoded the next frames (the latent target
            # is detached in the loss): then only the history is encoded again.
            frames = history.reshape(b * t, *history.shape[2:])
            if target_latent is None:
                frames = torch.cat([frames, next_frames])
            with torch.set_grad_enabled(self.config.encoder_learns_from_predictor):
                tokens = self.autoencoder.encode(frames)
            features = tokens[:b * t].reshape(b, t, *tokens.shape[1:])
            if target_latent is None:
                target_latent = tokens[b * t:]
            predicted_patches, heads = self.predict_patches(features, actions, history[:, -1],
                                                            self._decode_frozen)
            predicted_latent = heads.mean(dim=1)
            target_patches = self.autoencoder.patchify(next_frames)
            logits = self.action_classifier(features[:, -1], predicted_latent)
            bootstrap = (torch.rand(heads.shape[:2], generator=self.generator) < 0.5).float() \
                if heads.shape[1] > 1 else None
            losses = predictor_losses(predicted_patches, target_patches, heads, target_latent,
                                      self.config.loss_weights, logits, actions[:, -1], bootstrap)
            total = ae_loss + losses['total']
        self.autoencoder_optimizer.zero_grad(set_to_none=True)
        self.predictor_optimizer.zero_grad(set_to_none=True)
        total.backward()
        predictor_params = [p for g in self.predictor_optimizer.param_groups
                            for p in g['params']]
        metrics = {}
        if detailed:
            metrics['predictor_grad_norm'] = _global_grad_norm(predictor_params)
            metrics['action_gradient_share'] = action_gradient_share(self.predictor)
            sublayers = self._predictor_sublayers()
            for name, params in sublayers.items():
                metrics[f'grad_norms/transformer/{name}'] = _median(
                    [p.grad.norm() for p in params if p.grad is not None])
            before = [p.detach().clone() for p in predictor_params]
            before_sublayers = {name: [p.detach().clone() for p in params]
                                for name, params in sublayers.items()}
        torch.nn.utils.clip_grad_norm_(self.autoencoder.parameters(), self.config.grad_clip)
        torch.nn.utils.clip_grad_norm_(predictor_params, self.config.grad_clip)
        self.autoencoder_optimizer.step()
        self.predictor_optimizer.step()
        if detailed:
            ratios = [float((p.detach() - old).norm() / (old.norm() + 1e-12))
                      for p, old in zip(predictor_params, before) if old.norm() > 0]
            metrics['predictor_uwr_95th'] = float(np.percentile(ratios, 95)) if ratios else 0.0
            for name, params in sublayers.items():
                metrics[f'uwr/transformer/{name}'] = _median(
                    [(p.detach() - old).norm() / (old.norm() + 1e-12)
                     for p, old in zip(params, before_sublayers[name])])
        self.autoencoder_training_step += 1
        self.predictor_training_step += 1
        with torch.no_grad():
            per_sample = (predicted_patches - target_patches).pow(2).mean(dim=(1, 2))
        for label in actions[:, -1].unique().tolist():
            metrics[f'{ACTION_PATCH_LOSS}{label}'] = float(
                per_sample[actions[:, -1] == label].mean())
        metrics.update({
            'autoencoder_training_loss': ae_loss.item(), 'mask_ratio': mask_ratio,
            'autoencoder_training_step': self.autoencoder_training_step,
            'predictor_training_loss': losses['total'].item(),
            'predictor_patch_loss': losses['patch'].item(),
            'predictor_latent_loss': losses['latent'].item(),
            'predictor_action_loss': losses['action'].item(),
            # R² = 1 - SSE/SST = 1 - MSE/variance: from the patch loss, no second pass.
            'predictor_explained_variance': r2_score(
                losses['patch'].item(), target_patches.var(unbiased=False).item()),
            'predictor_training_step': self.predictor_training_step,
            'predictor_lr': self.predictor_optimizer.param_groups[0]['lr'],
        })
        return metrics

    def _predictor_sublayers(self) -> Dict[str, list]:
        """Return the reference's groups transformer_layer_<i>_<self_attn|linear1|linear2>."""
        groups = {}
        for i, block in enumerate(self.predictor.blocks):
            groups[f'transformer_layer_{i}_self_attn'] = list(block.attn.parameters())
            groups[f'transformer_layer_{i}_linear1'] = list(block.mlp[0].parameters())
            groups[f'transformer_layer_{i}_linear2'] = list(block.mlp[3].parameters())
        return groups

    @torch.no_grad()
    def diagnostics(self, history: torch.Tensor, actions: torch.Tensor,
                    next_frames: torch.Tensor) -> Tuple[Dict[str, float], np.ndarray]:
        """Attention metrics, counterfactual losses and the action-sensitivity sweep on a batch.

        Returns ({'attention/apa': ..., 'counterfactual/true_loss': ..., ...}, an rgb8 heatmap
        of the last layer's attention); the definitions: `learning/predictor_introspection.py`.
        """
        self.autoencoder.eval()
        self.predictor.eval()
        b, t = actions.shape
        features = self.autoencoder.encode(history.reshape(b * t, *history.shape[2:]))
        features = features.reshape(b, t, *features.shape[1:])
        target = self.autoencoder.patchify(next_frames)
        predicted, attention = self.predictor(features, actions, return_attn=True)
        n = self.config.predictor.num_patches
        t = attention[-1].shape[-1] // (n + 1)  # after the predictor's history clipping
        metrics = {f'attention/{k}': v for k, v in attention_metrics(attention[-1], t, n).items()}

        last = history[:, -1]

        def loss(with_actions):
            return float(((self.predict_patches(features, with_actions, last)[0] - target)
                          ** 2).mean())
        shuffled = actions[torch.randperm(b, generator=self.generator)]
        metrics.update({'counterfactual/true_loss': loss(actions),
                        'counterfactual/shuffled_loss': loss(shuffled),
                        'counterfactual/zeroed_loss': loss(torch.zeros_like(actions))})
        sweep = []
        for action in range(self.config.predictor.num_actions):
            variant = actions.clone()
            variant[:, -1] = action
            sweep.append(self.predict_patches(features, variant, last)[0])
        pairs = [((sweep[i] - sweep[j]) ** 2).mean() for i in range(len(sweep))
                 for j in range(i + 1, len(sweep))]
        metrics['action_sensitivity'] = float(torch.stack(pairs).mean()) if pairs else 0.0
        return metrics, attention_heatmap(attention[-1], t, n)

    def _decode_frozen(self, latent: torch.Tensor) -> torch.Tensor:
        """Decode with the decoder's weights held fixed (gradients still reach `latent`).

        The decoder learns only from reconstruction: were the predictor's patch loss allowed
        to move it, the cheapest way to lower the error of a not-yet-learned move would be to
        blur every dot away, and the autoencoder collapses to black frames.
        """
        decoder = [p for n, p in self.autoencoder.named_parameters()
                   if n.startswith(('decoder', 'mask_token'))]
        for parameter in decoder:
            parameter.requires_grad_(False)
        try:
            return self.autoencoder.decode(latent)
        finally:
            for parameter in decoder:
                parameter.requires_grad_(True)

    # -- persistence -------------------------------------------------------------------------

    def state_tensors(self) -> Dict[str, torch.Tensor]:
        """Every weight and optimizer tensor, prefixed by its owner."""
        tensors = {}
        for name, module in self._modules_by_name().items():
            tensors.update(prefixed(name, module.state_dict()))
        for name, optimizer in self._optimizers_by_name().items():
            tensors.update(prefixed(name, optimizer_to_tensors(optimizer)[0]))
        return tensors

    def state_metadata(self) -> dict:
        """Config, counters and optimizer hyper-parameters, JSON-ready."""
        return {
            'model': 'nanobot_ros.world_model',
            'config': self.config.to_dict(),
            'autoencoder_training_step': self.autoencoder_training_step,
            'predictor_training_step': self.predictor_training_step,
            'optimizers': {name: optimizer_to_tensors(opt)[1]
                           for name, opt in self._optimizers_by_name().items()},
        }

    def load_state(self, tensors: Dict[str, torch.Tensor], metadata: dict,
                   autoencoder_lr: Optional[float] = None,
                   predictor_lr: Optional[float] = None) -> Dict[str, str]:
        """Restore weights, optimizers and counters; learning rates by the reference's rule.

        Raises ValueError when the checkpoint was made for a different configuration.
        Returns {optimizer: where its learning rate came from}.
        """
        saved = WorldModelConfig.from_dict(metadata['config'])
        if _network_sizes(saved.vit) != _network_sizes(self.config.vit) or \
                asdict(saved.predictor) != asdict(self.config.predictor):
            raise ValueError('checkpoint was made for a different model configuration: '
                             f'{saved.vit} / {saved.predictor}')
        for name, module in self._modules_by_name().items():
            module.load_state_dict(unprefixed(name, tensors))
        for name, optimizer in self._optimizers_by_name().items():
            optimizer_from_tensors(optimizer, unprefixed(name, tensors),
                                   metadata['optimizers'][name])
        self.autoencoder_training_step = int(metadata['autoencoder_training_step'])
        self.predictor_training_step = int(metadata['predictor_training_step'])
        return self.resolve_learning_rates(autoencoder_lr, predictor_lr, restored=True)

    def resolve_learning_rates(self, autoencoder_lr: Optional[float],
                               predictor_lr: Optional[float],
                               restored: bool) -> Dict[str, str]:
        """Apply explicit > saved > config learning rates; return their sources.

        The saved rate is the one a schedule started from (`initial_lr`), not where it was.
        """
        for optimizer in self._optimizers_by_name().values():
            for group in optimizer.param_groups:
                group['lr'] = group.pop('initial_lr', group['lr'])
        _, ae_source = resolve_learning_rate(self.autoencoder_optimizer, autoencoder_lr,
                                             self.config.autoencoder_lr, restored)
        _, pred_source = resolve_learning_rate(self.predictor_optimizer, predictor_lr,
                                               self.config.predictor_lr, restored)
        return {'autoencoder': ae_source, 'predictor': pred_source}

    def scale_learning_rates(self, scale: float) -> None:
        """Run both optimizers at `scale` times the rates they started from (a schedule).

        The start is kept in each parameter group as `initial_lr` (PyTorch's schedulers' key),
        so it travels with the optimizer's state in checkpoints.
        """
        for optimizer in self._optimizers_by_name().values():
            for group in optimizer.param_groups:
                group.setdefault('initial_lr', group['lr'])
                group['lr'] = group['initial_lr'] * scale

    def copy_weights_from(self, other: 'WorldModel') -> None:
        """Copy another world model's weights (the actor's snapshot of the learner)."""
        for name, module in self._modules_by_name().items():
            module.load_state_dict(other._modules_by_name()[name].state_dict())

    def _modules_by_name(self) -> Dict[str, torch.nn.Module]:
        return {'autoencoder': self.autoencoder, 'predictor': self.predictor,
                'action_classifier': self.action_classifier}

    def _optimizers_by_name(self) -> Dict[str, torch.optim.Optimizer]:
        return {'autoencoder_optimizer': self.autoencoder_optimizer,
                'predictor_optimizer': self.predictor_optimizer}
