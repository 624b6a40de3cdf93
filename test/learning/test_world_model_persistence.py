"""Persistence: save -> SIGKILL -> resume restores step counts and weights; corrupt -> backup."""
import signal
import subprocess
import sys
import time

from nanobot_ros.learning.persistence import WorldModelCheckpoints
from persistence_worker import make_loop, weights_digest
from repo_paths import TESTS
from tiny_world_model import dot_frame


def test_resume_after_sigkill_gives_the_saved_steps_and_weights(tmp_path):
    worker = subprocess.Popen([sys.executable, str(TESTS / 'persistence_worker.py'),
                               str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              cwd=str(TESTS))
    saves = []
    deadline = time.monotonic() + 120
    try:
        while len(saves) < 3 and time.monotonic() < deadline:
            line = worker.stdout.readline()
            if not line:
                break
            if line.startswith('saved'):
                saves.append(line.split()[1:])
    finally:
        worker.send_signal(signal.SIGKILL)  # no chance to save anything else
        worker.wait()
    assert len(saves) == 3, 'the worker did not save three times'
    # The kill may have hit a later save after its print; the newest complete save wins.
    loop = make_loop()
    path, sources = WorldModelCheckpoints(tmp_path).restore(loop)
    step, digest = str(loop.learner.predictor_training_step), weights_digest(loop.learner)
    assert [step, digest] in saves or int(step) > int(saves[-1][0])
    if [step, digest] in saves:
        assert sources == {'autoencoder': 'checkpoint', 'predictor': 'checkpoint'}
    # The resumed loop keeps learning from there.
    before = loop.learner.predictor_training_step
    frame = dot_frame(0)
    loop.step(frame, lambda action: frame)
    assert loop.learner.predictor_training_step == before + 1


def test_corrupt_primary_falls_back_to_backup(tmp_path):
    loop = make_loop()
    checkpoints = WorldModelCheckpoints(tmp_path)
    frame = dot_frame(3)
    for _ in range(2):
        loop.step(frame, lambda action: frame)
    checkpoints.save(loop)
    first = (loop.learner.predictor_training_step, weights_digest(loop.learner))
    loop.step(frame, lambda action: frame)
    checkpoints.save(loop)
    checkpoints.path.write_bytes(b'{"torn": ')  # the newest file is garbage
    resumed = make_loop()
    path, _ = checkpoints.restore(resumed, predictor_lr=1e-4)
    assert path.endswith('world_model_backup.safetensors')
    assert (resumed.learner.predictor_training_step, weights_digest(resumed.learner)) == first
    assert resumed.learner.predictor_optimizer.param_groups[0]['lr'] == 1e-4
    assert len(resumed.buffer) == len(loop.buffer) - 1
