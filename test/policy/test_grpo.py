"""GRPO on a toy task: advantages, step weights, a hand-checked update, learning, resume."""
import numpy as np
import pytest
import torch

from nanobot_ros.policy import grpo
from nanobot_ros.policy.grpo import (episode_step_weights, GRPOTrainer, group_advantages,
                                     grpo_loss, sampling_uniforms, TRAIN_SEEDS)
from nanobot_ros.policy.weights import save_policy
from nanobot_ros.robots.sim.task_family import family_expert_action, TaskFamily
from policy_fixtures import tiny_policy, TOY, toy_config


def expert_probability(trainer: GRPOTrainer, seeds) -> float:
    """Mean probability the policy gives the expert's first move, over the start frames."""
    task, total = TaskFamily(TOY), []
    for seed in seeds:
        instruction = task.reset(int(seed))
        if task.optimal_steps == 0:
            continue
        action = family_expert_action(task.render(), task.waypoints, TOY.move_pixels)
        inputs = trainer.processor.preprocess([{'image': task.render(),
                                                'instruction': instruction}])
        with torch.no_grad():
            logits = trainer.policy.action_logits(torch.from_numpy(inputs['images']),
                                                  torch.from_numpy(inputs['text']))
        total.append(float(torch.softmax(logits, 1)[0, action]))
    return float(np.mean(total))


def test_group_advantages_are_centred_per_group_and_scaled_only_when_asked():
    rewards = np.array([1.0, 0.0, 0.0, 0.9, 0.8, 0.8])
    np.testing.assert_allclose(group_advantages(rewards, 3),
                               [2 / 3, -1 / 3, -1 / 3, 0.2 / 3, -0.1 / 3, -0.1 / 3], atol=1e-12)
    scaled = group_advantages(rewards, 3, divide_by_std=True)
    # with the std division a 0.1 reward gap between two successes weighs as a failure does
    np.testing.assert_allclose(scaled[3:], scaled[:3], rtol=1e-4)


def test_episode_weights_give_each_episode_one_share_and_step_weights_each_step():
    np.testing.assert_allclose(episode_step_weights(np.array([2, 6]), 'episode'), [1 / 4, 1 / 12])
    np.testing.assert_allclose(episode_step_weights(np.array([2, 6]), 'step'), [1 / 8, 1 / 8])
    with pytest.raises(ValueError, match='average'):
        episode_step_weights(np.array([2]), 'token')


def test_loss_is_clipped_asymmetrically_weighted_and_kl_zero_at_the_reference():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]], requires_grad=True)
    actions = torch.tensor([0, 1])
    log_probs = torch.log_softmax(logits, 1)
    logp = log_probs.gather(1, actions[:, None])[:, 0].detach()
    for estimator in ('k3', 'exact'):
        loss, k3, exact = grpo_loss(log_probs, actions, logp - 1.0, log_probs.detach(),
                                    torch.tensor([1.0, 1.0]), torch.tensor([0.25, 0.75]),
                                    0.2, 0.28, 0.5, estimator)
        assert float(k3.abs().max()) == pytest.approx(0.0, abs=1e-7)
        assert float(exact.abs().max()) == pytest.approx(0.0, abs=1e-7)
        # ratio e > 1 + clip_high: clipped at 1.28, no gradient (the KL's is zero here)
        assert float(loss.detach()) == pytest.approx(-1.28)
        logits.grad = None
        loss.backward(retain_graph=True)
        assert float(logits.grad.abs().max()) == pytest.approx(0.0, abs=1e-7)


def test_the_exact_kl_is_the_kl_over_the_actions_and_k3_its_one_sample_estimate():
    log_probs = torch.log_softmax(torch.tensor([[1.0, 0.0, -1.0]]), 1)
    ref_log_probs = torch.log_softmax(torch.tensor([[0.0, 0.5, 0.0]]), 1)
    p, ref = log_probs.exp()[0], ref_log_probs.exp()[0]
    want = float((p * (p / ref).log()).sum())
    k3s = []
    for action in range(3):
        _, k3, exact = grpo_loss(log_probs, torch.tensor([action]), log_probs[0, action][None],
                                 ref_log_probs, torch.zeros(1), torch.ones(1), 0.2, 0.2, 1.0,
                                 'exact')
        assert float(exact[0]) == pytest.approx(want, rel=1e-6)
        k3s.append(float(k3[0]))
    assert float((p * torch.tensor(k3s)).sum()) == pytest.approx(want, rel=1e-5)  # unbiased


def reference_gradient(trainer: GRPOTrainer, record, batch, average: str) -> list:
    """Return the first update's gradient, computed loop by loop from the rollout's steps.

    At the trainer's temperature and KL estimator, the clone's weights and ratio 1 (no clip).
    """
    c, group = trainer.config, trainer.config.group_size
    episodes = len(batch.tasks)
    rewards = [float(batch.success[e]) - c.step_cost * int(batch.steps[e])
               for e in range(episodes)]
    advantage = [rewards[e] - np.mean(rewards[e // group * group:(e // group + 1) * group])
                 for e in range(episodes)]
    kept = [e for e in range(episodes)
            if max(abs(advantage[g]) for g in range(e // group * group, (e // group + 1) * group))
            > 1e-8]
    total_steps = sum(int(batch.steps[e]) for e in kept)
    terms = []
    trainer.policy.zero_grad(set_to_none=True)
    for e in kept:
        rows = [i for i, episode in enumerate(record.episode) if episode == e]
        assert len(rows) == batch.steps[e]
        images, text = trainer._inputs([record.images[i] for i in rows],
                                       [record.text[i] for i in rows])
        actions = torch.tensor([record.actions[i] for i in rows])
        log_probs = torch.log_softmax(trainer.policy.action_logits(images, text)
                                      / c.temperature, 1)
        logp = log_probs.gather(1, actions[:, None])[:, 0]
        with torch.no_grad():
            ref_log_probs = torch.log_softmax(trainer.reference.action_logits(images, text)
                                              / c.temperature, 1)
            ref = ref_log_probs.gather(1, actions[:, None])[:, 0]
        old = torch.tensor([record.logp[i] for i in rows])
        torch.testing.assert_close(logp.detach(), old)  # stored at sampling, same temperature
        ratio = torch.exp(logp - old)  # 1 at the first update, with its gradient
        if c.kl_estimator == 'k3':
            kl = torch.exp(ref - logp) - (ref - logp) - 1
        else:
            kl = sum(log_probs[:, a].exp() * (log_probs[:, a] - ref_log_probs[:, a])
                     for a in range(log_probs.shape[1]))
        per_step = -ratio * advantage[e] + c.kl_coef * kl
        terms.append(per_step.mean() / len(kept) if average == 'episode'
                     else per_step.sum() / total_steps)
    torch.stack(terms).sum().backward()
    grads = [p.grad.clone() for p in trainer.parameters]
    norm = float(torch.stack([g.norm() for g in grads]).norm())
    trainer.policy.zero_grad(set_to_none=True)
    return [g * min(1.0, 1.0 / (norm + 1e-6)) for g in grads]  # clip_grad_norm_'s clipping


class RecordingOptimizer:
    """Stands in for AdamW in one test: keeps the gradients of each step, changes nothing."""

    def __init__(self, parameters):
        self.parameters, self.steps = parameters, []

    def zero_grad(self, set_to_none=True):
        for p in self.parameters:
            p.grad = None

    def step(self):
        self.steps.append([p.grad.clone() for p in self.parameters])


@pytest.mark.parametrize('average,kl_estimator,temperature',
                         [('episode', 'k3', 1.0), ('step', 'k3', 1.0), ('episode', 'exact', 1.6)])
def test_the_update_weighs_steps_by_their_episode_and_group(tmp_path, monkeypatch, average,
                                                            kl_estimator, temperature):
    monkeypatch.setattr(grpo, 'FORWARD_CHUNK', 5)  # a minibatch's steps in several passes
    trainer = GRPOTrainer(toy_config(tmp_path, start_states=4, group_size=4, minibatches=1,
                                     update_epochs=1, loss_average=average, kl_coef=0.5,
                                     kl_estimator=kl_estimator, temperature=temperature))
    with torch.no_grad():  # away from the clone, so the KL term and its gradient are not zero
        trainer.policy.head[-1].bias.add_(torch.tensor([-2.0, 0.5, 0.0, 0.3, -0.2]))
    rollouts = []
    play = trainer.rollout
    trainer.rollout = lambda seeds: rollouts.append(play(seeds)) or rollouts[-1]
    trainer.optimizer = RecordingOptimizer(trainer.parameters)
    result = trainer.iterate()
    (record, batch), = rollouts
    assert len(set(batch.steps.tolist())) > 1 and 0 < batch.success.mean() < 1  # a real test
    assert result['kl'] > 0.01
    trainer.rollout = play
    (update,) = trainer.optimizer.steps
    for got, want in zip(update, reference_gradient(trainer, record, batch, average)):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-7)
    other = reference_gradient(trainer, record, batch,
                               'step' if average == 'episode' else 'episode')
    assert max(float((g - o).abs().max()) for g, o in zip(update, other)) > 1e-4


def test_an_episode_samples_the_same_actions_in_any_batch(tmp_path):
    trainer = GRPOTrainer(toy_config(tmp_path, group_size=2))
    seeds = TRAIN_SEEDS + np.arange(4)
    whole, _ = trainer.rollout(seeds)
    part, _ = trainer.rollout(seeds[2:])
    rows = [i for i, e in enumerate(whole.episode) if e >= 4]
    assert [whole.actions[i] for i in rows] == part.actions
    assert sampling_uniforms(0, seeds[2:], 2, 3).tolist() == \
        sampling_uniforms(0, seeds, 2, 3)[4:].tolist()


def test_grpo_with_the_kl_on_improves_the_toy_policy_and_resumes(tmp_path):
    config = toy_config(tmp_path)
    trainer = GRPOTrainer(config)
    seeds = TRAIN_SEEDS + np.arange(64)
    before = expert_probability(trainer, seeds)
    summary = trainer.run()
    after = expert_probability(trainer, seeds)
    assert summary['iterations'] == 4
    assert summary['env_steps'] == pytest.approx(sum(h['mean_steps'] * 16 * 8
                                                     for h in trainer.history))
    assert after > 1.5 * before, (before, after)  # measured: 0.099 -> 0.208
    assert 0 < summary['max_kl'] < 1.0
    resumed = GRPOTrainer(toy_config(tmp_path, max_iterations=5))
    assert resumed.resumed_from == 4 and resumed.env_steps == summary['env_steps']
    assert resumed.run()['iterations'] == 5


def test_grpo_refuses_a_policy_without_a_categorical_head(tmp_path):
    config = toy_config(tmp_path)
    save_policy(config.init, tiny_policy(image_size=24, max_text_len=24))
    with pytest.raises(ValueError, match='categorical'):
        GRPOTrainer(config)


@pytest.mark.parametrize('override,message', [({'kl_estimator': 'k2'}, 'kl_estimator'),
                                              ({'temperature': 0.0}, 'temperature')])
def test_grpo_refuses_an_unknown_kl_estimator_or_a_temperature_not_above_zero(
        tmp_path, override, message):
    with pytest.raises(ValueError, match=message):
        GRPOTrainer(toy_config(tmp_path, **override))
