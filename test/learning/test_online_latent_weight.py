"""The node's latent_loss_weight weighs the predictor's latent loss, fresh and resumed."""
import pytest
import torch

from tiny_world_model import IMG, tiny_online_learner


def losses_of_one_step(learner):
    generator = torch.Generator().manual_seed(0)
    history = torch.rand(4, 1, 3, IMG, IMG, generator=generator)
    next_frames = torch.rand(4, 3, IMG, IMG, generator=generator)
    return learner.train_step(history, torch.tensor([[0], [1], [0], [1]]), next_frames)


@pytest.mark.parametrize('weight', [0.0, 0.25])
def test_the_predictor_loss_is_the_patch_loss_plus_the_weighted_latent_loss(tmp_path, weight):
    learner = tiny_online_learner(tmp_path, latent_loss_weight=weight).loop.learner
    assert learner.config.loss_weights.latent == weight
    metrics = losses_of_one_step(learner)
    assert metrics['predictor_latent_loss'] > 0
    assert metrics['predictor_training_loss'] == pytest.approx(
        metrics['predictor_patch_loss'] + weight * metrics['predictor_latent_loss'], rel=1e-6)


def test_a_resumed_learner_takes_the_weight_of_the_node_not_of_its_checkpoint(tmp_path):
    saved = tiny_online_learner(tmp_path)
    assert saved.loop.learner.config.loss_weights.latent == 1.0
    saved.checkpoints.save(saved.loop)
    resumed = tiny_online_learner(tmp_path, latent_loss_weight=0.0)
    assert resumed.resumed_from == str(tmp_path / 'world_model.safetensors')
    assert resumed.loop.learner.config.loss_weights.latent == 0.0
