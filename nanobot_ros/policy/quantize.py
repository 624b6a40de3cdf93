"""Quantized exports of a trained policy: int8 ONNX, ternary (BitNet b1.58) ONNX, and GGUF.

    quantize_int8(Path('exports/policy.onnx'), Path('exports/policy_int8.onnx'))
    qat = ternary_qat(policy, buffer, steps=300)   # BitNet b1.58 QAT from the cloned weights
    export_ternary(qat, Path('exports/policy_ternary.onnx'))
    export_gguf(policy, Path('exports/policy.gguf'))

int8: ONNX Runtime's dynamic quantization (`quantize_dynamic`, signed int8 weights of every
MatMul/Gemm, activations quantized per call), the export's metadata carried over, so the kernel
serves the file like any other (plus `nanobot.quantization`).

Ternary: the policy is fine-tuned with its transformer layers as BitLinear (policy/bitnet.py)
for a few hundred steps of its own loss, then frozen: int8 buffers of {-1, 0, 1} and one scale
per layer in the graph (ONNX has no 2-bit tensor type, so the file stores a byte per weight).

GGUF (through the `gguf` package, for the Rust kernel's Candle backend): every tensor of the
state dict under its PyTorch name as F32 (or F16 for 2-D weights with `dtype='f16'`), and the
metadata a reader needs to rebuild the model: `nanobot.policy_config` and
`nanobot.normalization` (JSON, as in the ONNX export), the discrete action vectors, the format
name, and how the Rust kernel serves it: `nanobot.sampler`, `nanobot.ddim_steps` and
`nanobot.action_names` (as in the ONNX export). `read_gguf` is the Python reader (tests check
it rebuilds the same actions).
"""
import copy
from dataclasses import replace
import json
from pathlib import Path
import tempfile

import numpy as np
import torch

from nanobot_ros.durable import atomic_write
from nanobot_ros.models.checkpoint import load_checkpoint
from nanobot_ros.policy.bitnet import freeze_
from nanobot_ros.policy.demonstrations import DemoBuffer
from nanobot_ros.policy.export import export_policy
from nanobot_ros.policy.finetune import fit_steps
from nanobot_ros.policy.format import GGUF_FORMAT, head_sampler
from nanobot_ros.policy.modeling import Policy, PolicyConfig
from nanobot_ros.policy.processing import DEFAULT_ACTION_NAMES, DEFAULT_DISCRETE_ACTIONS
from nanobot_ros.policy.weights import save_policy

GGUF_ARCH = 'nanobot-policy'


def _with_metadata(model, metadata: dict):
    del model.metadata_props[:]
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    return model


def quantize_int8(onnx_in: Path, onnx_out: Path) -> Path:
    """Write the int8 (dynamic) quantization of export `onnx_in` to `onnx_out`; return it."""
    import onnx
    from onnxruntime.quantization import quantize_dynamic, QuantType
    source = onnx.load(str(onnx_in))
    metadata = {p.key: p.value for p in source.metadata_props}
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / 'int8.onnx'
        quantize_dynamic(str(onnx_in), str(raw), weight_type=QuantType.QInt8,
                         op_types_to_quantize=['MatMul', 'Gemm'])
        model = _with_metadata(onnx.load(str(raw)),
                               {**metadata, 'nanobot.quantization': 'int8-dynamic'})
    atomic_write(Path(onnx_out), model.SerializeToString())
    return Path(onnx_out)


def ternary_qat(policy: Policy, buffer: DemoBuffer, steps: int, batch_size: int = 64,
                lr: float = 1e-3, seed: int = 0) -> Policy:
    """Return a ternary copy of `policy` after `steps` of quantization-aware training."""
    qat = Policy(replace(policy.config, ternary=True))
    qat.load_state_dict(policy.state_dict())
    fit_steps(qat, buffer, steps, batch_size, lr, seed)
    return qat.eval()


def export_ternary(policy: Policy, out: Path) -> Path:
    """Export a ternary policy (int8 {-1,0,1} + scales in the graph); the QAT weights beside it."""
    if not policy.config.ternary:
        raise ValueError('export_ternary needs a ternary policy (see ternary_qat)')
    frozen = copy.deepcopy(policy).eval()
    freeze_(frozen)
    path = export_policy(frozen, out, extra={'quantization': 'ternary-b1.58'},
                         constant_folding=False)
    # The sidecar keeps the full-precision QAT weights (the ternary ones are a function of them)
    # and the export's settings (sampler, action names: the Rust kernel's Candle backend reads
    # them there).
    sidecar = Path(out).with_suffix('.safetensors')
    settings = load_checkpoint(sidecar).metadata['export']
    save_policy(sidecar, policy, keep_backup=False, extra_metadata={'export': settings})
    return path


def export_gguf(policy: Policy, out: Path, dtype: str = 'f32', sampler: str = 'ddim',
                ddim_steps: int = 10, action_names=DEFAULT_ACTION_NAMES) -> Path:
    """Write the policy as GGUF (F32, or F16 for 2-D weights); return the path.

    `sampler` and `ddim_steps`: how a diffusion head is sampled when the Rust kernel serves the
    file (as `export_policy` unrolls it into the ONNX graph).
    """
    import gguf
    if dtype not in ('f32', 'f16'):
        raise ValueError(f'dtype must be f32 or f16, got {dtype!r}')
    out = Path(out)
    tmp = out.with_name(out.name + '.tmp')
    writer = gguf.GGUFWriter(str(tmp), GGUF_ARCH)
    writer.add_string('nanobot.format', GGUF_FORMAT)
    writer.add_string('nanobot.policy_config', json.dumps(policy.config.to_dict()))
    writer.add_string('nanobot.normalization', json.dumps(policy.normalization_stats()))
    writer.add_string('nanobot.discrete_actions',
                      json.dumps([list(a) for a in DEFAULT_DISCRETE_ACTIONS]))
    writer.add_string('nanobot.sampler', head_sampler(policy.config, sampler))
    writer.add_string('nanobot.ddim_steps', str(int(ddim_steps)))
    writer.add_string('nanobot.action_names', json.dumps(list(action_names)))
    for name, tensor in policy.state_dict().items():
        values = tensor.detach().cpu().numpy()
        if values.dtype == np.int64 or values.dtype == np.bool_:
            values = values.astype(np.int32)
        elif dtype == 'f16' and values.ndim == 2 and values.dtype == np.float32:
            values = values.astype(np.float16)
        writer.add_tensor(name, np.ascontiguousarray(values))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return out


def read_gguf(path: Path) -> Policy:
    """Rebuild the policy from a GGUF written by `export_gguf` (ValueError if it is none)."""
    import gguf
    reader = gguf.GGUFReader(str(path))

    def text(key: str) -> str:
        field = reader.get_field(key)
        if field is None:
            raise ValueError(f'{path}: no {key} (not a nanobot_ros policy GGUF)')
        return field.contents()

    if text('nanobot.format') != GGUF_FORMAT:
        raise ValueError(f'{path}: format {text("nanobot.format")!r}, expected {GGUF_FORMAT}')
    policy = Policy(PolicyConfig.from_dict(json.loads(text('nanobot.policy_config'))))
    expected = policy.state_dict()
    state = {}
    for tensor in reader.tensors:
        # GGUF stores dimensions innermost first; the data is row-major in PyTorch's order.
        values = np.asarray(tensor.data).reshape(expected[tensor.name].shape)
        state[tensor.name] = torch.from_numpy(values.copy()).to(expected[tensor.name].dtype)
    policy.load_state_dict(state)
    return policy.eval()
