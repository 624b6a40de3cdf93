"""A learner process for the crash test: trains, saves every few steps, prints what it saved.

    python persistence_worker.py <checkpoint dir>
Each save prints `saved <predictor step> <weights digest>` and flushes, then training goes on
until the process is killed.
"""
import hashlib
from pathlib import Path
import sys

import torch

from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.persistence import WorldModelCheckpoints
from nanobot_ros.learning.world_model import WorldModel
from tiny_world_model import dot_frame, tiny_config


def weights_digest(model: WorldModel) -> str:
    """SHA-256 over every weight and optimizer tensor, in name order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_tensors().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def make_loop() -> AdaptiveWorldModelLoop:
    torch.set_num_threads(1)
    return AdaptiveWorldModelLoop(WorldModel(tiny_config(), seed=0), LoopConfig(
        reconstruction_threshold=1.0, batch_size=2, seed=0))


def main():
    loop = make_loop()
    checkpoints = WorldModelCheckpoints(Path(sys.argv[1]))
    frame, x = dot_frame(0), 0
    while True:
        def execute(action):
            return dot_frame((x + 5 * action) % 32)
        result = loop.step(frame, execute)
        frame = result['next_frame']
        x = (x + 5 * (result['action'] or 0)) % 32
        if loop.learner.predictor_training_step % 3 == 0:
            checkpoints.save(loop)
            print('saved', loop.learner.predictor_training_step, weights_digest(loop.learner),
                  flush=True)


if __name__ == '__main__':
    main()
