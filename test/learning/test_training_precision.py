"""training_precision: learner steps' forward passes in bfloat16, weights and inference float32."""
import pytest
import torch

from nanobot_ros.learning.world_model import training_dtype, WorldModel
from tiny_world_model import dot_frame, IMG, tiny_config, tiny_online_learner


def dot_batch():
    """Four transitions of the dot world: action 1 moves the dot 4 px right, 0 keeps it."""
    starts, actions = [0, 8, 16, 24], [[1], [0], [1], [0]]
    history = WorldModel.to_tensor([dot_frame(x) for x in starts])[:, None]
    next_frames = WorldModel.to_tensor([dot_frame(x + 4 * a[0]) for x, a in zip(starts, actions)])
    return history, torch.tensor(actions), next_frames


def dtypes_of_a_step(model):
    """Return the dtypes of the predictor's output projection and of the weights after a step."""
    seen = []
    hook = model.predictor.output_proj.register_forward_hook(
        lambda module, inputs, output: seen.append(output.dtype))
    model.train_step(*dot_batch())
    hook.remove()
    weights = {p.dtype for m in (model.autoencoder, model.predictor) for p in m.parameters()}
    moments = {state['exp_avg'].dtype for state in model.predictor_optimizer.state.values()}
    return seen, weights, moments


@pytest.mark.parametrize('precision, dtype', [('float32', torch.float32),
                                              ('bfloat16', torch.bfloat16)])
def test_a_step_computes_in_its_precision_and_keeps_float32_weights(precision, dtype):
    model = WorldModel(tiny_config(training_precision=precision))
    assert model.training_dtype == dtype
    seen, weights, moments = dtypes_of_a_step(model)
    assert seen == [dtype]
    assert weights == {torch.float32} and moments == {torch.float32}


def test_inference_stays_float32_after_bfloat16_steps():
    model = WorldModel(tiny_config(training_precision='bfloat16'))
    model.train_step(*dot_batch())
    predicted, disagreement = model.predict_all([dot_frame(0)], [], [0, 1])
    assert predicted.dtype == torch.float32 and predicted.shape == (2, (IMG // 8) ** 2, 3 * 64)
    assert disagreement.dtype == torch.float32


def test_bfloat16_steps_learn_the_dot_world_as_float32_steps_do():
    losses = {}
    for precision in ('float32', 'bfloat16'):
        model = WorldModel(tiny_config(training_precision=precision), seed=0)
        batch = dot_batch()
        first = model.train_step(*batch)['predictor_patch_loss']
        for _ in range(60):
            last = model.train_step(*batch)['predictor_patch_loss']
        losses[precision] = (first, last)
    for first, last in losses.values():
        assert last < first / 4
    assert losses['bfloat16'][1] == pytest.approx(losses['float32'][1], rel=0.5)


def test_auto_is_bfloat16_exactly_where_the_cpu_has_it_natively():
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert training_dtype('auto') == (torch.bfloat16 if native else torch.float32)


def test_an_unknown_precision_is_refused_by_name():
    with pytest.raises(ValueError, match="training_precision must be one of .*'float16'"):
        WorldModel(tiny_config(training_precision='float16'))


def test_the_node_setting_reaches_a_fresh_and_a_resumed_learner(tmp_path):
    saved = tiny_online_learner(tmp_path)
    assert saved.loop.learner.training_dtype == torch.float32
    saved.checkpoints.save(saved.loop)
    resumed = tiny_online_learner(tmp_path, training_precision='bfloat16')
    assert resumed.resumed_from == str(tmp_path / 'world_model.safetensors')
    assert resumed.loop.learner.training_dtype == torch.bfloat16
