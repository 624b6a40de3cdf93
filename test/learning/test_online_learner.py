"""The world_model node's learner, built without ROS: fresh start, resume, explicit rates."""
import pytest

from tiny_world_model import IMG, tiny_online_learner


def test_a_fresh_start_takes_the_config_rates_and_has_an_acting_copy(tmp_path):
    built = tiny_online_learner(tmp_path, config_predictor_lr=1e-3, log_interval=7)
    assert built.resumed_from is None
    assert built.lr_sources == {'autoencoder': 'config', 'predictor': 'config'}
    assert built.loop.learner.predictor_optimizer.param_groups[0]['lr'] == 1e-3
    assert built.loop.actor is not built.loop.learner
    assert built.loop.config.detailed_metrics_interval == 7
    assert built.loop.hierarchy is None
    assert built.model_config.vit.img_size == IMG


def test_a_saved_learner_resumes_with_its_rates_unless_one_is_explicit(tmp_path):
    first = tiny_online_learner(tmp_path, levels=1, config_predictor_lr=1e-3)
    first.loop.learner.autoencoder_training_step = 12
    first.checkpoints.save(first.loop)
    again = tiny_online_learner(tmp_path, levels=1, config_predictor_lr=5e-4, autoencoder_lr=2e-3)
    assert again.resumed_from == str(tmp_path / 'world_model.safetensors')
    assert again.lr_sources == {'autoencoder': 'explicit', 'predictor': 'checkpoint'}
    assert again.loop.learner.autoencoder_training_step == 12
    assert again.loop.learner.predictor_optimizer.param_groups[0]['lr'] == 1e-3
    assert again.loop.learner.autoencoder_optimizer.param_groups[0]['lr'] == 2e-3
    assert again.loop.hierarchy is not None


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    saved = tiny_online_learner(tmp_path)
    saved.checkpoints.save(saved.loop)
    with pytest.raises(ValueError, match='checkpoint was made for a different model '
                       'configuration'):
        tiny_online_learner(tmp_path, embed_dim=48)
