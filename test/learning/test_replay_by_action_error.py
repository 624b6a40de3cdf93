"""Replay by action error: a share of the draws follows each action's running prediction error."""
from collections import Counter

import numpy as np
import pytest
import torch

from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.replay_buffer import ActionErrors, Transition, TransitionBuffer
from nanobot_ros.learning.world_model import action_patch_losses, WorldModel
from nanobot_ros.models.vit import images_to_tensor
from tiny_world_model import dot_frame, dot_world, tiny_config


def test_weights_are_even_until_every_action_has_an_error_then_follow_the_errors():
    errors = ActionErrors([0, 1, 2], error_share=0.5, decay=0.5)
    errors.update({1: 4.0, 2: 2.0})
    assert errors.weights() is None  # action 0 not measured yet
    errors.update({0: 0.0, 1: 0.0})  # action 1: 0.5 * 4 + 0.5 * 0 = 2
    assert errors.errors == {0: 0.0, 1: 2.0, 2: 2.0}
    # Half evenly (1/6 each), half in proportion to 0 : 2 : 2.
    assert errors.weights() == pytest.approx({0: 1 / 6, 1: 1 / 6 + 1 / 4, 2: 1 / 6 + 1 / 4})
    assert ActionErrors([0, 1], error_share=0.0).weights() is None


def test_the_buffer_draws_actions_by_the_weights_given():
    buffer = TransitionBuffer(100, seed=0)
    frame = np.zeros((4, 4, 3), dtype=np.uint8)
    for i in range(100):
        buffer.add(Transition((frame,), (i % 3,), frame))
    counts = Counter()
    for _ in range(50):
        _, actions, _ = buffer.sample(8, newest=1, balanced=True,
                                      action_weights={0: 0.0, 1: 3.0, 2: 1.0})
        assert actions[0, 0] == 0  # the newest (i = 99) leads every batch
        counts.update(actions[1:, 0].tolist())
    assert counts[0] == 0 and sum(counts.values()) == 350
    assert 230 < counts[1] < 300, counts  # 3 : 1, about 262 : 88
    # All-zero weights for the actions stored: evenly over them.
    _, actions, _ = buffer.sample(300, newest=0, balanced=True, action_weights={0: 0.0, 1: 0.0,
                                                                                2: 0.0})
    assert set(actions[:, 0].tolist()) == {0, 1, 2}


def test_a_batch_of_one_action_reports_its_patch_loss_under_that_action_alone():
    model = WorldModel(tiny_config(), seed=0)
    history = images_to_tensor(np.stack([dot_frame(x) for x in (0, 4, 8, 12)]))[:, None]
    moved = images_to_tensor(np.stack([dot_frame(x) for x in (4, 8, 12, 16)]))
    metrics = model.train_step(history, torch.ones(4, 1, dtype=torch.long), moved)
    assert action_patch_losses(metrics) == {1: pytest.approx(metrics['predictor_patch_loss'])}


def test_the_loop_keeps_each_action_error_its_learner_steps_measure():
    config = LoopConfig(actions=(0, 1), batch_size=4, replay_error_share=0.5,
                        reconstruction_threshold=1.0)  # no gate: joint steps from the first
    loop = AdaptiveWorldModelLoop(WorldModel(tiny_config(), seed=0), config)
    execute = dot_world()
    frame = dot_frame(0)
    while set(loop.action_errors.errors) != {0, 1}:
        frame = loop.step(frame, execute)['next_frame']
        assert loop.learner.autoencoder_training_step < 50
    first = dict(loop.action_errors.errors)
    measured_now = action_patch_losses(loop.train())
    assert measured_now and set(measured_now) <= {0, 1}
    for label in (0, 1):
        measured = measured_now.get(label)
        expected = first[label] if measured is None else 0.98 * first[label] + 0.02 * measured
        assert loop.action_errors.errors[label] == pytest.approx(expected)
    with pytest.raises(ValueError, match='replay_error_share'):
        LoopConfig(replay_error_share=1.5).validate()
