"""GRPO on a toy task: group advantages, the clipped loss, one run improving the return, resume."""
import numpy as np
import pytest
import torch

from nanobot_ros.policy.grpo import (GRPOConfig, GRPOTrainer, group_advantages, grpo_loss,
                                     TRAIN_SEEDS)
from nanobot_ros.policy.weights import save_policy
from nanobot_ros.robots.sim.task_family import (family_expert_action, TaskFamily,
                                                TaskFamilyConfig)
from policy_fixtures import tiny_policy

# One marker on a 3 x 3 torus, one step: an episode succeeds iff the first action is right.
TOY = TaskFamilyConfig(img_size=24, colors=('red', 'green'), min_markers=1, max_markers=1,
                       two_step=0.0, step_budget=1)


def toy_config(tmp_path, **overrides) -> GRPOConfig:
    torch.manual_seed(0)
    policy = tiny_policy(head='categorical', image_size=24, max_text_len=24)
    with torch.no_grad():  # a poor start: mostly 'stay', which never reaches the marker
        policy.head[-1].bias[0] = 3.0
    save_policy(tmp_path / 'bc.safetensors', policy)
    values = dict(init=str(tmp_path / 'bc.safetensors'), run_dir=str(tmp_path / 'grpo'),
                  task=TOY, start_states=16, group_size=8, lr=3e-3, minibatch=32, kl_coef=0.0,
                  step_cost=0.0, max_iterations=4, checkpoint_every=2, wandb=False,
                  progress=False)
    values.update(overrides)
    return GRPOConfig(**values)


def expected_return(trainer: GRPOTrainer, seeds) -> float:
    """Exact success probability over `seeds`: P(the one move that lands on the marker)."""
    task, total = TaskFamily(TOY), []
    for seed in seeds:
        instruction = task.reset(int(seed))
        if task.optimal_steps != 1:
            total.append(0.0)
            continue
        action = family_expert_action(task.render(), task.waypoints, TOY.move_pixels)
        inputs = trainer.processor.preprocess([{'image': task.render(),
                                                'instruction': instruction}])
        with torch.no_grad():
            logits = trainer.policy.action_logits(torch.from_numpy(inputs['images']),
                                                  torch.from_numpy(inputs['text']))
        total.append(float(torch.softmax(logits, 1)[0, action]))
    return float(np.mean(total))


def test_group_advantages_are_centred_and_scaled_per_group():
    advantages = group_advantages(np.array([1.0, 0.0, 0.0, 1.0, 1.0, 1.0]), 3)
    np.testing.assert_allclose(advantages[:3], [2 / 3 / np.sqrt(2 / 9), -1 / 3 / np.sqrt(2 / 9),
                                                -1 / 3 / np.sqrt(2 / 9)], rtol=1e-5)
    np.testing.assert_allclose(advantages[3:], [0.0, 0.0, 0.0])


def test_loss_is_clipped_and_kl_zero_at_the_reference():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]], requires_grad=True)
    actions = torch.tensor([0, 1])
    logp = torch.log_softmax(logits, 1).gather(1, actions[:, None])[:, 0].detach()
    loss, kl = grpo_loss(logits, actions, logp - 1.0, logp, torch.tensor([1.0, 1.0]), 0.2, 0.5)
    assert float(kl) == pytest.approx(0.0, abs=1e-7)
    assert float(loss) == pytest.approx(-1.2)  # ratio e > 1 + clip: clipped, no gradient
    loss.backward()
    assert float(logits.grad.abs().max()) == 0.0


def test_grpo_improves_the_toy_policys_return_and_resumes(tmp_path):
    config = toy_config(tmp_path)
    trainer = GRPOTrainer(config)
    seeds = TRAIN_SEEDS + np.arange(64)
    before = expected_return(trainer, seeds)
    summary = trainer.run()
    after = expected_return(trainer, seeds)
    assert summary['iterations'] == 4
    assert summary['env_steps'] == 4 * 16 * 8  # one step per episode
    assert after > 2 * before, (before, after)  # measured: 0.019 -> 0.049
    resumed = GRPOTrainer(toy_config(tmp_path, max_iterations=5))
    assert resumed.resumed_from == 4 and resumed.env_steps == 512
    assert resumed.run()['iterations'] == 5


def test_grpo_refuses_a_policy_without_a_categorical_head(tmp_path):
    config = toy_config(tmp_path)
    save_policy(config.init, tiny_policy(image_size=24, max_text_len=24))
    with pytest.raises(ValueError, match='categorical'):
        GRPOTrainer(config)
