"""Room tasks batched (TaskBatch): one shared renderer, each instance's frames its own."""
import numpy as np

from nanobot_ros.robots.room.task import RoomTask, RoomTaskConfig
from nanobot_ros.robots.sim.task_family import TaskBatch

SEEDS = [1000, 1001, 1002]


def test_a_batch_sharing_one_renderer_plays_each_episode_as_a_lone_task_does():
    config = RoomTaskConfig()
    batch = TaskBatch(config, len(SEEDS))
    assert len({id(task.world.renderer) for task in batch.tasks}) == 1
    assert len({id(task.world.data) for task in batch.tasks}) == len(SEEDS)
    frames = {i: [] for i in range(len(SEEDS))}

    def expert(indices, observations):
        for i, observation in zip(indices, observations):
            frames[i].append((observation['image'], observation['instruction']))
        return [batch.tasks[i].expert() for i in indices]

    success, steps = batch.play(SEEDS, expert)
    assert success.all() and (steps <= config.step_budget).all()
    alone = RoomTask(config)
    try:
        for i, seed in enumerate(SEEDS):  # the same frames (colours included) and instructions
            alone.reset(seed)
            for frame, instruction in frames[i]:
                assert np.array_equal(frame, alone.frame) and instruction == alone.instruction
                alone.step(alone.expert())
            assert alone.reached and alone.steps == steps[i]
    finally:
        alone.close()
        batch.close()
