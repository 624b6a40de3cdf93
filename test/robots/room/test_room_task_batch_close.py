"""A room TaskBatch releases its shared renderer when closed, and keeps its outcomes.

GRPO builds a batch per iteration and the arbiter one per evaluation: each holds a GL
context until closed.
"""
from nanobot_ros.robots.room.task import RoomTaskConfig
from nanobot_ros.robots.sim.task_family import TaskBatch

SEEDS = [1000, 1001]


def test_leaving_the_batch_closes_its_renderer_and_keeps_the_outcomes():
    with TaskBatch(RoomTaskConfig(), len(SEEDS)) as batch:
        renderer = batch.tasks[0].world.renderer
        success, steps = batch.play(SEEDS, lambda indices, _: [batch.tasks[i].expert()
                                                               for i in indices])
    assert renderer is not None
    assert [task.world.renderer for task in batch.tasks] == [None, None]
    assert success.tolist() == batch.success.tolist() == [True, True]
    assert steps.tolist() == batch.steps.tolist()
