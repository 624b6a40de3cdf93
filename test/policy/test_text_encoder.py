"""The packaged MiniLM encoder: loads with the network refused, ONNX parity, a policy using it."""
import socket

import numpy as np
import pytest
import torch

from nanobot_ros.policy.export import export_policy
from nanobot_ros.policy.onnx_runtime import OnnxPolicy
from nanobot_ros.policy.processing import processor_for
from nanobot_ros.policy.text_encoder import (MAX_TOKENS, MINILM_DIM, OnnxTextEncoder,
                                             SentenceEmbedder, encoder_dir)
from policy_fixtures import tiny_policy

TEXTS = ['go to the red marker', 'head to the crimson one', 'first red, then blue']


@pytest.fixture(scope='module')
def offline(tmp_path_factory):
    """Export the encoder into a fresh cache while every socket connection is refused."""
    patch = pytest.MonkeyPatch()

    def refuse(*_args, **_kwargs):
        raise OSError('network refused by the test')
    patch.setattr(socket.socket, 'connect', refuse)
    patch.setattr(socket.socket, 'connect_ex', refuse)
    patch.setenv('NANOBOT_CACHE', str(tmp_path_factory.mktemp('cache')))
    folder = encoder_dir()
    yield folder, SentenceEmbedder()
    patch.undo()


def test_loads_offline_and_the_onnx_encoder_matches_sentence_transformers(offline):
    folder, embedder = offline
    assert sorted(p.name for p in folder.iterdir()) == ['text_encoder.onnx', 'tokenizer.json']
    reference = embedder.encode(TEXTS)
    onnx = OnnxTextEncoder(folder)
    assert reference.shape == (3, MINILM_DIM)
    np.testing.assert_allclose(onnx.embed(TEXTS), reference, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(reference, axis=1), 1.0, atol=1e-5)


def test_token_states_are_cached_and_zero_past_the_text(offline):
    encoder = OnnxTextEncoder(offline[0])
    states = encoder.encode('find red')
    assert states.shape == (MAX_TOKENS, MINILM_DIM) and states.dtype == np.float32
    assert encoder.encode('find red') is states
    used = np.abs(states).sum(1) > 0
    assert used[:4].all() and not used[4:].any()  # [CLS] find red [SEP], then padding


def test_a_minilm_policy_exports_with_its_encoder_and_the_kernel_agrees(offline, tmp_path):
    policy = tiny_policy(head='categorical', image_size=24, max_text_len=MAX_TOKENS,
                         text_encoder='minilm')
    path = export_policy(policy, tmp_path / 'policy.onnx')
    assert (tmp_path / 'text_encoder.onnx').exists() and (tmp_path / 'tokenizer.json').exists()
    kernel = OnnxPolicy(path)
    processor = processor_for(policy.config)
    rng = np.random.default_rng(0)
    for text in TEXTS:
        obs = {'image': rng.integers(0, 256, (24, 24, 3), dtype=np.uint8), 'instruction': text}
        inputs = processor.preprocess([obs])
        with torch.no_grad():
            logits = policy.action_logits(torch.from_numpy(inputs['images']),
                                          torch.from_numpy(inputs['text']))
        assert kernel.select_action(obs)['index'] == int(logits.argmax())
