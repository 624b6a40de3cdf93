"""Export a trained policy: one ONNX graph (config + normalization in metadata) and safetensors.

    ./run.sh nanobot export runs/policy/policy.safetensors --out exports/policy.onnx

The graph computes the whole action: images (1, 3, S, S) float [0, 1], text (1, L) int64 bytes,
[sensors (1, N), surface (1, M)], [noise] -> actions (1, A) in robot units, clipped to the
training bounds. For a diffusion head the sampler is unrolled inside the graph (DDIM with k
steps, or DDPM with all T steps); the initial noise (and DDPM's per-step noise, (S, 1, A)) is an
input; a categorical head's noise (1, n_actions) is added to its logits before the argmax (zeros:
the most likely action; temperature x Gumbel noise: a sample). So the graph is deterministic and
its parity with PyTorch testable. The metadata keys and the
file format version: policy/format.py.

Why the loop lives in the graph: `measure_export_options` times it against the alternative
(trunk graph + one-DDIM-step graph exported from the same `DiffusionHead.ddim_step`, the k-step
loop in Python around ONNX Runtime) and the fused graph wins on this CPU because every
session.run costs a fixed overhead (input binding, thread hand-off) that the split form pays
k + 1 times per action; docs/policy.md quotes the figures.

Files are written atomically (temp file in the same folder, fsync, rename), so a kernel that
watches the path never opens a half-written model.
"""
from pathlib import Path
import time
from typing import Optional

import numpy as np
import torch
from torch import nn

from nanobot_ros.durable import atomic_write
from nanobot_ros.policy.format import head_sampler, OnnxMetadata
from nanobot_ros.policy.modeling import Policy
from nanobot_ros.policy.weights import save_policy
from nanobot_ros.policy.processing import DEFAULT_ACTION_NAMES, DEFAULT_DISCRETE_ACTIONS
from nanobot_ros.policy.text_encoder import copy_text_encoder, MINILM_DIM

OPSET = 17


class ActionGraph(nn.Module):
    """Observation tensors (+ noise) -> actions, with the chosen sampler unrolled."""

    def __init__(self, policy: Policy, sampler: str, ddim_steps: int):
        super().__init__()
        self.policy, self.sampler, self.ddim_steps = policy.eval(), sampler, ddim_steps
        c = policy.config
        self.input_names = (['images'] if c.use_vision else []) + ['text'] + \
            (['sensors'] if c.robotics_sensor_dim else []) + \
            (['surface'] if c.robotics_surface_dim else []) + \
            (['noise'] if policy.noise_shape(sampler, 1) else [])

    def forward(self, *inputs):
        """Return actions (1, A) from the inputs named in `input_names`."""
        named = dict(zip(self.input_names, inputs))
        return self.policy.act(named.get('images'), named['text'], named.get('sensors'),
                               named.get('surface'), named.get('noise'), self.sampler,
                               self.ddim_steps)

    def example_inputs(self, generator: Optional[torch.Generator] = None) -> tuple:
        """Return one input tuple of the right shapes and dtypes."""
        c = self.policy.config
        shapes = {'images': (1, 3, c.image_size, c.image_size),
                  'sensors': (1, c.robotics_sensor_dim), 'surface': (1, c.robotics_surface_dim)}
        shapes['noise'] = self.policy.noise_shape(self.sampler, 1)
        inputs = []
        for name in self.input_names:
            if name == 'text' and c.text_encoder == 'minilm':
                inputs.append(torch.randn((1, c.max_text_len, MINILM_DIM), generator=generator))
            elif name == 'text':
                inputs.append(torch.randint(0, 256, (1, c.max_text_len), generator=generator))
            else:
                inputs.append(torch.randn(shapes[name], generator=generator).abs().clamp(max=1)
                              if name == 'images' else
                              torch.randn(shapes[name], generator=generator))
        return tuple(inputs)


def _onnx_bytes(module: nn.Module, inputs: tuple, input_names, output_names,
                constant_folding: bool = True) -> bytes:
    import io
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, inputs, buffer, dynamo=False, opset_version=OPSET,
                          input_names=list(input_names), output_names=list(output_names),
                          do_constant_folding=constant_folding)
    return buffer.getvalue()


def export_policy(policy: Policy, out: Path, sampler: str = 'ddim', ddim_steps: int = 10,
                  action_names=DEFAULT_ACTION_NAMES,
                  discrete_actions=None, extra: Optional[dict] = None,
                  constant_folding: bool = True) -> Path:
    """Write `out` (.onnx) and `out` with .safetensors beside it; return the ONNX path.

    `discrete_actions` None: a categorical head's own action vectors (its weights: the room's
    differ from the sim's), the sim's five moves for the other heads.
    `constant_folding=False` keeps weight arithmetic in the graph (ternary weights stay int8).
    """
    import onnx
    if discrete_actions is None:
        discrete_actions = (policy.action_vectors.tolist() if policy.config.head == 'categorical'
                            else DEFAULT_DISCRETE_ACTIONS)
    if sampler not in ('ddim', 'ddpm'):
        raise ValueError(f'unknown sampler {sampler!r}; choose ddim or ddpm')
    out = Path(out)
    graph = ActionGraph(policy, sampler, ddim_steps)
    model = onnx.load_from_string(_onnx_bytes(graph, graph.example_inputs(),
                                              graph.input_names, ['actions'], constant_folding))
    metadata = OnnxMetadata(
        config=policy.config, normalization=policy.normalization_stats(),
        sampler=head_sampler(policy.config, sampler), ddim_steps=ddim_steps,
        noise_shape=policy.noise_shape(sampler, 1),
        action_names=tuple(action_names), discrete_actions=tuple(map(tuple, discrete_actions)),
        action_low=tuple(policy.action_norm.low.tolist()),
        action_high=tuple(policy.action_norm.high.tolist()), extra=dict(extra or {}))
    for key, value in metadata.to_props().items():
        model.metadata_props.add(key=key, value=value)
    save_policy(out.with_suffix('.safetensors'), policy, keep_backup=False,
                extra_metadata={'export': {
                    'onnx': out.name, 'sampler': metadata.sampler, 'ddim_steps': ddim_steps,
                    'action_names': list(action_names),
                    'discrete_actions': [list(a) for a in discrete_actions]}})
    if policy.config.text_encoder == 'minilm':  # the kernel runs the encoder from beside the model
        copy_text_encoder(out.parent)
    atomic_write(out, model.SerializeToString())
    return out


def export_parity(policy: Policy, out: Path, sampler: str = 'ddim', ddim_steps: int = 10,
                  seeds: int = 3) -> float:
    """Export to `out` and return max |ONNX Runtime - PyTorch| of the actions.

    Over `seeds` random inputs (and noise), each run through both on the same tensors.
    """
    import onnxruntime as ort
    path = export_policy(policy, out, sampler, ddim_steps)
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    graph = ActionGraph(policy, sampler, ddim_steps)
    worst = 0.0
    for seed in range(seeds):
        inputs = graph.example_inputs(torch.Generator().manual_seed(seed))
        with torch.no_grad():
            expected = graph(*inputs).numpy()
        got = session.run(None, {n: t.numpy() for n, t in zip(graph.input_names, inputs)})[0]
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def measure_export_options(policy: Policy, ddim_steps: int = 10, repeats: int = 200) -> dict:
    """Time one action both ways with ONNX Runtime (1 thread); return medians in ms."""
    import onnxruntime as ort
    if policy.config.head != 'diffusion':
        raise ValueError('the split form exists only for a diffusion head')
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    fused = ActionGraph(policy, 'ddim', ddim_steps)
    inputs = fused.example_inputs(torch.Generator().manual_seed(0))
    fused_session = ort.InferenceSession(
        _onnx_bytes(fused, inputs, fused.input_names, ['actions']), options)
    feed = {n: t.numpy() for n, t in zip(fused.input_names, inputs)}

    class Trunk(nn.Module):
        def __init__(self):
            super().__init__()
            self.policy = policy

        def forward(self, images, text):
            return self.policy.condition(images, text)

    class Step(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = policy.head

        def forward(self, x, t, t_next, cond):
            return self.head.ddim_step(x, t, t_next, cond)

    trunk = ort.InferenceSession(_onnx_bytes(Trunk(), inputs[:2], ['images', 'text'], ['cond']),
                                 options)
    cond = policy.condition(*inputs[:2]).detach()
    step = ort.InferenceSession(_onnx_bytes(
        Step(), (torch.zeros(1, policy.config.robotics_action_dim),
                 torch.zeros(1, dtype=torch.long), torch.ones(1, dtype=torch.long), cond),
        ['x', 't', 't_next', 'cond'], ['x_next']), options)
    schedule = [(np.array([t]), np.array([t_next]))
                for t, t_next in policy.head.ddim_schedule(ddim_steps)]

    @torch.no_grad()
    def split_action():
        c = trunk.run(None, {'images': feed['images'], 'text': feed['text']})[0]
        x = feed['noise'][0]
        for t, t_next in schedule:
            x = step.run(None, {'x': x, 't': t, 't_next': t_next, 'cond': c})[0]
        return policy.action_norm.from_unit(torch.from_numpy(x)).numpy()

    def timed(fn):
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1e3)
        return float(np.median(times))

    fused_ms = timed(lambda: fused_session.run(None, feed))
    split_ms = timed(split_action)
    agree = float(np.abs(fused_session.run(None, feed)[0] - split_action()).max())
    return {'ddim_steps': ddim_steps, 'fused_graph_ms': fused_ms, 'split_loop_ms': split_ms,
            'max_difference': agree, 'faster': 'fused' if fused_ms <= split_ms else 'split'}
