"""Tiny world model configurations and worlds shared by the world model tests."""
import numpy as np

from nanobot_ros.learning.adaptive_loop import LoopConfig
from nanobot_ros.learning.hierarchy import HierarchyConfig
from nanobot_ros.learning.online import build_online_learner, OnlineConfig
from nanobot_ros.learning.world_model import WorldModelConfig, WorldModelSize

IMG = 32


def tiny_config(**kwargs) -> WorldModelConfig:
    """Return a 32x32, patch 8 world model config that trains a few steps per second."""
    config = WorldModelConfig.small(img_size=IMG, patch_size=8, embed_dim=32, depth=1,
                                    predictor_depth=1, autoencoder_lr=3e-3, predictor_lr=3e-3,
                                    **kwargs)
    return config


def dot_frame(x: int, y: int = 12, size: int = IMG, radius: int = 3) -> np.ndarray:
    """Return a white square dot on black at column x, wrapping horizontally."""
    frame = np.zeros((size, size, 3), dtype=np.uint8)
    cols = [(x + d) % size for d in range(-radius, radius + 1)]
    frame[y - radius:y + radius + 1][:, cols] = 255
    return frame


def dot_world(start: int = 0):
    """Return `execute(action)` for a loop's `step`: action 1 moves the dot 4 px right."""
    position = [start]

    def execute(action):
        position[0] += 4 * (action or 0)
        return dot_frame(position[0])
    return execute


def tiny_online_learner(checkpoint_dir, levels: int = 0, embed_dim: int = 32, **settings):
    """Return the world_model node's learner (learning/online.py) at a tiny size, two actions.

    settings: OnlineConfig's (the node's parameters).
    """
    return build_online_learner(
        OnlineConfig(checkpoint_dir=str(checkpoint_dir), **settings),
        WorldModelSize(img_size=IMG, patch_size=8, embed_dim=embed_dim, depth=1,
                       predictor_depth=1),
        LoopConfig(actions=[0, 1], idle_action=0), HierarchyConfig(hierarchy_levels=levels))
