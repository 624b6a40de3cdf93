"""Which configuration changes a world model checkpoint survives."""
import pytest

from nanobot_ros.learning.world_model import WorldModel
from tiny_world_model import tiny_config


def test_checkpoint_loads_under_other_mask_ratios_but_not_other_sizes():
    saved = WorldModel(tiny_config(mask_ratio_min=0.3, mask_ratio_max=0.85))
    resumed = WorldModel(tiny_config())
    resumed.load_state(saved.state_tensors(), saved.state_metadata())
    # The running config's training mask ratios apply; they shape no weight.
    assert resumed.config.vit.mask_ratio_max == 0.0
    other = WorldModel(tiny_config(max_history=2))
    with pytest.raises(ValueError, match='different model configuration'):
        other.load_state(saved.state_tensors(), saved.state_metadata())
