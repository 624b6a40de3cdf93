"""Pre- and post-processing around the policy network, LeRobot style: `select_action(obs)`.

Observation (a dict, what a node or a dataset sample gives):
  'image'        (H, W, 3) uint8 rgb, any size: resized to the model's image_size (INTER_AREA)
  'instruction'  str: UTF-8 bytes, cut or padded to max_text_len
  'sensors'      float (sensor_dim,), 'surface' float (surface_dim,) when the model has them

Text tokenizer: raw UTF-8 bytes (vocabulary 256 + padding). Instructions here are short
commands; bytes need no trained vocabulary, never meet an unknown word, cost one embedding table
of 257 rows, and export to ONNX as a plain int64 input. A BPE tokenizer pays off for long text and
large corpora, neither of which a robot instruction is.

Action: the model outputs continuous values (e.g. dx, dy). For robots with a discrete action set
the processor also returns the index of the nearest action vector (`discrete_actions`), which is
what the sim executes. No PyTorch here: the ONNX kernel uses the same processing.
"""
from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

from nanobot_ros.policy.configuration import DEFAULT_DISCRETE_ACTIONS, PolicyConfig, TEXT_PAD

DEFAULT_ACTION_NAMES = ('dx', 'dy')


class ByteTokenizer:
    """UTF-8 bytes as token ids, padded with TEXT_PAD to a fixed length."""

    def __init__(self, max_len: int):
        self.max_len = max_len

    def encode(self, text: str) -> np.ndarray:
        """Return int64 ids (max_len,): the text's bytes (cut at max_len), then padding."""
        data = (text or '').encode('utf-8')[:self.max_len]
        ids = np.full(self.max_len, TEXT_PAD, np.int64)
        ids[:len(data)] = np.frombuffer(data, np.uint8)
        return ids


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """Return an rgb uint8 image resized to (size, size, 3); ValueError if it is no image."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or \
            min(image.shape[:2]) < 1:
        raise ValueError(f'expected an (H, W, 3) uint8 rgb image, got {image.dtype} '
                         f'{image.shape}')
    if image.shape[:2] == (size, size):
        return image
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


@dataclass
class PolicyProcessor:
    """Turns observations into model inputs and model outputs into actions."""

    image_size: int
    max_text_len: int
    sensor_dim: int = 0
    surface_dim: int = 0
    action_names: Sequence[str] = DEFAULT_ACTION_NAMES
    discrete_actions: Sequence[Sequence[float]] = DEFAULT_DISCRETE_ACTIONS
    text_encoder: str = 'bytes'  # or 'minilm' (policy/text_encoder.py)
    text_encoder_dir: str = ''  # minilm: folder of text_encoder.onnx ('' = the cache)
    tokenizer: ByteTokenizer = field(init=False)

    def __post_init__(self):
        if self.text_encoder == 'minilm':
            from nanobot_ros.policy.text_encoder import encoder_dir, shared_text_encoder
            self.tokenizer = shared_text_encoder(self.text_encoder_dir or encoder_dir())
        else:
            self.tokenizer = ByteTokenizer(self.max_text_len)

    def _vector(self, observation: dict, key: str, dim: int) -> np.ndarray:
        values = np.asarray(observation.get(key, ()), np.float32).reshape(-1)
        if values.shape != (dim,):
            raise ValueError(f'{key} must have {dim} values, got {values.size}')
        if not np.all(np.isfinite(values)):
            raise ValueError(f'{key} holds non-finite values')
        return values

    def preprocess(self, observations: Sequence[dict]) -> dict:
        """Return numpy model inputs for a batch of observations (ValueError when malformed)."""
        batch = {
            'images': np.stack([resize_image(o['image'], self.image_size)
                                for o in observations]).transpose(0, 3, 1, 2)
            .astype(np.float32) / 255.0,
            'text': np.stack([self.tokenizer.encode(o.get('instruction', ''))
                              for o in observations])}
        if self.sensor_dim:
            batch['sensors'] = np.stack([self._vector(o, 'sensors', self.sensor_dim)
                                         for o in observations])
        if self.surface_dim:
            batch['surface'] = np.stack([self._vector(o, 'surface', self.surface_dim)
                                         for o in observations])
        return batch

    def discrete_index(self, values: np.ndarray) -> int:
        """Return the index of the discrete action nearest to `values` (-1 if none defined)."""
        if not len(self.discrete_actions):
            return -1
        vectors = np.asarray(self.discrete_actions, np.float32)
        return int(np.argmin(((vectors - values[None]) ** 2).sum(1)))

    def postprocess(self, values: np.ndarray) -> dict:
        """Return {'values', 'names', 'index'} for one action in robot units."""
        values = np.asarray(values, np.float32).reshape(-1)
        return {'values': values, 'names': tuple(self.action_names),
                'index': self.discrete_index(values)}


def sampler_noise(sampler: str, shape: tuple, rng: np.random.Generator,
                  temperature: float = 0.0) -> np.ndarray:
    """Return the noise input of a policy's graph (float32 of `shape`).

    Diffusion samplers: standard normal. Categorical: `temperature` x Gumbel(0, 1), so that
    argmax(logits + noise) is a draw from softmax(logits / temperature) (the Gumbel-max trick);
    zeros at temperature 0, the most likely action.
    """
    if sampler == 'categorical':
        return (temperature * rng.gumbel(size=shape)).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def processor_for(config: PolicyConfig, text_encoder_dir: str = '', **actions) -> PolicyProcessor:
    """Return the processor matching a policy config; `actions`: action_names, discrete_actions.

    `text_encoder_dir`: where a minilm policy's text_encoder.onnx is ('' = the cache).
    """
    return PolicyProcessor(image_size=config.image_size, max_text_len=config.max_text_len,
                           sensor_dim=config.robotics_sensor_dim,
                           surface_dim=config.robotics_surface_dim,
                           text_encoder=config.text_encoder, text_encoder_dir=text_encoder_dir,
                           **actions)
