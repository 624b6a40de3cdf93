"""An exported policy run by ONNX Runtime: `select_action(observation)` without PyTorch.

Everything needed comes from the file: the PolicyConfig (input sizes, tokenizer length), the
sampler and its noise shape, the action names, bounds and discrete action vectors
(`metadata_props`: policy/format.py's OnnxMetadata, written by `policy/export.py`). The whole
file is read into memory first and the session built from those bytes, so a file replaced while
loading can never mix two versions.

Thread settings matter on a small robot: ONNX Runtime's default spins idle worker threads,
which burns the CPU other nodes need; the defaults here are one intra-op thread, one inter-op
thread and no spinning.

A categorical head picks the most likely action at `temperature` 0 and samples
softmax(logits / temperature) above it (its noise input, `processing.sampler_noise`); GRPO
trains the policy as sampled at temperature 1 (policy/grpo.py), so that is how it is served.
"""
from pathlib import Path
from typing import Optional

import numpy as np

from nanobot_ros.policy.format import OnnxMetadata, PolicyFormatError
from nanobot_ros.policy.processing import processor_for, sampler_noise


class ModelFileError(ValueError):
    """The file is missing, unreadable, not a nanobot_ros policy export or another version."""


def categorical_choice(temperature: float, takes_noise: bool) -> str:
    """Return how a categorical export picks its action: most likely, or sampled."""
    if temperature > 0 and takes_noise:
        return f'categorical (sampled at temperature {temperature:g})'
    if temperature > 0:
        return 'categorical (most likely action: the export predates sampling, no noise input)'
    return 'categorical (most likely action)'


class OnnxPolicy:
    """One ONNX Runtime session plus the pre/post-processing its metadata describes."""

    def __init__(self, path, intra_op_num_threads: int = 1, inter_op_num_threads: int = 1,
                 allow_spinning: bool = False, seed: int = 0, temperature: float = 0.0):
        import onnxruntime as ort
        self.path = Path(path)
        try:
            data = self.path.read_bytes()
        except OSError as error:
            raise ModelFileError(f'{self.path}: cannot read the model ({error.strerror})') \
                from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_num_threads
        options.inter_op_num_threads = inter_op_num_threads
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        spin = '1' if allow_spinning else '0'
        options.add_session_config_entry('session.intra_op.allow_spinning', spin)
        options.add_session_config_entry('session.inter_op.allow_spinning', spin)
        try:
            self.session = ort.InferenceSession(data, options,
                                                providers=['CPUExecutionProvider'])
        except Exception as error:  # ORT raises its own types (Fail, InvalidProtobuf, ...)
            raise ModelFileError(f'{self.path}: not a loadable ONNX model ({error})') from None
        self.metadata = self.session.get_modelmeta().custom_metadata_map
        try:
            self.file = OnnxMetadata.from_props(self.metadata)
        except PolicyFormatError as error:
            raise ModelFileError(f'{self.path}: {error}') from None
        self.config, self.sampler = self.file.config, self.file.sampler
        self.noise_shape = self.file.noise_shape
        self.low = np.asarray(self.file.action_low, np.float32)
        self.high = np.asarray(self.file.action_high, np.float32)
        self.processor = processor_for(self.config, action_names=self.file.action_names,
                                       discrete_actions=self.file.discrete_actions,
                                       text_encoder_dir=str(self.path.parent))
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.rng = np.random.default_rng(seed)
        self.temperature = temperature

    @property
    def description(self) -> str:
        """Return a one-line summary of the loaded model."""
        c = self.config
        head = (f'diffusion ({self.sampler}, {self.file.ddim_steps} DDIM steps)'
                if self.sampler == 'ddim' else 'diffusion (DDPM)' if self.sampler == 'ddpm'
                else categorical_choice(self.temperature, bool(self.noise_shape))
                if self.sampler == 'categorical' else self.sampler)
        return (f'{self.path.name}: {c.n_layer} layers x {c.n_embd}, image {c.image_size} px, '
                f'{head} head')

    def select_action(self, observation: dict, noise: Optional[np.ndarray] = None) -> dict:
        """Return {'values', 'names', 'index'}; ValueError for a malformed observation."""
        feed = self.processor.preprocess([observation])
        if self.noise_shape:
            feed['noise'] = (np.asarray(noise, np.float32) if noise is not None else
                             sampler_noise(self.sampler, self.noise_shape, self.rng,
                                           self.temperature))
        values = self.session.run(None, {k: feed[k] for k in self.input_names})[0][0]
        if not np.all(np.isfinite(values)):
            raise ValueError('the model produced non-finite actions')
        return self.processor.postprocess(np.clip(values, self.low, self.high))

    def choose(self, indices, observations) -> list:
        """Return the action index of each observation: a chooser for `TaskBatch.play`."""
        return [self.select_action(o)['index'] for o in observations]
