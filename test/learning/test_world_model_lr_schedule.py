"""The learning-rate schedule: both rates fall by half a cosine, then hold.

A checkpoint keeps the rate the schedule started from.
"""
import pytest

from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.world_model import WorldModel
from tiny_world_model import dot_frame, dot_world, tiny_config

LR = 3e-3  # tiny_config's learning rates


def rates(model: WorldModel) -> list:
    return [group['lr'] for optimizer in (model.autoencoder_optimizer,
                                          model.predictor_optimizer)
            for group in optimizer.param_groups]


def test_scale_falls_by_half_a_cosine_then_holds():
    config = LoopConfig(lr_decay_steps=4, lr_final_ratio=0.1)
    assert [config.learning_rate_scale(step) for step in (0, 2, 4, 9)] == pytest.approx(
        [1.0, 0.55, 0.1, 0.1])
    assert LoopConfig().learning_rate_scale(10 ** 6) == 1.0
    with pytest.raises(ValueError, match='lr_final_ratio'):
        LoopConfig(lr_final_ratio=0.0).validate()


def test_learner_steps_follow_the_schedule_and_a_restore_restarts_from_the_saved_start():
    config = LoopConfig(lr_decay_steps=4, lr_final_ratio=0.1, batch_size=2)
    loop = AdaptiveWorldModelLoop(WorldModel(tiny_config(), seed=0), config)
    execute = dot_world()
    frame = dot_frame(0)
    for step in range(3):
        frame = loop.step(frame, execute)['next_frame']
    # The third step ran at the scale of step 2 (0.55); the rate now is that one.
    assert rates(loop.learner) == pytest.approx([LR * 0.55] * 2)
    saved = loop.learner.state_tensors(), loop.learner.state_metadata()
    resumed = WorldModel(tiny_config(), seed=1)
    assert resumed.load_state(*saved) == {'autoencoder': 'checkpoint',
                                          'predictor': 'checkpoint'}
    assert rates(resumed) == pytest.approx([LR] * 2)  # where the schedule started
    loop = AdaptiveWorldModelLoop(resumed, config)
    for step in range(3):
        frame = loop.step(frame, execute)['next_frame']
    assert resumed.autoencoder_training_step == 6
    # Steps 3, 4, 5 ran at the scales of 3, 4 and 5: past lr_decay_steps, the final ratio.
    assert rates(resumed) == pytest.approx([LR * 0.1] * 2)
