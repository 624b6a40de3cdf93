"""The explorer tests' workbench: a tiny untrained world model and a 12-step recorded session."""
import pytest

from bag_fixtures import write_session_bag
from nanobot_ros.explorer.sessions import Session
from nanobot_ros.explorer.workbench import Workbench
from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.persistence import WorldModelCheckpoints
from nanobot_ros.learning.world_model import WorldModel, WorldModelConfig

CONFIG = dict(img_size=16, patch_size=8, embed_dim=16, depth=1, predictor_depth=1)


@pytest.fixture
def bench_and_session(tmp_path):
    """Return (Workbench on a fresh checkpoint, Session 'toroidal_dot/lone' of 12 steps)."""
    write_session_bag(tmp_path / 'sessions' / 'toroidal_dot' / 'lone', steps=12)
    session = Session(tmp_path / 'sessions', 'toroidal_dot/lone')
    path = WorldModelCheckpoints(tmp_path / 'checkpoints').save(AdaptiveWorldModelLoop(
        WorldModel(WorldModelConfig.small(**CONFIG)), LoopConfig()))
    return Workbench.load(path), session
