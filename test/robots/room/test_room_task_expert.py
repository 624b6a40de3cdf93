"""The room task's scripted expert solves seeded episodes (one- and two-step) within budget."""
import numpy as np

from nanobot_ros.robots.room.task import LEFT, RoomTask, RoomTaskConfig, SEEDS


def test_expert_solves_seeded_episodes_searching_when_the_target_is_out_of_view():
    task = RoomTask(RoomTaskConfig())
    try:
        steps, two_step, searched = [], 0, 0
        for seed in SEEDS['demonstrations'][:12]:
            task.reset(seed)
            first = task.expert()
            searched += first == LEFT
            while not task.done:
                task.step(task.expert())
            assert task.reached, (seed, task.instruction, task.progress)
            steps.append(task.steps)
            two_step += task.episode.steps == 2
        assert max(steps) <= task.config.step_budget
        assert 0 < two_step < 12 and searched > 0
        assert np.mean(steps) > 10  # episodes that take driving, not a lucky first stop
    finally:
        task.close()
