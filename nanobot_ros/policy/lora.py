"""LoRA adapters (peft) on a trained policy: adapt to a task variant with a small trainable share.

    model = add_lora(policy, rank=4)      # peft wraps every target Linear / Conv / Embedding
    policy, report = lora_finetune(policy, buffer, steps=300)   # merged: a plain Policy

Targets (`LORA_TARGETS`): the attention and MLP projections of the trunk and of the ViT encoder,
the ViT patch embedding (new colours are new pixels), the vision projection, the FiLM layer and
the byte embedding or the text projection (new colour words are new byte sequences). Everything
else, the heads and the normalization buffers included, stays frozen. After training the
adapters are merged into the weights (`merge_and_unload`), so the result exports and serves
like any policy.
"""
import time
from typing import Tuple

import torch

from nanobot_ros.policy.demonstrations import DemoBuffer
from nanobot_ros.policy.finetune import fit_steps
from nanobot_ros.policy.modeling import Policy

LORA_TARGETS = (r'.*(attn\.qkv|attn\.proj|mlp\.0|mlp\.3|patch_embed|vision_proj|film|'
                r'text_embed|text_proj)$')


def add_lora(policy: Policy, rank: int = 4, alpha: float = 8.0, dropout: float = 0.0):
    """Return the peft model wrapping `policy` with LoRA adapters; only they are trainable."""
    import peft
    config = peft.LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout,
                             target_modules=LORA_TARGETS)
    return peft.get_peft_model(policy, config)


def trainable_share(model: torch.nn.Module) -> Tuple[int, int]:
    """Return (trainable parameters, all parameters) of a model."""
    return (sum(p.numel() for p in model.parameters() if p.requires_grad),
            sum(p.numel() for p in model.parameters()))


def lora_finetune(policy: Policy, buffer: DemoBuffer, steps: int, batch_size: int = 64,
                  lr: float = 3e-3, rank: int = 4, seed: int = 0) -> Tuple[Policy, dict]:
    """Train LoRA adapters on `buffer` by the policy's own loss; return (merged policy, report)."""
    torch.manual_seed(seed)
    model = add_lora(policy, rank)
    trainable, total = trainable_share(model)
    start = time.monotonic()
    losses = fit_steps(model, buffer, steps, batch_size, lr, seed)
    merged = model.merge_and_unload().eval()
    return merged, {'rank': rank, 'trainable': trainable, 'total': total,
                    'trainable_share': trainable / total, 'steps': steps, 'losses': losses,
                    'seconds': round(time.monotonic() - start, 1)}
