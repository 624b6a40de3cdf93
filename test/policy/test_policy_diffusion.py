"""Diffusion head: schedule, DDIM timesteps, deterministic samplers given the noise."""
import pytest
import torch

from nanobot_ros.policy.diffusion import cosine_alpha_bars, ddim_timesteps, DiffusionHead


def test_schedule_decreases_and_ddim_steps_span_it():
    alpha_bars = cosine_alpha_bars(100)
    assert alpha_bars.shape == (100,) and torch.all(alpha_bars[1:] < alpha_bars[:-1])
    assert ddim_timesteps(100, 10)[0] == 99 and ddim_timesteps(100, 10)[-1] == 0
    assert len(ddim_timesteps(100, 10)) == 10
    with pytest.raises(ValueError, match='1 <= k <= 100'):
        ddim_timesteps(100, 0)


def test_samplers_are_functions_of_condition_and_noise():
    torch.manual_seed(0)
    head = DiffusionHead(action_dim=2, cond_dim=8, steps=20, hidden=16).eval()
    cond = torch.randn(3, 8)
    ddim_noise = torch.randn(head.noise_shape('ddim', 3))
    ddpm_noise = torch.randn(head.noise_shape('ddpm', 3))
    assert ddpm_noise.shape == (20, 3, 2)
    with torch.no_grad():
        assert torch.equal(head.sample_ddim(cond, ddim_noise[0], 5),
                           head.sample_ddim(cond, ddim_noise[0], 5))
        assert torch.equal(head.sample_ddpm(cond, ddpm_noise), head.sample_ddpm(cond, ddpm_noise))
        assert head.sample_ddpm(cond, ddpm_noise).shape == (3, 2)


def test_both_prediction_targets_train_and_unknown_is_refused():
    cond, actions = torch.randn(4, 8), torch.rand(4, 2) * 2 - 1
    for prediction in ('epsilon', 'sample'):
        head = DiffusionHead(2, 8, steps=20, hidden=16, prediction=prediction)
        assert torch.isfinite(head.loss(actions, cond))
    with pytest.raises(ValueError, match='epsilon or sample'):
        DiffusionHead(2, 8, prediction='velocity')
