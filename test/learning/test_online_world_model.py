"""The world model's runtime without ROS: frames in, decisions out, reports in, one status dict."""
import time

import numpy as np
import pytest

from nanobot_ros.learning.adaptive_loop import FrameRejected, LoopConfig
from nanobot_ros.learning.online import OnlineConfig, OnlineWorldModel, SUMMARY_FIGURES
from nanobot_ros.learning.world_model import WorldModelSize
from tiny_world_model import dot_frame, IMG

SIZE = WorldModelSize(img_size=IMG, patch_size=8, embed_dim=32, depth=1, predictor_depth=1)
# Threshold 1.0: never gated, so every frame gets a decision.
LOOP = LoopConfig(actions=[0, 1], idle_action=0, batch_size=2, reconstruction_threshold=1.0)


def runtime(tmp_path, **settings) -> OnlineWorldModel:
    errors = []
    model = OnlineWorldModel(
        OnlineConfig(checkpoint_dir=str(tmp_path / 'checkpoints'), run_dir=str(tmp_path),
                     save_interval=0, sync_interval=1, **settings),
        SIZE, LOOP, report_error=errors.append)
    model.errors = errors
    return model


def drive(model: OnlineWorldModel, frames: int, first: int = 0) -> None:
    """Answer `frames` dot frames 1 s apart, sending the chosen action, the robot reporting it."""
    x = 0
    for index in range(first, first + frames):
        key = (index, 0)
        decision = model.decide(model.check(dot_frame(x)), key, float(index))
        model.answered(decision, key, float(index), decision.action, float(index) + 0.1,
                       0.02, 'acting')
        model.executed(key, decision.action)
        x += 2 * decision.action


def test_frames_decisions_and_reports_are_counted_in_the_one_status_dict(tmp_path):
    model = runtime(tmp_path)
    drive(model, 6)
    values = model.status_values()
    assert values['frames'] == 6 and values['actions_sent'] == 6
    assert values['executed_reports'] == 6 and values['unreported_steps'] == 0
    # Six frames close five steps: each is one transition learned, labelled by its report.
    assert sum(values['transition_actions'].values()) == 5
    assert values['state'] == 'acting' and values['actions'] == [0, 1]
    assert values['answer_latency_ms'] == pytest.approx(20.0)
    assert values['frames_rejected'] == 0 and values['answers_too_late'] == 0
    assert set(SUMMARY_FIGURES) <= set(values)
    model.stop()


def test_a_rejected_frame_is_counted_once_and_breaks_the_history(tmp_path):
    model = runtime(tmp_path)
    drive(model, 2)
    with pytest.raises(FrameRejected, match='the model sees'):
        model.check(np.zeros((IMG + 1, IMG, 3), np.uint8))
    model.reject()
    assert model.status_values()['frames_rejected'] == 1
    assert model.loop.frames_rejected == 1
    assert model.status_values()['frames'] == 2
    # The next frame closes no step: the one before the rejected frame was dropped.
    drive(model, 1, first=3)
    assert sum(model.status_values()['transition_actions'].values()) == 1
    model.stop()


def test_a_late_answer_sends_nothing_and_the_step_is_labelled_idle(tmp_path):
    model = runtime(tmp_path)
    decision = model.decide(dot_frame(0), (0, 0), 0.0)
    model.answered(decision, (0, 0), 0.0, None, 0.5, 0.5, 'late')
    model.decide(dot_frame(0), (1, 0), 1.0)
    values = model.status_values()
    assert values['answers_too_late'] == 1 and values['actions_sent'] == 0
    assert values['action'] == -1 and values['state'] == 'late'
    assert values['transition_actions'] == {'0': 1}
    model.stop()


def test_the_learner_thread_trains_and_stop_saves_and_draws(tmp_path):
    model = runtime(tmp_path)
    model.start()
    drive(model, 4)
    deadline = time.monotonic() + 60.0
    while model.status_values()['predictor_training_step'] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    model.images(model.decide(dot_frame(0), (9, 0), 9.0).perception, None)
    model.stop()
    values = model.status_values()
    assert values['predictor_training_step'] >= 3, values
    assert values['autoencoder_training_loss'] is not None
    assert model.errors == []
    assert (tmp_path / 'checkpoints' / 'world_model.safetensors').is_file()
    assert (tmp_path / 'world_model_learning_curve.png').stat().st_size > 1000
    assert (tmp_path / 'world_model_predictions.png').stat().st_size > 1000
