"""The explorer's pause: `paused` means no training step is in flight and the counter holds."""
import time

from bag_fixtures import write_session_bag
from nanobot_ros.explorer.sessions import Session
from nanobot_ros.explorer.workbench import Workbench
from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.persistence import WorldModelCheckpoints
from nanobot_ros.learning.world_model import WorldModel, WorldModelConfig

CONFIG = dict(img_size=16, patch_size=8, embed_dim=16, depth=1, predictor_depth=1)


def wait_for(condition, timeout=60.0):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, 'timed out'
        time.sleep(0.005)


def test_pause_reports_paused_only_after_the_step_in_flight(tmp_path):
    write_session_bag(tmp_path / 'sessions' / 'toroidal_dot' / 'lone', steps=12)
    session = Session(tmp_path / 'sessions', 'toroidal_dot/lone')
    path = WorldModelCheckpoints(tmp_path / 'checkpoints').save(AdaptiveWorldModelLoop(
        WorldModel(WorldModelConfig.small(**CONFIG)), LoopConfig()))
    bench = Workbench.load(path)
    job = bench.start_training(session, 0, 10, steps=400)
    wait_for(lambda: job.step >= 1)
    # Pause while a step is in flight: hold the model lock, so the training thread, past its
    # check for a pause, waits on it for its next step.
    with bench._model_lock:
        in_flight = job.step
        time.sleep(0.2)
        bench.pause()
        assert job.state == 'pausing'
        time.sleep(0.2)
        assert job.state == 'pausing' and job.step == in_flight
    wait_for(lambda: job.state == 'paused')
    # The step in flight has ended and was counted; nothing runs until resume.
    held = job.step
    assert held == in_flight + 1 == len(job.losses)
    time.sleep(0.5)
    assert job.step == held and job.state == 'paused'
    bench.resume()
    wait_for(lambda: job.step > held)
    bench.cancel()
    assert job.state == 'done' and job.step == len(job.losses)
