"""LoRA (peft) on a tiny policy: only adapter weights train, the share is small, merging works."""
import torch

from nanobot_ros.policy.demonstrations import DemoBuffer
from nanobot_ros.policy.lora import add_lora, lora_finetune, trainable_share
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


def test_only_adapters_are_trainable_and_the_share_is_small():
    model = add_lora(tiny_policy(robotics_categorical=True, image_size=24, max_text_len=24))
    trainable, total = trainable_share(model)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all('lora_' in n for n in names)
    assert trainable == sum(p.numel() for n, p in model.named_parameters() if 'lora_' in n)
    assert 0 < trainable / total < 0.5
    assert any('patch_embed.lora_A' in n for n in names)
    assert any('text_embed.lora_embedding_A' in n for n in names)


def test_finetune_changes_only_targeted_weights_and_lowers_the_loss():
    policy = tiny_policy(robotics_categorical=True, image_size=24, max_text_len=24)
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
