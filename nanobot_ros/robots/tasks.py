"""Every task a policy learns, by name: the grid task family's presets and the room task.

    config = task_config('room', phrasings='heldout')   # RoomTaskConfig
    config = task_config('family')                       # TaskFamilyConfig

`TaskBatch(config, n)` plays either (robots/sim/task_family.py); `nanobot demos --task`,
`nanobot grpo --task` and bench/policy_success.py take these names. `dagger_rollouts` lets a
policy drive either while its expert labels every frame.
"""
from dataclasses import replace
from typing import Sequence, Tuple

from nanobot_ros.robots.jetbot.motors import MOTOR_NAMES
from nanobot_ros.robots.room import task as room_task
from nanobot_ros.robots.room.task import RoomTaskConfig
from nanobot_ros.robots.room.world import ACTION_NAMES as ROOM_ACTION_NAMES
from nanobot_ros.robots.room.world import ACTION_VECTORS as ROOM_ACTION_VECTORS
from nanobot_ros.robots.sim.task_family import rollouts_for, TASK_PRESETS, TaskBatch
from nanobot_ros.robots.sim.toroidal_dot import ACTION_NAMES as DOT_ACTION_NAMES
from nanobot_ros.robots.sim.toroidal_dot import ACTION_VECTORS as DOT_ACTION_VECTORS

TASKS = {**TASK_PRESETS, 'room': RoomTaskConfig()}


def task_config(name: str, **overrides):
    """Return task `name`'s config with field overrides."""
    if name not in TASKS:
        raise ValueError(f'unknown task {name!r}; tasks: {sorted(TASKS)}')
    return replace(TASKS[name], **overrides)


def task_actions(config) -> Tuple[str, Tuple[str, ...], tuple]:
    """Return (robot type, action value names, each action index's values) of a task's robot.

    The room's are the JetBot's motor values of its action table (what the room node's
    robot/action takes); the grid's the dot's moves.
    """
    if isinstance(config, RoomTaskConfig):
        return 'room', MOTOR_NAMES, ROOM_ACTION_VECTORS
    return 'toroidal_dot_targets', ('dx', 'dy'), DOT_ACTION_VECTORS


def task_action_names(config) -> Tuple[str, ...]:
    """Return the name of each action index of a task's robot (the room's: stop, forward, ...)."""
    return ROOM_ACTION_NAMES if isinstance(config, RoomTaskConfig) else DOT_ACTION_NAMES


def expert_rollouts(config, seeds: Sequence[int]):
    """Yield (image, instruction, action index) of the task's expert on each seed's episode."""
    if isinstance(config, RoomTaskConfig):
        return room_task.expert_rollouts(config, seeds)
    return rollouts_for(config, seeds)


def expert_action(task) -> int:
    """Return the expert's action for a task instance's present state (a room or grid task)."""
    return task.expert() if isinstance(task.config, RoomTaskConfig) else task.expert(task.render())


def dagger_rollouts(config, seeds: Sequence[int], choose, batch: int = 64):
    """Yield (image, instruction, action taken, expert's action) with `choose` driving.

    DAgger's data: the policy visits the states its own mistakes lead to, and the expert says
    what it would have done in each. `choose(indices, observations)` is a TaskBatch chooser;
    episodes run `batch` at a time and come out whole, in the order of `seeds`.
    """
    seeds = [int(s) for s in seeds]
    for start in range(0, len(seeds), batch):
        chunk = seeds[start:start + batch]
        episodes = [[] for _ in chunk]
        with TaskBatch(config, len(chunk)) as tasks:
            tasks.reset(chunk)
            while len(indices := tasks.running()):
                observations = tasks.observations(indices)
                actions = choose(indices, observations)
                for i, seen, action in zip(indices, observations, actions):
                    episodes[i].append((seen['image'], seen['instruction'], int(action),
                                        expert_action(tasks.tasks[i])))
                tasks.step(indices, actions)
        for episode in episodes:
            yield from episode
