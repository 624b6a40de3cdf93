"""The room task's success rule: `stop` in front of the next named object, in order."""
import math

from nanobot_ros.robots.room.task import (BACKWARD, in_front, RoomTask, RoomTaskConfig, STOP)


def test_in_front_needs_the_surface_within_reach_and_the_centre_within_facing():
    # an object of half size 0.05 at (1, 0); the robot at the origin looking along +x
    assert in_front((0.75, 0.0, 0.0), (1.0, 0.0), 0.05, reach=0.25, facing=20.0)
    assert not in_front((0.69, 0.0, 0.0), (1.0, 0.0), 0.05, reach=0.25, facing=20.0)  # far
    assert in_front((0.8, 0.0, math.radians(19)), (1.0, 0.0), 0.05, reach=0.25, facing=20.0)
    assert not in_front((0.8, 0.0, math.radians(21)), (1.0, 0.0), 0.05, reach=0.25,
                        facing=20.0)                                     # looking away
    assert not in_front((1.2, 0.0, 0.0), (1.0, 0.0), 0.05, reach=0.25, facing=20.0)  # behind


def pose_in_front(task: RoomTask, obj, distance: float = 0.15) -> tuple:
    """Return a pose `distance` m from `obj`'s surface, facing it, from the room centre's side."""
    away = math.atan2(-obj.y, -obj.x)
    x = obj.x + (obj.size + distance) * math.cos(away)
    y = obj.y + (obj.size + distance) * math.sin(away)
    return x, y, away + math.pi


def two_step_task() -> tuple:
    task = RoomTask(RoomTaskConfig(two_step=1.0, min_objects=3, max_objects=3))
    task.reset(7)
    return task, task.waypoints


def test_stop_collects_only_the_next_named_object_in_order_and_it_leaves_the_room():
    task, (first, second) = two_step_task()
    try:
        distractor = task.episode.objects[2]
        for obj in (second, distractor):  # in front of the wrong objects: nothing
            task.world.set_pose(*pose_in_front(task, obj))
            task.step(STOP)
            assert task.progress == 0
        task.world.set_pose(*pose_in_front(task, first))
        task.step(BACKWARD)               # not a stop: nothing
        assert task.progress == 0
        task.world.set_pose(*pose_in_front(task, first))
        before, instruction = task.frame.copy(), task.instruction
        task.step(STOP)
        assert task.progress == 1 and not task.reached
        # the instruction now names what is left: the second object only
        assert task.instruction != instruction and task.episode.names[1] in task.instruction
        assert task.episode.names[0] not in task.instruction
        assert math.hypot(*task.world.object_position(task.bodies[0])) > 1.0  # out of the room
        assert (task.frame != before).any()  # and out of the view
        task.world.set_pose(*pose_in_front(task, second, distance=0.3))  # beyond reach
        task.step(STOP)
        assert task.progress == 1
        task.world.set_pose(*pose_in_front(task, second))
        task.step(STOP)
        assert task.reached and task.done and task.steps == 6
    finally:
        task.close()


def test_the_budget_ends_an_episode_that_never_stops_in_front():
    task = RoomTask(RoomTaskConfig(step_budget=3))
    try:
        task.reset(1)
        for _ in range(3):
            task.step(STOP)
        assert task.out_of_steps and task.done and not task.reached
    finally:
        task.close()
