"""A categorical policy served at temperature T samples softmax(logits / T); at 0 the argmax.

The export adds its noise input to the logits (Gumbel-max); the ONNX Runtime and PyTorch eager
runtimes and TaskBatch's chooser (DAgger rollouts) draw temperature x Gumbel noise for it.
Frequencies over many draws of one observation are compared with the softmax of PyTorch's own
logits.
"""
import numpy as np
import pytest

from nanobot_ros.policy.eager_runtime import EagerPolicy
from nanobot_ros.policy.export import export_policy
from nanobot_ros.policy.grpo import policy_chooser
from nanobot_ros.policy.onnx_runtime import OnnxPolicy
from policy_fixtures import perturbed, tempered_softmax, tiny_policy

DRAWS = 3000  # binomial std of a frequency <= 0.009; the bound below is 4 of them


def observation(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {'image': rng.integers(0, 256, (24, 24, 3), dtype=np.uint8),
            'instruction': 'go to the red marker'}


@pytest.fixture(scope='module')
def categorical(tmp_path_factory):
    policy = perturbed(tiny_policy(seed=1, head='categorical'), 2)
    return policy, export_policy(policy, tmp_path_factory.mktemp('export') / 'policy.onnx')


@pytest.mark.parametrize('runtime', ['onnx', 'eager', 'chooser'])
def test_sampled_frequencies_are_the_tempered_softmax(runtime, categorical):
    policy, model = categorical
    obs, temperature = observation(0), 2.0
    expected = tempered_softmax(policy, obs, temperature)
    assert (expected > 0.05).sum() >= 3  # a spread the frequencies can be told apart on
    if runtime == 'chooser':  # TaskBatch's (DAgger rollouts): one batched forward for all draws
        indices = policy_chooser(policy, temperature, seed=3)(range(DRAWS), [obs] * DRAWS)
    else:
        served = (OnnxPolicy(model, seed=3, temperature=temperature) if runtime == 'onnx' else
                  EagerPolicy(policy, seed=3, temperature=temperature))
        indices = [served.select_action(obs)['index'] for _ in range(DRAWS)]
    counts = np.bincount(indices, minlength=len(expected))
    assert np.abs(counts / DRAWS - expected).max() < 0.036, (counts / DRAWS, expected)


def test_temperature_zero_takes_the_most_likely_action(categorical):
    policy, model = categorical
    greedy, choose = OnnxPolicy(model, seed=3), policy_chooser(policy, seed=3)
    for seed in range(8):
        obs = observation(seed)
        best = int(np.argmax(tempered_softmax(policy, obs, 1.0)))
        assert {greedy.select_action(obs)['index'] for _ in range(5)} == {best}
        assert choose(range(5), [obs] * 5).tolist() == [best] * 5


def test_a_seed_gives_the_same_draws(categorical):
    _, model = categorical
    draws = [[served.select_action(observation(0))['index'] for _ in range(50)]
             for served in (OnnxPolicy(model, seed=seed, temperature=2.0) for seed in (5, 5, 6))]
    assert draws[0] == draws[1]
    assert draws[0] != draws[2]


def test_an_export_without_noise_input_serves_its_argmax_and_says_so(categorical, tmp_path):
    import onnx
    from nanobot_ros.policy.export import ActionGraph, _onnx_bytes
    policy, _ = categorical
    # the graph as exports before sampled actions wrote it: no noise input
    graph = ActionGraph(policy, 'ddim', 10)
    graph.input_names = [n for n in graph.input_names if n != 'noise']
    inputs = graph.example_inputs()[:len(graph.input_names)]
    old = onnx.load_from_string(_onnx_bytes(graph, inputs, graph.input_names, ['actions']))
    props = {p.key: p.value for p in onnx.load(str(categorical[1])).metadata_props}
    props['nanobot.noise_shape'] = '[]'
    for key, value in props.items():
        old.metadata_props.add(key=key, value=value)
    onnx.save(old, str(tmp_path / 'old.onnx'))
    served = OnnxPolicy(tmp_path / 'old.onnx', temperature=1.0)
    assert served.description.endswith(
        'categorical (most likely action: the export predates sampling, no noise input) head')
    obs = observation(0)
    best = int(np.argmax(tempered_softmax(policy, obs, 1.0)))
    assert {served.select_action(obs)['index'] for _ in range(20)} == {best}
