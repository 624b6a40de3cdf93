"""The Rust kernel spells Python's facts: serving defaults, file formats, PolicyConfig's fields.

kernel/src cannot import Python, so what it spells by hand is read here and compared, value by
value, with the one home of each fact (the topic names and QoS: test_graph_contract.py).
"""
from dataclasses import fields
import re

from nanobot_ros.models import checkpoint
from nanobot_ros.policy import format as policy_format
from nanobot_ros.policy.configuration import HEADS, PolicyConfig
from nanobot_ros.policy.serving_config import OnnxServingConfig, ServingConfig
from repo_paths import ROOT

KERNEL = ROOT / 'kernel' / 'src'
RUST_TYPES = {int: 'usize', bool: 'bool', str: 'String', float: 'f64'}


def rust_literal(text: str):
    """Return the Python value of a Rust literal: "text", true/false, or a number."""
    if text.startswith('"'):
        return text.strip('"')
    if text in ('true', 'false'):
        return text == 'true'
    return float(text) if '.' in text else int(text)


def test_the_kernels_parameter_defaults_are_the_python_kernels():
    source = (KERNEL / 'node.rs').read_text()
    defaults = {name: rust_literal(value) for name, value in
                re.findall(r'p\.(?:string|float|int|bool)\("(\w+)", ([^)]+?)\)', source)
                if name != 'backend'}  # ort or candle: the Rust kernel's own parameter
    count_default = rust_literal(re.search(r'p\.int\(name, (\d+)\)', source).group(1))
    for name in re.findall(r'count\("(\w+)"\)', source):
        defaults[name] = count_default
    python = {f.name: f.default for config in (ServingConfig, OnnxServingConfig)
              for f in fields(config)}
    assert defaults == python


def test_the_kernels_format_strings_are_the_exporters():
    source = (KERNEL / 'policy' / 'config.rs').read_text()
    consts = dict(re.findall(r'pub const (\w+): &str = "([^"]+)";', source))
    assert consts == {'ONNX_FORMAT': policy_format.ONNX_FORMAT,
                      'CHECKPOINT_FORMAT': checkpoint.FORMAT,
                      'GGUF_FORMAT': policy_format.GGUF_FORMAT,
                      'WEIGHTS_KIND': policy_format.WEIGHTS_KIND}


def test_the_kernels_policy_config_has_every_field_of_the_dataclass():
    source = (KERNEL / 'policy' / 'config.rs').read_text()
    body = re.search(r'pub struct PolicyConfig \{(.*?)\n\}', source, re.S).group(1)
    rust = dict(re.findall(r'pub (\w+): (\w+),', body))
    assert rust == {f.name: RUST_TYPES[type(f.default)] for f in fields(PolicyConfig)}
    # A field older exports lack takes the dataclass's default.
    for function, name in re.findall(r'#\[serde\(default = "(\w+)"\)\][^\n]*\n\s*pub (\w+)',
                                     body):
        value = re.search(rf'fn {function}\(\) -> \w+ \{{\s*([^\s}}]+)', source).group(1)
        value = rust_literal(value.removesuffix('.to_string()'))
        assert value == getattr(PolicyConfig, name), name
    for name in re.findall(r'#\[serde\(default\)\][^\n]*\n\s*pub (\w+)', body):
        assert getattr(PolicyConfig, name) in (False, 0, ''), name
    heads = re.search(r'pub const VISION_HEADS: usize = (\d+);', source).group(1)
    assert int(heads) == PolicyConfig().vit_config().num_heads
    action_heads = re.search(r'pub const HEADS: \[&str; \d+\] = \[([^]]*)\];', source).group(1)
    assert tuple(re.findall(r'"(\w+)"', action_heads)) == HEADS
