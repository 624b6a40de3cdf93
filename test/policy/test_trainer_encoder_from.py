"""`nanobot train --encoder-from WM --freeze-encoder`: the run keeps the world model's encoder."""
import torch

from nanobot_ros.learning.world_model import WorldModel, WorldModelConfig
from nanobot_ros.models.checkpoint import save_checkpoint
from nanobot_ros.policy.weights import load_policy
from trainer_fixtures import demo_bags, run, train_command


def test_a_frozen_world_model_encoder_survives_training_and_resume(tmp_path):
    data = demo_bags(tmp_path / 'demos', episodes=2)
    # The trainer tests' tiny policy sees 20 px images in patches of 4 through a 16-wide block.
    world_model = WorldModel(WorldModelConfig.small(img_size=20, patch_size=4, embed_dim=16,
                                                    depth=1, predictor_depth=1), seed=2)
    path = save_checkpoint(tmp_path / 'world_model.safetensors', world_model.state_tensors(),
                           world_model.state_metadata())
    command = train_command(data, tmp_path / 'run', '--max-steps', '2', '--head', 'categorical',
                            '--encoder-from', str(path), '--freeze-encoder')
    first = run(command)
    assert first.returncode == 0, first.stdout + first.stderr
    assert (f'vision encoder from the world model {path}: 16 tensors loaded, frozen'
            in first.stderr)
    theirs = world_model.autoencoder.encoder.state_dict()
    trained, _ = load_policy(tmp_path / 'run' / 'policy.safetensors')
    for name, tensor in trained.vision.state_dict().items():
        assert torch.equal(tensor, theirs[name]), name
    # Resumed, the run does not load the encoder again and keeps it frozen.
    command[command.index('--max-steps') + 1] = '4'
    second = run(command)
    assert second.returncode == 0, second.stdout + second.stderr
    assert 'vision encoder from the world model' not in second.stderr
    resumed, checkpoint = load_policy(tmp_path / 'run' / 'policy.safetensors')
    assert checkpoint.metadata['training']['step'] == 4
    for name, tensor in resumed.vision.state_dict().items():
        assert torch.equal(tensor, theirs[name]), name


def test_an_encoder_of_other_sizes_is_a_clear_error(tmp_path):
    data = demo_bags(tmp_path / 'demos', episodes=1)
    world_model = WorldModel(WorldModelConfig.small(img_size=32, patch_size=8, embed_dim=16,
                                                    depth=1, predictor_depth=1))
    path = save_checkpoint(tmp_path / 'world_model.safetensors', world_model.state_tensors(),
                           world_model.state_metadata())
    result = run(train_command(data, tmp_path / 'run', '--max-steps', '1',
                               '--encoder-from', str(path)))
    assert result.returncode == 1
    assert (f"[ERROR] {path}: the world model's encoder does not fit the policy's; refusing to "
            "load it: image_size: policy has 20, world model has 32; patch_size: policy has 4, "
            "world model has 8.") in result.stdout
