"""TransformerActionConditionedPredictor: shapes, segment-causal attention, history clipping."""
import pytest
import torch

from nanobot_ros.models.predictor import (PredictorConfig, segment_causal_mask,
                                          TransformerActionConditionedPredictor)

TINY = PredictorConfig(feature_dim=16, num_patches=4, num_actions=3, embed_dim=16, depth=2,
                       num_heads=2, max_history=3, token_capacity=64)


def test_shapes_and_per_layer_attention_maps():
    model = TransformerActionConditionedPredictor(TINY)
    features = torch.randn(2, 3, 4, 16)
    actions = torch.tensor([[0, 1, 2], [2, 2, 0]])
    predicted, attention = model(features, actions, return_attn=True)
    assert predicted.shape == (2, 4, 16)
    length = 3 * (4 + 1) + 4
    assert len(attention) == 2 and attention[0].shape == (2, 2, length, length)
    assert model(features, actions)[1] is None


def test_attention_is_causal_by_segment():
    segments = torch.tensor([0, 0, 1, 2, 2])
    mask = segment_causal_mask(segments)
    assert mask[0, 1] and mask[1, 0]          # tokens of one frame see each other
    assert not mask[0, 2] and mask[2, 0]      # a frame never sees the action after it
    model = TransformerActionConditionedPredictor(TINY)
    _, attention = model(torch.randn(1, 2, 4, 16), torch.tensor([[0, 1]]), return_attn=True)
    first_frame = attention[0][0, :, :4]       # queries of frame 0
    assert torch.all(first_frame[:, :, 4:] == 0)


def test_the_action_changes_the_prediction_once_trained_a_little():
    torch.manual_seed(0)
    model = TransformerActionConditionedPredictor(TINY)
    features = torch.randn(1, 1, 4, 16)
    targets = {0: features[0, 0], 1: -features[0, 0]}
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(60):
        loss = sum(((model(features, torch.tensor([[a]]))[0][0] - t) ** 2).mean()
                   for a, t in targets.items())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    stay = model(features, torch.tensor([[0]]))[0]
    move = model(features, torch.tensor([[1]]))[0]
    assert (stay - move).abs().mean() > 0.5


def test_history_is_clipped_to_the_token_capacity():
    config = PredictorConfig(feature_dim=16, num_patches=4, num_actions=2, embed_dim=16,
                             depth=1, num_heads=2, max_history=8, token_capacity=4 + 2 * 5)
    assert config.history_that_fits(8) == 2
    model = TransformerActionConditionedPredictor(config)
    features = torch.randn(1, 6, 4, 16)
    actions = torch.zeros(1, 6, dtype=torch.long)
    _, attention = model(features, actions, return_attn=True)
    assert attention[0].shape[-1] == 2 * 5 + 4
    # Frames older than the capacity make no difference.
    older = features.clone()
    older[:, :4] = torch.randn(1, 4, 4, 16)
    assert torch.allclose(model(features, actions)[0], model(older, actions)[0])


def test_bad_inputs_are_refused():
    model = TransformerActionConditionedPredictor(TINY)
    with pytest.raises(ValueError, match='features must be'):
        model(torch.randn(1, 1, 5, 16), torch.zeros(1, 1, dtype=torch.long))
    with pytest.raises(ValueError, match='action indices'):
        model(torch.randn(1, 1, 4, 16), torch.tensor([[3]]))
    with pytest.raises(ValueError, match='token_capacity'):
        PredictorConfig(num_patches=4, token_capacity=5).validate()


def test_heads_start_at_nothing_changes_and_disagree():
    model = TransformerActionConditionedPredictor(TINY)
    features = torch.randn(2, 2, 4, 16)
    actions = torch.tensor([[0, 1], [2, 2]])
    heads, _ = model.forward_heads(features, actions)
    assert heads.shape == (2, TINY.heads, 4, 16)
    # Antithetic initial heads: their mean is exactly the last frame; each head differs.
    assert torch.allclose(model(features, actions)[0], features[:, -1], atol=1e-6)
    assert heads.var(dim=1).mean() > 1e-3


def test_relative_bias_tells_a_head_where_to_look():
    model = TransformerActionConditionedPredictor(TINY)
    features, actions = torch.randn(1, 1, 4, 16), torch.tensor([[0]])
    with torch.no_grad():
        model.relative_bias.zero_()
        # 2x2 patches: offset (0, +1) (the key one patch left of the query) gets a big bias.
        model.relative_bias[-1, :, (0 + 1) * 3 + (1 + 1)] = 1.0
    _, attention = model(features, actions, return_attn=True)
    future = attention[-1][0, :, 5:]          # queries of the 4 future tokens
    # Future patch 1 (row 0, col 1) attends mostly to patch 0 (row 0, col 0): the frame's
    # (token 0) and the future's own (token 5).
    assert (future[:, 1, 0] + future[:, 1, 5]).min() > 0.9
    # Patch 0 has no left neighbour: its weights stay spread (action tokens get no bias).
    assert future[:, 0].max() < 0.9


def test_a_config_saved_before_heads_existed_has_one_head():
    saved = PredictorConfig().to_dict()
    del saved['heads']
    assert PredictorConfig.from_dict(saved).heads == 1
