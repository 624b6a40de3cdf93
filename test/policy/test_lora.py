"""LoRA (peft) on a tiny policy: only adapter weights train, the share is small, merging works."""
import re

import pytest
import torch

from nanobot_ros.policy.demonstrations import DemoBuffer
from nanobot_ros.policy.lora import add_lora, LORA_TARGETS, lora_finetune, trainable_share
from nanobot_ros.policy.processing import processor_for
from nanobot_ros.robots.sim.task_family import rollouts_for, task_preset
from policy_fixtures import tiny_policy

VARIANT = task_preset('new-colours', img_size=24, min_markers=1, max_markers=2, two_step=0.0,
                      step_budget=4)


def variant_buffer(policy) -> DemoBuffer:
    buffer = DemoBuffer(processor_for(policy.config), 2)
    for image, text, action in rollouts_for(VARIANT, range(40)):
        buffer.add(image, text, [(0, 0), (1, 0), (-1, 0), (0, -1), (0, 1)][action])
    return buffer


def adapter_size(module: torch.nn.Module, rank: int) -> int:
    """Parameters of one rank-`rank` LoRA adapter on `module`: A (in -> rank), B (rank -> out)."""
    if isinstance(module, torch.nn.Embedding):
        return rank * (module.num_embeddings + module.embedding_dim)
    if isinstance(module, torch.nn.Conv2d):
        return rank * module.weight[0].numel() + rank * module.out_channels
    return rank * (module.in_features + module.out_features)


def test_only_adapters_are_trainable_and_the_share_is_small():
    policy = tiny_policy(head='categorical', image_size=24, max_text_len=24)
    base = sum(p.numel() for p in policy.parameters())
    targets = [m for n, m in policy.named_modules() if re.fullmatch(LORA_TARGETS, n)]
    model = add_lora(policy, rank=4)
    trainable, total = trainable_share(model)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all('lora_' in n for n in names)
    # Exactly one rank-4 adapter per targeted layer (12 of them) and nothing else: the share is
    # what the rank makes it (21.6 % on this 16-wide policy, which holds no MAE decoder;
    # docs/policy.md: the bench policy).
    assert len(targets) == 12
    assert trainable == sum(adapter_size(m, 4) for m in targets) == 4292
    assert total == base + trainable
    assert trainable / total == pytest.approx(0.2162, abs=5e-4)
    assert any('patch_embed.lora_A' in n for n in names)
    assert any('text_embed.lora_embedding_A' in n for n in names)


def test_finetune_changes_only_targeted_weights_and_lowers_the_loss():
    policy = tiny_policy(head='categorical', image_size=24, max_text_len=24)
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    buffer = variant_buffer(policy)
    batch = buffer.batch(range(len(buffer)))
    with torch.no_grad():
        loss_before = float(policy.loss(batch))
    merged, report = lora_finetune(policy, buffer, steps=30, batch_size=32, lr=1e-2)
    after = merged.state_dict()
    assert set(after) == set(before)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert 'blocks.0.attn.qkv.weight' in changed and 'text_embed.weight' in changed
    frozen = [k for k in before if k.startswith(('head.', 'norm.', 'action_norm', 'pos_embed',
                                                 'act_token')) or k.endswith('.bias')]
    assert frozen and not changed & set(frozen)
    with torch.no_grad():
        assert float(merged.loss(batch)) < loss_before
    assert report['trainable'] < report['total'] and report['steps'] == 30
