"""The policy file format: the metadata an exported `.onnx` and a policy `.safetensors` carry.

One home for every key, type, encoding and version; written by policy/export.py and
policy/weights.py, read by policy/onnx_runtime.py, policy/weights.py and the Rust kernel.
docs/policy.md shows the same tables with an example.

ONNX export (`ModelProto.metadata_props`; every value is a string, JSON where noted):

  key                       decoded type          encoding
  nanobot.format            str                   ONNX_FORMAT, 'nanobot_ros.policy_onnx/<version>'
  nanobot.policy_config     object                JSON of PolicyConfig.to_dict() (every field;
                                                  without `head`, an older file's, the booleans
                                                  robotics_use_diffusion and robotics_categorical
                                                  name the head: PolicyConfig.from_dict)
  nanobot.normalization     object                JSON of Policy.normalization_stats(), e.g.
                                                  {"action_norm": {"low": [..], "high": [..]}}
  nanobot.sampler           str                   head_sampler(): 'ddim' or 'ddpm' (a diffusion
                                                  head), 'regression' (no noise input), or
                                                  'categorical' (the vector of argmax(logits +
                                                  noise): zeros give the most likely action,
                                                  T x Gumbel noise a sample at temperature T)
  nanobot.ddim_steps        int                   decimal, e.g. '10' (DDIM steps unrolled)
  nanobot.noise_shape       list[int]             JSON, shape of the 'noise' input; [] if none
                                                  (regression; categorical exports written
                                                  before sampling: most likely action only)
  nanobot.action_names      list[str]             JSON, one name per action value
  nanobot.discrete_actions  list[list[float]]     JSON, action vectors (robot units) whose index
                                                  is the nearest to the output; may be []
  nanobot.action_low        list[float]           JSON, per-value lower bound (robot units)
  nanobot.action_high       list[float]           JSON, per-value upper bound (robot units)
  nanobot.<name>            str                   optional extras (`export_policy(extra=...)`),
                                                  e.g. nanobot.quantization: 'int8-dynamic' or
                                                  'ternary-b1.58' (policy/quantize.py)

The graph: inputs named 'images' (1, 3, S, S) float32 in [0, 1] (when use_vision), 'text'
(1, max_text_len) int64 UTF-8 bytes padded with TEXT_PAD (with policy_config.text_encoder
'minilm': (1, 32, 384) float32 token states of text_encoder.onnx, which lies beside the export
with tokenizer.json; see policy/text_encoder.py), 'sensors' (1, N) and 'surface' (1, M)
float32 (when their dims are > 0), 'noise' float32 of noise_shape (diffusion: (1, 1, A) for
DDIM, (T, 1, A) for DDPM; categorical: (1, n_actions));
output 'actions' (1, A) float32 in robot units. A reader clips to [action_low, action_high].

Safetensors (policy/weights.py through models/checkpoint.py): the header's `__metadata__` holds
'format': 'nanobot_ros.checkpoint/1' (the container, models/checkpoint.py) and 'metadata': one
JSON object with

  kind            str     WEIGHTS_KIND, 'nanobot_policy' (version 1; a later version is
                          spelled 'nanobot_policy/<version>')
  policy_config   object  PolicyConfig.to_dict()
  normalization   object  Policy.normalization_stats(); the same values are also tensors
  training        object  optional: the trainer's counters and optimizer state (training.py)
  export          object  optional, in the file beside an export: {onnx, sampler, ddim_steps}
                          (sampler as nanobot.sampler)

GGUF (policy/quantize.py, for the Rust kernel's Candle backend): architecture 'nanobot-policy';
string keys nanobot.format (GGUF_FORMAT), nanobot.policy_config and nanobot.normalization (JSON as
above), nanobot.discrete_actions (JSON), nanobot.sampler, nanobot.ddim_steps and
nanobot.action_names (as in the ONNX export; read by the Rust kernel's Candle backend); one tensor
per state-dict entry under its PyTorch name, F32 (or F16 for 2-D weights), int64 buffers as I32.

Versions: a reader accepts exactly VERSION and refuses anything else with a PolicyFormatError
that names the version it found and the one it reads. A change that renames, removes or
re-encodes a key bumps VERSION; a new optional key does not.
"""
from dataclasses import dataclass, field
import json
from typing import Tuple

from nanobot_ros.policy.configuration import PolicyConfig

VERSION = 1
ONNX_FORMAT_NAME = 'nanobot_ros.policy_onnx'
ONNX_FORMAT = f'{ONNX_FORMAT_NAME}/{VERSION}'
GGUF_FORMAT = f'nanobot_ros.policy_gguf/{VERSION}'
WEIGHTS_KIND_NAME = 'nanobot_policy'
# Version 1 predates the suffix: its files say just 'nanobot_policy'.
WEIGHTS_KIND = WEIGHTS_KIND_NAME if VERSION == 1 else f'{WEIGHTS_KIND_NAME}/{VERSION}'
PREFIX = 'nanobot.'
SAMPLERS = ('ddim', 'ddpm', 'regression', 'categorical')
NOISELESS = ('regression',)  # the sampler without a noise input
NOISE_OPTIONAL = ('categorical',)  # exports before sampled categorical actions have none
ONNX_KEYS = ('policy_config', 'normalization', 'sampler', 'ddim_steps', 'noise_shape',
             'action_names', 'discrete_actions', 'action_low', 'action_high')
WEIGHTS_KEYS = ('kind', 'policy_config', 'normalization')


class PolicyFormatError(ValueError):
    """The metadata is no nanobot_ros policy file, another format version, or malformed."""


def _check_version(found, expected: str, name: str) -> None:
    """Refuse `found` unless it is `expected` (format `name` at VERSION)."""
    if found == expected:
        return
    if isinstance(found, str) and (found == name or found.startswith(name + '/')):
        version = found[len(name) + 1:] or '1'
        raise PolicyFormatError(f'written in {name} version {version}; this reader reads '
                                f'version {VERSION} only')
    raise PolicyFormatError(f'not a nanobot_ros policy file (format {found!r}, expected '
                            f'{expected!r})')


def head_sampler(config: PolicyConfig, sampler: str) -> str:
    """Return the sampler label of a `config` policy run with diffusion `sampler`."""
    return sampler if config.head == 'diffusion' else config.head


def _floats(text: str) -> Tuple[float, ...]:
    return tuple(float(v) for v in json.loads(text))


@dataclass(frozen=True)
class OnnxMetadata:
    """What an exported graph's metadata_props say; `to_props()` / `from_props()` round-trip."""

    config: PolicyConfig
    normalization: dict
    sampler: str
    ddim_steps: int
    noise_shape: Tuple[int, ...]
    action_names: Tuple[str, ...]
    discrete_actions: Tuple[Tuple[float, ...], ...]
    action_low: Tuple[float, ...]
    action_high: Tuple[float, ...]
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        dim = self.config.robotics_action_dim
        if not isinstance(self.normalization, dict):
            raise PolicyFormatError(f'normalization must be an object, got '
                                    f'{self.normalization!r}')
        if self.sampler not in SAMPLERS:
            raise PolicyFormatError(f'sampler {self.sampler!r} is none of {SAMPLERS}')
        fitting = (('ddim', 'ddpm') if self.config.head == 'diffusion'
                   else (head_sampler(self.config, ''),))
        if self.sampler not in fitting:
            raise PolicyFormatError(f'sampler {self.sampler!r} does not fit the policy '
                                    f'config\'s head (expected {" or ".join(fitting)})')
        categorical = ((), (1, self.config.n_actions))
        if (self.sampler in NOISELESS and self.noise_shape) or \
                (self.sampler in NOISE_OPTIONAL and self.noise_shape not in categorical) or \
                (self.sampler in ('ddim', 'ddpm') and not self.noise_shape):
            raise PolicyFormatError(f'sampler {self.sampler!r} with noise shape '
                                    f'{list(self.noise_shape)}')
        vectors = {'action_names': self.action_names, 'action_low': self.action_low,
                   'action_high': self.action_high,
                   **{f'discrete_actions[{i}]': a for i, a in enumerate(self.discrete_actions)}}
        for key, values in vectors.items():
            if len(values) != dim:
                raise PolicyFormatError(f'{key} has {len(values)} values, the action has {dim}')

    def to_props(self) -> dict:
        """Return the metadata_props {key: string value}."""
        props = {
            PREFIX + 'format': ONNX_FORMAT,
            PREFIX + 'policy_config': json.dumps(self.config.to_dict()),
            PREFIX + 'normalization': json.dumps(self.normalization),
            PREFIX + 'sampler': self.sampler,
            PREFIX + 'ddim_steps': str(int(self.ddim_steps)),
            PREFIX + 'noise_shape': json.dumps([int(n) for n in self.noise_shape]),
            PREFIX + 'action_names': json.dumps(list(self.action_names)),
            PREFIX + 'discrete_actions': json.dumps([[float(v) for v in a]
                                                     for a in self.discrete_actions]),
            PREFIX + 'action_low': json.dumps([float(v) for v in self.action_low]),
            PREFIX + 'action_high': json.dumps([float(v) for v in self.action_high])}
        for name, value in self.extra.items():
            if PREFIX + name in props:
                raise PolicyFormatError(f'extra metadata {name!r} would replace a format key')
            props[PREFIX + name] = str(value)
        return props

    @classmethod
    def from_props(cls, props: dict) -> 'OnnxMetadata':
        """Decode metadata_props; PolicyFormatError names the version or key that is wrong."""
        _check_version(props.get(PREFIX + 'format'), ONNX_FORMAT, ONNX_FORMAT_NAME)

        def decode(key: str, parse=json.loads):
            if PREFIX + key not in props:
                raise PolicyFormatError(f'metadata key {PREFIX + key} is missing')
            try:
                return parse(props[PREFIX + key])
            except (ValueError, TypeError) as error:
                raise PolicyFormatError(f'metadata key {PREFIX + key}: {error}') from None

        return cls(
            config=decode('policy_config', lambda t: PolicyConfig.from_dict(json.loads(t))),
            normalization=decode('normalization'),
            sampler=decode('sampler', str),
            ddim_steps=decode('ddim_steps', int),
            noise_shape=decode('noise_shape', lambda t: tuple(int(n) for n in json.loads(t))),
            action_names=decode('action_names', lambda t: tuple(map(str, json.loads(t)))),
            discrete_actions=decode('discrete_actions',
                                    lambda t: tuple(tuple(map(float, a)) for a in json.loads(t))),
            action_low=decode('action_low', _floats),
            action_high=decode('action_high', _floats),
            extra={k[len(PREFIX):]: v for k, v in props.items() if k.startswith(PREFIX)
                   and k[len(PREFIX):] not in ONNX_KEYS + ('format',)})


@dataclass(frozen=True)
class WeightsMetadata:
    """The JSON metadata of a policy safetensors file; `to_json()` / `from_json()` round-trip."""

    config: PolicyConfig
    normalization: dict
    extra: dict = field(default_factory=dict)  # 'training', 'export', ...

    def to_json(self) -> dict:
        """Return the JSON-serialisable object models/checkpoint.py stores."""
        reserved = set(WEIGHTS_KEYS) & set(self.extra)
        if reserved:
            raise PolicyFormatError(f'extra metadata {sorted(reserved)} would replace format '
                                    f'keys')
        return {'kind': WEIGHTS_KIND, 'policy_config': self.config.to_dict(),
                'normalization': self.normalization, **self.extra}

    @classmethod
    def from_json(cls, metadata: dict) -> 'WeightsMetadata':
        """Decode a checkpoint's metadata; PolicyFormatError for another kind or version."""
        _check_version(metadata.get('kind'), WEIGHTS_KIND, WEIGHTS_KIND_NAME)
        try:
            config = PolicyConfig.from_dict(metadata['policy_config'])
            normalization = metadata['normalization']
        except KeyError as error:
            raise PolicyFormatError(f'metadata key {error.args[0]!r} is missing') from None
        except (ValueError, TypeError) as error:
            raise PolicyFormatError(f'metadata key policy_config: {error}') from None
        extra = {k: v for k, v in metadata.items() if k not in WEIGHTS_KEYS}
        return cls(config, normalization, extra)
