"""ONNX export vs PyTorch on the same inputs and noise, and the metadata the kernel reads.

Tolerance: 1e-4 absolute on actions in [-1, 1] (float32 kernels differ in summation order;
DDPM's 8 unrolled steps accumulate more rounding than DDIM's 4).
"""
import json

import numpy as np
import pytest
import torch

from nanobot_ros.policy.export import ActionGraph, export_policy, measure_export_options
from nanobot_ros.policy.onnx_runtime import ModelFileError, OnnxPolicy
from nanobot_ros.policy.weights import load_policy
from policy_fixtures import perturbed, tiny_policy

TOLERANCE = 1e-4


@pytest.mark.parametrize('sampler,head,condition', [
    ('ddim', 'diffusion', 'mean'), ('ddpm', 'diffusion', 'mean'), ('ddim', 'regression', 'mean'),
    ('ddim', 'regression', 'cross')])
def test_onnx_matches_pytorch_on_the_same_noise(tmp_path, sampler, head, condition):
    policy = tiny_policy(head=head, robotics_sensor_dim=3,
                         text_condition=condition)
    if condition == 'cross':  # its output projection starts at zero: give the path weights
        perturbed(policy, 2)
    policy.action_norm.fit(torch.tensor([[-2.0, 0.0], [2.0, 1.0]]))
    path = export_policy(policy, tmp_path / 'p.onnx', sampler, ddim_steps=4)
    onnx_policy = OnnxPolicy(path)
    graph = ActionGraph(policy, sampler, 4)
    for seed in range(3):
        inputs = graph.example_inputs(torch.Generator().manual_seed(seed))
        expected = graph(*inputs).detach().numpy()
        feed = {name: t.numpy() for name, t in zip(graph.input_names, inputs)}
        got = onnx_policy.session.run(None, feed)[0]
        assert np.abs(got - expected).max() <= TOLERANCE


def test_metadata_rebuilds_the_model_and_safetensors_sits_beside(tmp_path):
    policy = tiny_policy(head='diffusion')
    path = export_policy(policy, tmp_path / 'p.onnx', 'ddim', 4)
    onnx_policy = OnnxPolicy(path)
    assert onnx_policy.config == policy.config
    meta = onnx_policy.metadata
    assert json.loads(meta['nanobot.normalization'])['action_norm']['low'] == [-1.0, -1.0]
    assert meta['nanobot.sampler'] == 'ddim' and meta['nanobot.ddim_steps'] == '4'
    assert not list(tmp_path.glob('.*.tmp'))
    loaded, _ = load_policy(path.with_suffix('.safetensors'))
    assert loaded.config == policy.config


def test_a_file_that_is_no_export_is_refused(tmp_path):
    bad = tmp_path / 'bad.onnx'
    bad.write_bytes(b'not onnx')
    with pytest.raises(ModelFileError, match='not a loadable ONNX model'):
        OnnxPolicy(bad)
    with pytest.raises(ModelFileError, match='cannot read the model'):
        OnnxPolicy(tmp_path / 'missing.onnx')


@pytest.mark.parametrize('prediction', ['sample', 'epsilon'])
def test_the_measured_split_form_computes_the_fused_action(prediction):
    # The split form loops over a graph of DiffusionHead.ddim_step: the one DDIM, not a copy.
    policy = tiny_policy(head='diffusion', robotics_diffusion_prediction=prediction)
    policy.action_norm.fit(torch.tensor([[-2.0, 0.0], [2.0, 1.0]]))
    result = measure_export_options(policy, ddim_steps=4, repeats=3)
    assert result['ddim_steps'] == 4 and result['max_difference'] <= TOLERANCE
    assert result['fused_graph_ms'] > 0 and result['split_loop_ms'] > 0
