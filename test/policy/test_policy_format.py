"""The policy file format (policy/format.py): one writer, every reader, the version checked.

Real files: an export read by ONNX Runtime and a safetensors checkpoint, each rewritten with
another format version or a missing key, must be refused with a message that says which.
"""
import json
from pathlib import Path
import re

import onnx
import pytest

from nanobot_ros.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from nanobot_ros.policy.format import (ONNX_FORMAT, ONNX_KEYS, OnnxMetadata, PolicyFormatError,
                                       VERSION, WEIGHTS_KEYS, WeightsMetadata)
from nanobot_ros.policy.onnx_runtime import ModelFileError, OnnxPolicy
from nanobot_ros.policy.weights import load_policy, save_policy
from policy_fixtures import tiny_config, tiny_export, tiny_policy
from repo_paths import ROOT

DOCS = ROOT / 'docs' / 'policy.md'


def rewrite_props(path: Path, change) -> Path:
    """Rewrite the export's metadata_props through change(dict) -> dict; return the path."""
    model = onnx.load(str(path))
    props = change({p.key: p.value for p in model.metadata_props})
    del model.metadata_props[:]
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


def test_export_metadata_round_trips_and_carries_every_key(tmp_path):
    path = tiny_export(tmp_path)
    props = OnnxPolicy(path).metadata
    assert set(props) == {'nanobot.format'} | {f'nanobot.{k}' for k in ONNX_KEYS}
    assert props['nanobot.format'] == ONNX_FORMAT == f'nanobot_ros.policy_onnx/{VERSION}'
    meta = OnnxMetadata.from_props(props)
    assert meta.to_props() == props
    assert meta.config == tiny_config(head='diffusion')
    assert (meta.sampler, meta.ddim_steps, meta.noise_shape) == ('ddim', 4, (1, 1, 2))
    assert meta.action_names == ('dx', 'dy') and meta.action_low == (-1.0, -1.0)
    assert json.loads(props['nanobot.discrete_actions'])[1] == [1.0, 0.0]


def test_another_onnx_format_version_is_refused_by_name(tmp_path):
    path = rewrite_props(tiny_export(tmp_path),
                         lambda p: {**p, 'nanobot.format': 'nanobot_ros.policy_onnx/2'})
    with pytest.raises(ModelFileError, match=re.escape(
            'written in nanobot_ros.policy_onnx version 2; this reader reads version 1 only')):
        OnnxPolicy(path)
    other = rewrite_props(path, lambda p: {k: v for k, v in p.items() if k != 'nanobot.format'})
    with pytest.raises(ModelFileError, match='not a nanobot_ros policy file'):
        OnnxPolicy(other)


def test_a_missing_or_malformed_key_is_named(tmp_path):
    path = tiny_export(tmp_path)
    props = OnnxPolicy(path).metadata
    missing = {k: v for k, v in props.items() if k != 'nanobot.action_high'}
    with pytest.raises(PolicyFormatError, match='metadata key nanobot.action_high is missing'):
        OnnxMetadata.from_props(missing)
    with pytest.raises(PolicyFormatError, match='metadata key nanobot.noise_shape'):
        OnnxMetadata.from_props({**props, 'nanobot.noise_shape': '[1, 1,'})
    with pytest.raises(PolicyFormatError, match='action_low has 3 values, the action has 2'):
        OnnxMetadata.from_props({**props, 'nanobot.action_low': '[0, 0, 0]'})
    rewrite_props(path, lambda p: {**p, 'nanobot.sampler': 'euler'})
    with pytest.raises(ModelFileError, match="sampler 'euler' is none of"):
        OnnxPolicy(path)


def test_each_head_names_its_own_sampler_and_a_wrong_label_is_refused(tmp_path):
    # a categorical head's noise is added to its logits, one value per action (n_actions 5)
    for head, noise_shape in (('categorical', (1, 5)), ('regression', ())):
        path = tiny_export(tmp_path / head, head=head)
        meta = OnnxMetadata.from_props(OnnxPolicy(path).metadata)
        assert (meta.sampler, meta.noise_shape) == (head, noise_shape)
        export = load_checkpoint(path.with_suffix('.safetensors')).metadata['export']
        assert export['sampler'] == head
    categorical = OnnxPolicy(tmp_path / 'categorical' / 'policy.onnx').metadata
    # exports written before sampled actions have no noise input: still read
    assert OnnxMetadata.from_props({**categorical, 'nanobot.noise_shape': '[]'}).noise_shape == ()
    with pytest.raises(PolicyFormatError, match=re.escape(
            "sampler 'categorical' with noise shape [1, 4]")):
        OnnxMetadata.from_props({**categorical, 'nanobot.noise_shape': '[1, 4]'})
    with pytest.raises(PolicyFormatError, match=re.escape(
            "sampler 'regression' with noise shape [1, 5]")):
        OnnxMetadata.from_props({**OnnxPolicy(path).metadata, 'nanobot.noise_shape': '[1, 5]'})
    rewrite_props(path, lambda p: {**p, 'nanobot.sampler': 'categorical'})
    with pytest.raises(ModelFileError, match=re.escape(
            "sampler 'categorical' does not fit the policy config's head (expected "
            "regression)")):
        OnnxPolicy(path)
    diffusion = rewrite_props(tiny_export(tmp_path), lambda p: {**p, 'nanobot.sampler':
                                                                'regression'})
    with pytest.raises(ModelFileError, match=re.escape(
            "sampler 'regression' does not fit the policy config's head (expected ddim or "
            "ddpm)")):
        OnnxPolicy(diffusion)


def test_extras_round_trip_and_cannot_replace_a_format_key(tmp_path):
    meta = OnnxMetadata.from_props(OnnxPolicy(tiny_export(tmp_path)).metadata)
    props = OnnxMetadata(**{**meta.__dict__, 'extra': {'run': 'r1'}}).to_props()
    assert props['nanobot.run'] == 'r1'
    assert OnnxMetadata.from_props(props).extra == {'run': 'r1'}
    with pytest.raises(PolicyFormatError, match="extra metadata 'sampler' would replace"):
        OnnxMetadata(**{**meta.__dict__, 'extra': {'sampler': 'x'}}).to_props()


def test_weights_metadata_and_its_version(tmp_path):
    path = save_policy(tmp_path / 'p.safetensors', tiny_policy(), extra_metadata={'run': 1})
    checkpoint = load_checkpoint(path)
    assert set(checkpoint.metadata) == set(WEIGHTS_KEYS) | {'run'}
    assert checkpoint.metadata['kind'] == 'nanobot_policy'
    assert WeightsMetadata.from_json(checkpoint.metadata).extra == {'run': 1}
    save_checkpoint(path, checkpoint.tensors, {**checkpoint.metadata, 'kind': 'nanobot_policy/2'},
                    keep_backup=False)
    with pytest.raises(CheckpointError, match=re.escape(
            'written in nanobot_policy version 2; this reader reads version 1 only')):
        load_policy(path)
    save_checkpoint(path, checkpoint.tensors, {'kind': 'world_model'}, keep_backup=False)
    with pytest.raises(CheckpointError, match="not a nanobot_ros policy file .format 'world_"):
        load_policy(path)
    with pytest.raises(PolicyFormatError,
                       match=re.escape("extra metadata ['kind'] would replace format keys")):
        save_policy(tmp_path / 'q.safetensors', tiny_policy(), extra_metadata={'kind': 'x'})


def test_docs_list_exactly_the_keys_of_the_format():
    text = DOCS.read_text()
    documented = set(re.findall(r'^\| `nanobot\.([a-z_]+)` \|', text, re.M))
    assert documented == {'format'} | set(ONNX_KEYS)
    weights = set(re.findall(r'^\| `([a-z_]+)` \|', text, re.M))
    assert set(WEIGHTS_KEYS) <= weights
    assert f'`{ONNX_FORMAT}`' in text
