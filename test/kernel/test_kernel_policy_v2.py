"""The Rust kernel serves the policy v2 exports as the Python kernel runtime does.

The categorical head, the int8 (ONNX Runtime dynamic quantization) and ternary (BitNet b1.58)
exports, the MiniLM text encoder (text_encoder.onnx + tokenizer.json beside the export) and
the GGUF file (Candle). `nanobot_kernel select BACKEND MODEL OBS INSTRUCTION` runs the node's
own pre-processing (resize, tokenizer, text encoder) on an observation, and its answer is
compared with `OnnxPolicy.select_action` (policy/onnx_runtime.py) on the same observation and
noise: real exports by the Python exporter, real ONNX Runtime sessions on both sides.
"""
import json
import subprocess

import numpy as np
import pytest
from safetensors.numpy import save_file
import torch
from std_msgs.msg import String

from kernel_harness import ActionProbe, start_kernel
from nanobot_ros.policy.export import ActionGraph, export_policy
from nanobot_ros.policy.onnx_runtime import OnnxPolicy
from nanobot_ros.policy.quantize import export_gguf, export_ternary, quantize_int8, read_gguf
from nanobot_ros.policy.text_encoder import MAX_TOKENS, encoder_dir
from nanobot_ros.stack import node_executable
from policy_fixtures import perturbed, tiny_policy

TOLERANCE = 1e-5  # robot units (actions within +-1), float32 rounding
INSTRUCTIONS = ['go to the red marker', 'first red, then blue', 'Head to the CRIMSON one!',
                'gehe zum grünen Würfel — schnell ☃', '',
                'go to the red marker, then the blue one, then the green one, and after that '
                'the yellow one and the purple one; then stop right there and wait for the next '
                'instruction from the operator']


def kernel(*args) -> dict:
    """Run a nanobot_kernel tool; return its JSON answer."""
    run = subprocess.run([node_executable('nanobot_kernel'), *map(str, args)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def observations(count: int, seed: int = 0):
    """Random 30x30 frames (the kernels resize them) with the instructions above in turn."""
    rng = np.random.default_rng(seed)
    return [{'image': rng.integers(0, 256, (30, 30, 3), dtype=np.uint8),
             'instruction': INSTRUCTIONS[i % len(INSTRUCTIONS)]} for i in range(count)]


def compare(backend: str, model, count: int = 6, tolerance: float = TOLERANCE) -> list:
    """Assert the Rust kernel's action = the Python kernel runtime's for `count` observations.

    Returns the Python runtime's answers.
    """
    python = OnnxPolicy(model)
    rng = np.random.default_rng(1)
    answers = []
    for obs in observations(count):
        tensors = {'image': obs['image']}
        noise = None
        if python.noise_shape:
            noise = rng.standard_normal(python.noise_shape).astype(np.float32)
            tensors['noise'] = noise
        expected = python.select_action(obs, noise)
        save_file(tensors, str(model.parent / 'obs.safetensors'))
        got = kernel('select', backend, model, model.parent / 'obs.safetensors',
                     obs['instruction'])
        assert got['index'] == expected['index']
        assert np.abs(np.asarray(got['actions'], np.float32) - expected['values']).max() \
            <= tolerance, (got, expected)
        answers.append(expected)
    return answers


@pytest.mark.parametrize('backend', ['ort', 'candle'])
def test_categorical_head_picks_the_action_the_python_kernel_picks(backend, tmp_path):
    policy = perturbed(tiny_policy(seed=1, head='categorical'), 2)
    model = export_policy(policy, tmp_path / 'policy.onnx')
    answers = compare(backend, model, count=12, tolerance=0.0)
    assert len({a['index'] for a in answers}) >= 2  # the observations lead to different moves


def test_cross_condition_is_served_by_ort_and_refused_by_candle(tmp_path):
    # text_condition cross is in the ONNX graph; Candle has no cross path and says so.
    policy = perturbed(tiny_policy(seed=1, head='categorical', max_text_len=24,
                                   text_condition='cross'), 2)
    model = export_policy(policy, tmp_path / 'policy.onnx')
    answers = compare('ort', model, count=12, tolerance=0.0)
    assert len({a['index'] for a in answers}) >= 2
    run = subprocess.run([node_executable('nanobot_kernel'), 'select', 'candle', str(model),
                          str(model.parent / 'obs.safetensors'), 'go'],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "text_condition 'cross' is not served by the Candle backend yet (serve the .onnx " \
        'with backend ort)' in run.stderr


def test_int8_export_is_served_like_the_python_kernel(tmp_path):
    # quantize_dynamic fails on a diffusion graph (shape inference); GRPO's head is this one.
    policy = perturbed(tiny_policy(seed=1, head='categorical'), 2)
    source = export_policy(policy, tmp_path / 'policy.onnx')
    model = quantize_int8(source, tmp_path / 'policy_int8.onnx')
    compare('ort', model)


@pytest.mark.parametrize('backend', ['ort', 'candle'])
def test_ternary_export_is_served_like_the_python_kernel(backend, tmp_path):
    policy = perturbed(tiny_policy(seed=1, head='diffusion', ternary=True,
                                   robotics_diffusion_steps=10), 2)  # export_ternary: DDIM-10
    compare(backend, export_ternary(policy, tmp_path / 'policy_ternary.onnx'))


def test_the_minilm_tokenizer_gives_the_python_tokenizer_ids():
    from tokenizers import Tokenizer
    folder = encoder_dir()
    tokenizer = Tokenizer.from_file(str(folder / 'tokenizer.json'))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding(length=MAX_TOKENS)
    got = kernel('tokens', folder, MAX_TOKENS, *INSTRUCTIONS)
    encodings = [tokenizer.encode(text) for text in INSTRUCTIONS]
    assert got == {'ids': [e.ids for e in encodings],
                   'mask': [e.attention_mask for e in encodings]}
    assert sum(got['mask'][-1]) == MAX_TOKENS  # the long one is cut


@pytest.mark.parametrize('backend', ['ort', 'candle'])
def test_minilm_export_is_served_like_the_python_kernel(backend, tmp_path):
    policy = perturbed(tiny_policy(seed=1, head='diffusion', image_size=24,
                                   max_text_len=MAX_TOKENS, text_encoder='minilm'), 2)
    compare(backend, export_policy(policy, tmp_path / 'policy.onnx', 'ddim', 4))


def test_minilm_export_without_its_encoder_is_refused_with_the_reason(tmp_path):
    policy = tiny_policy(head='categorical', max_text_len=MAX_TOKENS,
                         text_encoder='minilm')
    model = export_policy(policy, tmp_path / 'policy.onnx')
    (tmp_path / 'tokenizer.json').unlink()
    save_file({'image': np.zeros((16, 16, 3), np.uint8)}, str(tmp_path / 'obs.safetensors'))
    run = subprocess.run([node_executable('nanobot_kernel'), 'select', 'ort', str(model),
                          str(tmp_path / 'obs.safetensors'), 'go'],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert f'the MiniLM text encoder needs {tmp_path / "tokenizer.json"} beside the model' \
        in run.stderr


@pytest.mark.parametrize('impl', ['rust-ort', 'rust-candle'])
def test_the_node_serves_a_minilm_categorical_export_over_dds(impl, ros, nodes, tmp_path):
    """The node itself: instruction and frames over DDS, the Python runtime's answers."""
    policy = perturbed(tiny_policy(seed=1, head='categorical', max_text_len=MAX_TOKENS,
                                   text_encoder='minilm'), 2)
    model = export_policy(policy, tmp_path / 'policy.onnx')
    python = OnnxPolicy(model)
    probe = ActionProbe(ros)
    start_kernel(nodes, impl, {'model_path': str(model)})
    probe.instruction.publish(String(data=INSTRUCTIONS[1]))
    probe.served('kernel')
    for obs in observations(4):
        action = probe.answer(probe.frame(obs['image']))
        expected = python.select_action({'image': obs['image'], 'instruction': INSTRUCTIONS[1]})
        assert (action.source, action.index) == ('kernel', expected['index'])
        assert np.array_equal(np.asarray(action.values, np.float32), expected['values'])
        assert tuple(action.names) == expected['names']


def model_inputs(graph: ActionGraph, folder, seed: int) -> np.ndarray:
    """Write one input draw to folder/inputs.safetensors; return PyTorch's action for it."""
    inputs = graph.example_inputs(torch.Generator().manual_seed(seed))
    save_file({name: t.numpy() for name, t in zip(graph.input_names, inputs)},
              str(folder / 'inputs.safetensors'))
    with torch.no_grad():
        return graph(*inputs).numpy()[0]


@pytest.mark.parametrize('head', [{'head': 'diffusion'},
                                  {'head': 'categorical'}])
def test_candle_reads_gguf_as_it_reads_safetensors(head, tmp_path):
    policy = perturbed(tiny_policy(seed=1, robotics_sensor_dim=3, **head), 2)
    model = export_policy(policy, tmp_path / 'policy.onnx', 'ddim', 4)
    f32 = export_gguf(policy, tmp_path / 'policy_f32.gguf', 'f32', 'ddim', 4)
    f16 = export_gguf(policy, tmp_path / 'policy_f16.gguf', 'f16', 'ddim', 4)
    graph = ActionGraph(policy, 'ddim', 4)
    graph16 = ActionGraph(read_gguf(f16), 'ddim', 4)  # the f16 weights, widened
    inputs = tmp_path / 'inputs.safetensors'
    for trial in range(3):
        expected = model_inputs(graph, tmp_path, 10 + trial)
        with torch.no_grad():
            expected16 = graph16(*graph.example_inputs(
                torch.Generator().manual_seed(10 + trial))).numpy()[0]
        weights = kernel('infer', 'candle', model.with_suffix('.safetensors'), inputs)
        assert kernel('infer', 'candle', f32, inputs) == weights  # the same numbers, bit for bit
        assert np.abs(np.asarray(weights['actions']) - expected).max() <= TOLERANCE
        half = kernel('infer', 'candle', f16, inputs)
        assert np.abs(np.asarray(half['actions']) - expected16).max() <= TOLERANCE, \
            (half, expected16)


def test_a_gguf_of_another_format_is_refused(tmp_path):
    import gguf
    writer = gguf.GGUFWriter(str(tmp_path / 'other.gguf'), 'llama')
    writer.add_string('nanobot.format', 'nanobot_ros.policy_gguf/2')
    writer.add_tensor('x', np.zeros(4, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    save_file({'text': np.zeros((1, 8), np.int64)}, str(tmp_path / 'inputs.safetensors'))
    run = subprocess.run([node_executable('nanobot_kernel'), 'infer', 'candle',
                          str(tmp_path / 'other.gguf'), str(tmp_path / 'inputs.safetensors')],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert 'not a nanobot_ros policy GGUF (format Some("nanobot_ros.policy_gguf/2"))' \
        in run.stderr
