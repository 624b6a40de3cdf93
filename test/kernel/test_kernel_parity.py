"""The Rust kernel's backends (ort, Candle) against PyTorch: same inputs, same noise.

`nanobot_kernel infer BACKEND MODEL INPUTS` loads the export as the node does (ort: the .onnx,
Candle: the .safetensors with the config from its metadata) and prints the action for the
inputs given. Every weight is perturbed first, so FiLM (zero-initialised) and every other layer
take part. Tolerance: 1e-5 in robot units (the actions lie within +-1), float32 rounding.
"""
import json
import subprocess

import numpy as np
import pytest
from safetensors.numpy import save_file
import torch

from nanobot_ros.policy.export import ActionGraph, export_policy
from nanobot_ros.stack import node_executable
from policy_fixtures import perturbed, tiny_policy

TOLERANCE = 1e-5
VARIANTS = {
    'ddim-4': ('ddim', 4, {}),
    'ddim-1': ('ddim', 1, {}),
    'ddpm': ('ddpm', 0, {}),
    'epsilon-ddim-8': ('ddim', 8, {'robotics_diffusion_prediction': 'epsilon'}),
    'sensors-surface-ddpm': ('ddpm', 0, {'robotics_sensor_dim': 3, 'robotics_surface_dim': 2}),
    'deeper-no-film': ('ddim', 3, {'n_layer': 2, 'vision_depth': 2, 'film': False,
                                   'image_size': 24, 'patch_size': 4, 'n_head': 4}),
    'regression': ('ddim', 4, {'head': 'regression'}),
}


@pytest.mark.parametrize('backend', ['ort', 'candle'])
@pytest.mark.parametrize('variant', VARIANTS)
def test_backend_matches_pytorch(variant, backend, tmp_path):
    sampler, steps, overrides = VARIANTS[variant]
    policy = perturbed(tiny_policy(seed=1, **{'head': 'diffusion', **overrides}), 2)
    model = export_policy(policy, tmp_path / 'policy.onnx', sampler, steps or 4)
    graph = ActionGraph(policy, sampler, steps or 4)
    for trial in range(3):
        inputs = graph.example_inputs(torch.Generator().manual_seed(10 + trial))
        with torch.no_grad():
            expected = graph(*inputs).numpy()[0]
        save_file({name: t.numpy() for name, t in zip(graph.input_names, inputs)},
                  str(tmp_path / 'inputs.safetensors'))
        run = subprocess.run([node_executable('nanobot_kernel'), 'infer', backend, str(model),
                              str(tmp_path / 'inputs.safetensors')],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        actions = np.asarray(json.loads(run.stdout)['actions'], np.float32)
        assert actions.shape == expected.shape
        assert np.abs(actions - expected).max() <= TOLERANCE, (actions, expected)


def test_candle_reads_the_topology_from_the_file_not_a_default(tmp_path):
    """An export whose metadata disagrees with its tensors is refused, naming the tensor."""
    from safetensors import safe_open
    policy = tiny_policy(head='diffusion')
    model = export_policy(policy, tmp_path / 'policy.onnx', 'ddim', 4)
    weights = model.with_suffix('.safetensors')
    with safe_open(str(weights), 'np') as handle:
        header = handle.metadata()
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    meta = json.loads(header['metadata'])
    meta['policy_config']['n_layer'] = 2  # the file has one block
    header['metadata'] = json.dumps(meta)
    save_file(tensors, str(weights), metadata=header)
    save_file({'text': np.zeros((1, 8), np.int64)}, str(tmp_path / 'inputs.safetensors'))
    run = subprocess.run([node_executable('nanobot_kernel'), 'infer', 'candle', str(model),
                          str(tmp_path / 'inputs.safetensors')],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert 'the file has no tensor model.blocks.1.norm1.weight' in run.stderr
