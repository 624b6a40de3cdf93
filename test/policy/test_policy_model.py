"""Policy network: token layout, heads, one-batch overfit, save/load, config mismatch."""
import numpy as np
import pytest
import torch

from nanobot_ros.policy.modeling import Policy, PolicyConfig
from nanobot_ros.policy.weights import ConfigMismatchError, load_policy, save_policy, warm_start
from nanobot_ros.policy.processing import ByteTokenizer
from nanobot_ros.policy.eager_runtime import EagerPolicy
from policy_fixtures import perturbed, tiny_config, tiny_policy


def batch(config: PolicyConfig, size: int = 4, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {'images': torch.rand(size, 3, config.image_size, config.image_size, generator=g),
            'text': torch.randint(0, 256, (size, config.max_text_len), generator=g),
            'sensors': torch.randn(size, config.robotics_sensor_dim, generator=g),
            'surface': torch.randn(size, config.robotics_surface_dim, generator=g),
            'actions': torch.rand(size, config.robotics_action_dim, generator=g) * 2 - 1}


@pytest.mark.parametrize('head', ['regression', 'diffusion'])
def test_sequence_layout_and_action_shapes(head):
    config = tiny_config(robotics_sensor_dim=3, robotics_surface_dim=5, head=head)
    policy = Policy(config).eval()
    # sensor + surface + 4 patches + 8 text bytes + ACT
    assert config.sequence_length == 1 + 1 + 4 + 8 + 1
    b = batch(config)
    assert policy.condition(b['images'], b['text'], b['sensors'], b['surface']).shape == (4, 16)
    noise = torch.randn(policy.head.noise_shape('ddim', 4)) if head == 'diffusion' else None
    actions = policy.act(b['images'], b['text'], b['sensors'], b['surface'], noise, 'ddim', 3)
    assert actions.shape == (4, 2) and torch.all(actions.abs() <= 1)


def test_byte_tokenizer_pads_and_cuts():
    ids = ByteTokenizer(6).encode('go é')
    assert ids.tolist() == [103, 111, 32, 195, 169, 256]
    assert ByteTokenizer(3).encode('go to').tolist() == [103, 111, 32]


@pytest.mark.parametrize('head', ['regression', 'diffusion'])
def test_one_batch_overfits(head):
    torch.manual_seed(0)
    policy = Policy(tiny_config(head=head))
    b = batch(policy.config)
    optimizer = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=3e-3)
    first = None
    for _ in range(120):
        loss = policy(b, torch.Generator().manual_seed(1))  # fixed noise: a fixed objective
        first = first or float(loss.detach())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss) < 0.2 * first


@pytest.mark.parametrize('condition', ['mean', 'cross'])
def test_only_the_cross_condition_gives_film_the_order_of_two_colours(condition):
    # One image, two instructions of the same bytes in another order, two different moves.
    # 'mean' hands FiLM the same summary for both (the same bytes), whatever the weights;
    # 'cross' starts there too (its output projection is zero) and learns to tell them apart.
    config = tiny_config(head='categorical', max_text_len=24, text_condition=condition)
    torch.manual_seed(0)
    policy = Policy(config)
    tokenizer = ByteTokenizer(config.max_text_len)
    b = {'images': torch.rand(1, 3, 16, 16).expand(2, -1, -1, -1),
         'text': torch.tensor(np.stack([tokenizer.encode('first red, then blue'),
                                        tokenizer.encode('first blue, then red')])),
         'actions': torch.tensor([[1.0, 0.0], [-1.0, 0.0]])}
    summaries = []
    policy.film.register_forward_hook(lambda module, inputs, output: summaries.append(inputs[0]))

    def difference():
        summaries.clear()
        policy.condition(b['images'], b['text'])
        return (summaries[0][0] - summaries[0][1]).abs().max().item()

    assert difference() < 1e-6
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3)
    for _ in range(150):
        optimizer.zero_grad()
        loss = policy.loss(b)
        loss.backward()
        optimizer.step()
    if condition == 'mean':
        assert difference() < 1e-6
        return
    assert difference() > 1e-3
    assert loss.item() < 0.05
    assert policy.act(b['images'], b['text']).tolist() == b['actions'].tolist()


def test_cross_condition_starts_exactly_as_the_mean_one(tmp_path):
    # A 'cross' policy warm-started from a 'mean' checkpoint computes the very same logits:
    # the only new tensors (text block, cross-attention) end in a zero output projection.
    mean = perturbed(tiny_policy(head='categorical', max_text_len=24), seed=1)
    path = save_policy(tmp_path / 'mean.safetensors', mean)
    torch.manual_seed(5)
    cross = Policy(tiny_config(head='categorical', max_text_len=24,
                               text_condition='cross')).eval()
    report = warm_start(path, cross)
    assert report['differences'] == ["text_condition: expected 'cross', file has 'mean'"]
    assert report['missing'] == [k for k in cross.state_dict()
                                 if k.startswith(('text_pos', 'text_block.', 'text_cross.'))]
    # zero-initialised: the cross-attention's output projection (and the LayerNorm biases)
    assert report['zero_init'] == ['text_block.norm1.bias', 'text_block.norm2.bias',
                                   'text_cross.norm.bias', 'text_cross.out.weight',
                                   'text_cross.out.bias']
    assert report['loaded'] == sorted(mean.state_dict())
    b = batch(cross.config, size=6)
    with torch.no_grad():
        assert torch.equal(cross.action_logits(b['images'], b['text']),
                           mean.action_logits(b['images'], b['text']))
    # The other way round the cross tensors have no place in a 'mean' policy: refused.
    with pytest.raises(ConfigMismatchError, match=r'no place in this policy: text_pos '):
        warm_start(save_policy(tmp_path / 'cross.safetensors', cross), mean)


def test_save_load_round_trip_keeps_outputs_and_normalization(tmp_path):
    policy = tiny_policy(robotics_sensor_dim=3)
    policy.action_norm.fit(torch.tensor([[0.0, -2.0], [4.0, 2.0]]))
    path = save_policy(tmp_path / 'p.safetensors', policy)
    loaded, checkpoint = load_policy(path)
    assert loaded.config == policy.config
    assert checkpoint.metadata['normalization']['action_norm']['high'] == [4.0, 2.0]
    b = batch(policy.config)
    with torch.no_grad():
        assert torch.equal(policy.act(b['images'], b['text'], b['sensors']),
                           loaded.act(b['images'], b['text'], b['sensors']))


def test_checkpoint_of_another_config_is_refused(tmp_path):
    path = save_policy(tmp_path / 'p.safetensors', tiny_policy())
    with pytest.raises(ConfigMismatchError, match='n_layer: expected 2, file has 1'):
        load_policy(path, expected=tiny_config(n_layer=2))


def test_select_action_returns_bounded_action_and_index():
    runner = EagerPolicy(tiny_policy(head='diffusion'), 'ddim', 3)
    action = runner.select_action({'image': np.zeros((40, 40, 3), np.uint8),
                                   'instruction': 'go to the red marker'})
    assert action['names'] == ('dx', 'dy') and 0 <= action['index'] < 5
    assert np.all(np.abs(action['values']) <= 1)
    with pytest.raises(ValueError, match='uint8 rgb image'):
        runner.select_action({'image': np.zeros((4, 4), np.float32), 'instruction': ''})
