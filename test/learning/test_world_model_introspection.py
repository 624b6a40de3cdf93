"""Attention metrics on a hand-built map; counterfactuals and gradients on a trained tiny model."""
import math

import pytest
import torch

from nanobot_ros.learning.predictor_introspection import attention_heatmap, attention_metrics, \
    token_layout
from nanobot_ros.learning.world_model import WorldModel
from tiny_world_model import dot_frame, tiny_config


def hand_built_attention() -> torch.Tensor:
    """2 history steps of 2 patches: [f0 f0 a0 f1 f1 a1 future future], 2 identical heads."""
    attention = torch.zeros(1, 2, 8, 8, dtype=torch.float64)
    attention[0, :, 6] = torch.tensor([0.1, 0.1, 0.1, 0.2, 0.1, 0.2, 0.2, 0.0],
                                      dtype=torch.float64)
    attention[0, :, 7] = torch.tensor([0.0, 0.0, 0.0, 0.5, 0.0, 0.5, 0.0, 0.0],
                                      dtype=torch.float64)
    attention[0, :, :6] = 1.0 / 8  # history rows are not future queries: they must not count
    return attention


def test_token_layout():
    layout = token_layout(2, 2)
    assert layout['frames'].tolist() == [0, 1, 3, 4]
    assert layout['actions'].tolist() == [2, 5]
    assert layout['last_action'].tolist() == [5] and layout['last_frame'].tolist() == [3, 4]
    assert layout['future'].tolist() == [6, 7]


def test_metrics_of_a_hand_built_attention_map():
    figures = attention_metrics(hand_built_attention(), t=2, n=2)
    expected = {
        'apa': (0.2 + 0.5) / 2, 'alf': (0.3 + 0.5) / 2,
        'ttar': ((0.3 + 0.5) / 2) / ((0.5 + 0.5) / 2),
        'ri@16': (0.8 + 1.0) / 2,  # only 6 tokens precede the future: all of them
        'entropy': (-(4 * 0.1 * math.log(0.1) + 3 * 0.2 * math.log(0.2)) + math.log(2)) / 2,
        'uniform/apa': 1 / 8, 'uniform/alf': 2 / 8, 'uniform/ttar': 1 / 2,
        'uniform/ri@16': 6 / 8, 'uniform/entropy': math.log(8)}
    assert figures.keys() == expected.keys()
    for name, value in expected.items():
        assert figures[name] == pytest.approx(value, abs=1e-9), name


def test_metrics_refuse_a_map_of_another_layout():
    with pytest.raises(ValueError, match='is not 2 steps of 3 patches'):
        attention_metrics(hand_built_attention(), t=2, n=3)


def test_heatmap_colours_token_types():
    image = attention_heatmap(hand_built_attention(), t=2, n=2, scale=1)
    assert image.shape == (2, 8, 3) and image.dtype.name == 'uint8'
    # Row 1 (second future query): its maximum is on frame 1 (red) and action 1 (green).
    assert image[1, 3].tolist() == [255, 0, 0] and image[1, 5].tolist() == [0, 255, 0]
    assert image[0, 6].tolist() == [0, 0, 255]


@pytest.fixture(scope='module')
def trained():
    """Return a tiny world model trained on stay / move-8-px transitions from 8 columns."""
    model = WorldModel(tiny_config(), seed=0)
    xs = [2, 6, 10, 14, 18, 22, 26, 30]
    before = [dot_frame(x) for x in xs for _ in (0, 1)]
    after = [dot_frame((x + 8 * a) % 32) for x in xs for a in (0, 1)]
    history = model.to_tensor(before)[:, None]
    actions = torch.tensor([[a] for _ in xs for a in (0, 1)])
    next_frames = model.to_tensor(after)
    for _ in range(150):
        model.train_step(history, actions, next_frames)
    return model, (history, actions, next_frames)


def test_counterfactual_actions_raise_the_loss_of_a_trained_model(trained):
    model, batch = trained
    metrics, heatmap = model.diagnostics(*batch)
    true = metrics['counterfactual/true_loss']
    assert metrics['counterfactual/shuffled_loss'] > 1.5 * true
    assert metrics['counterfactual/zeroed_loss'] > 1.5 * true
    assert metrics['action_sensitivity'] > 0
    assert 0 <= metrics['attention/apa'] <= 1 and metrics['attention/uniform/apa'] == 1 / 33
    assert metrics['attention/entropy'] <= metrics['attention/uniform/entropy']
    assert heatmap.shape == (16 * 4, 33 * 4, 3)


def test_detailed_step_reports_gradient_flow_per_layer(trained):
    model, batch = trained
    metrics = model.train_step(*batch, detailed=True)
    assert 0 < metrics['action_gradient_share'] < 1
    assert metrics['predictor_grad_norm'] > 0 and metrics['predictor_uwr_95th'] > 0
    for sublayer in ('self_attn', 'linear1', 'linear2'):
        assert metrics[f'grad_norms/transformer/transformer_layer_0_{sublayer}'] > 0
        assert metrics[f'uwr/transformer/transformer_layer_0_{sublayer}'] > 0
    assert 'action_gradient_share' not in model.train_step(*batch)
