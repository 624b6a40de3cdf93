"""The room task: drive to the object an instruction names, among 2-4 objects, and stop there.

    task = RoomTask(RoomTaskConfig(phrasings='heldout'))
    instruction = task.reset(seed)     # e.g. "first go to the red cube, then the ball"
    frame = task.step(task.expert())   # or a policy's action; ACTION_NAMES
    task.reached / task.out_of_steps / task.progress

An episode's seed alone draws its layout: 2-4 objects of distinct colours from the palette
(`colors`), each a cube, a ball or a cylinder, at least `spacing` apart and `wall_margin` from
the walls; the robot's start pose at least `start_clearance` from every object; the named
object(s) and the words naming them: colour and shape ("the red cube"), colour only ("the red
one") or, when its shape is the only one of its kind in the room, shape only ("the ball").
With probability `two_step` an instruction names two objects, in order. The sampler redraws a
layout until the straight paths start -> first -> second object pass `path_clearance` from
every other object, so the expert never has to push a distractor out of its way.

Success: the robot takes `stop` while it is **in front of** the object it is to reach next:
the object's surface within `reach` of the robot's axle centre and its centre within `facing`
degrees of the heading (`in_front`). Reaching an object collects it: it leaves the room, as a
collected marker disappears in the task family, and the instruction becomes what is left to do
(a one-step instruction naming the second object, from the same phrasing split). Why the
second: in the grid every marker is always in view, so a vanished marker tells a policy that
sees one frame that the first step is done; in the room most objects are out of view at any
time, and "the first object is gone" looks the same as "the first object is behind me", so a
one-frame policy could not tell whether to search for the first object or drive to the second.
The episode succeeds when every named object is collected in order within `step_budget`
actions; `stop` anywhere else, or in front of another object, does nothing but spend an action.
Objects are free bodies: the robot may push them; success reads where they are now.

Phrasings: the task family's template machinery (`phrase`, train / held-out splits) with this
task's templates; held-out ones (new verbs, word orders, punctuation) are never used for
demonstrations or GRPO. A third split, 'paraphrase', is more training phrasings for GRPO
(`nanobot grpo --phrasings train+paraphrase`): written after the held-out split was fixed, it
shares none of its templates and none of its words but those the training split shares with
it ('go', 'to', 'the', 'and'). Seeds as the family's (benches 0-999, demonstrations 1000+, GRPO
100000+), and inside the benches' range a selection range for choosing settings and
checkpoints and a final test range never used to choose anything (`SEEDS`).

The scripted expert reads ground truth (pose and object positions): when the next object is out
of the camera's view it searches by turning left; otherwise it turns toward it until it is
within `align` degrees, drives forward, and stops once the surface is within `expert_reach`.

Batches (`TaskBatch`, `make_tasks`): tasks of one config share one model and renderer, each
with its own physics state, motors and colours, so a batch of 256 costs one GL context.

Cheap world: 64 px frames, no shadow map, 10 ms physics steps (30 per action: a forward action
goes 1.7 % less far than with 5 ms steps, turns alike to 0.1 %; test_room_kinematics covers the
room's own defaults). One `RoomWorld` is built per task (its renderer is most of the 0.3 s) and
reused for every episode: its bodies are a pool, one per (slot, shape), moved in and out of the
room and painted per episode.
"""
from dataclasses import dataclass, field
import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

from nanobot_ros.robots.room.mjcf import RoomObject, SHAPES
from nanobot_ros.robots.room.world import ACTION_NAMES, RoomConfig, RoomWorld
from nanobot_ros.robots.sim.target_task import MARKER_COLORS
from nanobot_ros.robots.sim.task_family import check_episodes, phrase, TaskFamilyConfig

STOP, FORWARD, BACKWARD, LEFT, RIGHT = range(len(ACTION_NAMES))
SHAPE_WORDS = {'box': 'cube', 'sphere': 'ball', 'cylinder': 'cylinder'}

TEMPLATES = {
    ('train', 1): ('drive to the {}', 'go to the {}', 'find the {}', 'move to the {}',
                   'navigate to the {}', 'stop in front of the {}'),
    ('heldout', 1): ('head over to the {}', 'make your way to the {}', 'your goal is the {}',
                     'approach the {}'),
    ('train', 2): ('first go to the {}, then the {}', 'go to the {} then the {}',
                   'visit the {} and then the {}', 'drive to the {}, then to the {}'),
    ('heldout', 2): ('go to the {}, after that the {}', 'head to the {} and afterwards the {}',
                     'start at the {}, finish at the {}'),
    ('paraphrase', 1): ('travel to the {}', 'roll up to the {}', 'get to the {}',
                        'reach the {}', 'please drive to the {}', 'steer toward the {}',
                        'go find the {}', 'proceed to the {}', 'drive up to the {} and stop',
                        'the {}, please', 'locate the {}', 'pull up in front of the {}'),
    ('paraphrase', 2): ('go to the {} and then to the {}', 'first the {}, then the {}',
                        'reach the {}, next the {}', 'travel to the {} and next to the {}',
                        'drive to the {} followed by the {}', 'the {} first, the {} second',
                        'visit the {} before the {}', 'go to the {}; next, go to the {}',
                        'find the {} and later the {}', 'steer toward the {}, then the {}'),
}

# Episode seeds. The family's ranges (demonstrations 1000+, GRPO 100000+, benches below 1000);
# of the benches' range, 'selection' chooses settings, checkpoints and demonstration counts,
# and 'final' gives the reported figures and is never used to choose anything.
SEEDS = {'selection': range(0, 500), 'final': range(500, 1000),
         'demonstrations': range(1000, 100_000), 'grpo': range(100_000, 10**9)}


def _room_world() -> RoomConfig:
    return RoomConfig(img_size=64, room_size=(1.6, 1.6), objects=0, shadow_size=0,
                      timestep=0.01)


@dataclass
class RoomTaskConfig:
    """The room the task runs in, objects per episode, phrasings, the success rule, the budget."""

    world: RoomConfig = field(default_factory=_room_world)  # `objects` unused: the task's pool
    colors: tuple = TaskFamilyConfig.colors
    min_objects: int = 2
    max_objects: int = 4
    object_size: float = 0.05       # m, every object's half size
    two_step: float = 0.5           # share of instructions naming two objects
    phrasings: str = 'train'
    templates: Optional[dict] = None  # None = TEMPLATES
    step_budget: int = 100          # actions per episode (the expert's longest: 87 of seeds 0-999)
    reach: float = 0.25             # m from the axle centre to the object's surface
    facing: float = 20.0            # degrees between the heading and the object's centre
    expert_reach: float = 0.15      # m: the expert stops once this close (inside `reach`)
    align: float = 10.0             # degrees: the expert turns while the bearing is larger
    spacing: float = 0.45           # m between object centres
    wall_margin: float = 0.25       # m from a wall to an object's centre
    start_clearance: float = 0.35   # m from the start to every object's centre
    path_clearance: float = 0.25    # m from the straight paths to every other object's surface

    def __post_init__(self):
        unknown = [c for c in self.colors if c not in MARKER_COLORS]
        if unknown:
            raise ValueError(f'unknown colours {unknown}; colours: {sorted(MARKER_COLORS)}')
        check_episodes('objects', self.min_objects, self.max_objects, len(self.colors),
                       self.two_step, self.phrasings, self.template_table)
        if self.step_budget < 1:
            raise ValueError(f'step_budget must be >= 1, got {self.step_budget}')
        if not 0 < self.expert_reach <= self.reach or not 0 < self.align <= self.facing:
            raise ValueError('need 0 < expert_reach <= reach and 0 < align <= facing: the '
                             'expert must stop inside the success zone')

    @property
    def template_table(self) -> dict:
        return self.templates or TEMPLATES

    def make_tasks(self, count: int) -> List['RoomTask']:
        """Return `count` tasks sharing one model and renderer (TaskBatch's instances)."""
        first = RoomTask(self)
        return [first] + [RoomTask(self, share=first) for _ in range(count - 1)]

    @property
    def img_size(self) -> int:
        return self.world.img_size


def wrap_angle(angle: float) -> float:
    """Return `angle` in [-pi, pi)."""
    return (angle + math.pi) % (2 * math.pi) - math.pi


def bearing_and_gap(pose: Tuple[float, float, float], centre: Tuple[float, float],
                    size: float) -> Tuple[float, float]:
    """Return an object's bearing (rad, left positive) and surface distance (m) from `pose`."""
    x, y, yaw = pose
    dx, dy = centre[0] - x, centre[1] - y
    return wrap_angle(math.atan2(dy, dx) - yaw), math.hypot(dx, dy) - size


def in_front(pose: Tuple[float, float, float], centre: Tuple[float, float], size: float,
             reach: float, facing: float) -> bool:
    """Return the success rule: surface within `reach` m, centre within `facing` degrees."""
    bearing, gap = bearing_and_gap(pose, centre, size)
    return gap <= reach and abs(math.degrees(bearing)) <= facing


def describe(obj: RoomObject, objects: Sequence[RoomObject], rng: np.random.Generator) -> str:
    """Return words naming `obj` uniquely among `objects` (colours are distinct)."""
    forms = [f'{obj.color} {SHAPE_WORDS[obj.shape]}', f'{obj.color} one']
    if sum(o.shape == obj.shape for o in objects) == 1:
        forms.append(SHAPE_WORDS[obj.shape])
    return forms[int(rng.integers(len(forms)))]


def _segment_distance(p: Tuple[float, float], a: Tuple[float, float],
                      b: Tuple[float, float]) -> float:
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    t = min(1.0, max(0.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / max(dx * dx + dy * dy, 1e-12)))
    return math.hypot(p[0] - ax - t * dx, p[1] - ay - t * dy)


@dataclass(frozen=True)
class RoomEpisode:
    """One episode's layout: objects (the named ones first, in order), start pose, wording."""

    objects: Tuple[RoomObject, ...]
    steps: int                            # objects named: 1 or 2
    start: Tuple[float, float, float]     # x, y, yaw
    names: Tuple[str, ...]                # the words naming each named object


def sample_episode(config: RoomTaskConfig, rng: np.random.Generator) -> RoomEpisode:
    """Draw a layout whose straight paths start -> named objects pass clear of the others."""
    c, size = config, config.object_size
    half_x, half_y = c.world.room_size[0] / 2, c.world.room_size[1] / 2
    count = int(rng.integers(c.min_objects, c.max_objects + 1))
    colors = [str(x) for x in rng.choice(c.colors, size=count, replace=False)]
    steps = 2 if rng.random() < c.two_step else 1
    for _ in range(1000):
        centres: List[Tuple[float, float]] = []
        while len(centres) < count:
            point = (float(rng.uniform(-half_x + c.wall_margin, half_x - c.wall_margin)),
                     float(rng.uniform(-half_y + c.wall_margin, half_y - c.wall_margin)))
            if all(math.hypot(point[0] - q[0], point[1] - q[1]) >= c.spacing for q in centres):
                centres.append(point)
        start = (float(rng.uniform(-half_x + c.world.start_clearance,
                                   half_x - c.world.start_clearance)),
                 float(rng.uniform(-half_y + c.world.start_clearance,
                                   half_y - c.world.start_clearance)))
        if any(math.hypot(start[0] - q[0], start[1] - q[1]) < c.start_clearance
               for q in centres):
            continue
        path = [start] + centres[:steps]
        if all(_segment_distance(q, a, b) - size >= c.path_clearance
               for a, b in zip(path, path[1:]) for q in centres if q not in (a, b)):
            break
    else:
        raise ValueError('no layout with clear paths: fewer objects or a larger room')
    shapes = [SHAPES[int(i)] for i in rng.integers(len(SHAPES), size=count)]
    objects = tuple(RoomObject(shape, color, x, y, size)
                    for shape, color, (x, y) in zip(shapes, colors, centres))
    names = tuple(describe(o, objects, rng) for o in objects[:steps])
    yaw = float(rng.uniform(-math.pi, math.pi))
    return RoomEpisode(objects, steps, (start[0], start[1], yaw), names)


class RoomTask:
    """Episodes of the room task on one RoomWorld (build, step and close it on one thread)."""

    def __init__(self, config: RoomTaskConfig = None, share: Optional['RoomTask'] = None):
        """`share`: a task of the same config whose world's model and renderer this one uses."""
        self.config = config or RoomTaskConfig()
        c = self.config
        # The pool: body slot * len(SHAPES) + shape index, parked in a row outside the walls.
        self._park = c.world.room_size[0] / 2 + 1.0
        pool = [RoomObject(shape, c.colors[0], self._park + 0.3 * i, 0.0, c.object_size)
                for i, shape in enumerate(SHAPES * c.max_objects)]
        self.world = RoomWorld(c.world, objects=pool, share=share and share.world)
        self.episode: Optional[RoomEpisode] = None
        self.bodies: List[int] = []       # pool index of each episode object
        self.progress = 0
        self.steps = 0
        self.episode_seed = -1
        self._instruction = ''
        self.frame = self.reset(0)

    def reset(self, seed: int) -> str:
        """Start the episode of `seed`; return its instruction (the frame is `self.frame`)."""
        c = self.config
        rng = np.random.default_rng(seed)
        self.episode = episode = sample_episode(c, rng)
        self._instruction = phrase(c.template_table, c.phrasings, episode.names, rng)
        self.world.reset(seed)  # every pool body back at its parking place
        self.bodies = []
        for slot, obj in enumerate(episode.objects):
            body = slot * len(SHAPES) + SHAPES.index(obj.shape)
            self.world.set_object_color(body, MARKER_COLORS[obj.color])
            self.world.move_object(body, obj.x, obj.y)
            self.bodies.append(body)
        self.frame = self.world.set_pose(*episode.start)
        self.episode_seed, self.steps, self.progress = seed, 0, 0
        return self._instruction

    @property
    def instruction(self) -> str:
        """Return the running episode's instruction text."""
        return self._instruction

    @property
    def waypoints(self) -> Tuple[RoomObject, ...]:
        """The named objects, in order (as laid out; `target_position` says where they are)."""
        return self.episode.objects[:self.episode.steps]

    @property
    def reached(self) -> bool:
        """Whether every named object has been collected, in order."""
        return self.progress == self.episode.steps

    @property
    def out_of_steps(self) -> bool:
        """Whether the episode used its step budget without collecting every named object."""
        return self.steps >= self.config.step_budget and not self.reached

    @property
    def done(self) -> bool:
        return self.reached or self.steps >= self.config.step_budget

    def target_position(self) -> Tuple[float, float]:
        """Return the centre (x, y) of the object to reach next, where it is now."""
        return self.world.object_position(self.bodies[self.progress])

    def in_front_of_target(self) -> bool:
        """Whether `stop` now would collect the next named object."""
        c = self.config
        return in_front(self.world.pose, self.target_position(), c.object_size, c.reach,
                        c.facing)

    def step(self, action: int) -> np.ndarray:
        """Execute ACTION_NAMES[action]; a `stop` in front of the next object collects it."""
        if self.done:
            raise RuntimeError('the episode is over: reset() first')
        collect = int(action) == STOP and self.in_front_of_target()
        self.frame = self.world.step(action)
        self.steps += 1
        if collect:
            self.world.move_object(self.bodies[self.progress], self._park, -1.0 - self.progress)
            self.progress += 1
            if not self.reached:  # what is left to do, in the episode's phrasing split
                c, names = self.config, self.episode.names[self.progress:]
                rng = np.random.default_rng([self.episode_seed, self.progress])
                self._instruction = phrase(c.template_table, c.phrasings, names, rng)
            # at rest after its stop: put down where it is, and the frame without the object
            self.frame = self.world.set_pose(*self.world.pose)
        return self.frame

    def render(self) -> np.ndarray:
        """Return the camera frame after the last reset or step."""
        return self.frame

    def expert(self) -> int:
        """Return the scripted expert's action from ground truth (see the module doc)."""
        c = self.config
        bearing, gap = bearing_and_gap(self.world.pose, self.target_position(), c.object_size)
        degrees = math.degrees(bearing)
        if abs(degrees) > c.world.camera_fovy / 2:
            return LEFT  # out of view: search
        if abs(degrees) > c.align:
            return LEFT if degrees > 0 else RIGHT
        return STOP if gap <= c.expert_reach else FORWARD

    def close(self) -> None:
        """Release the world's renderer (on the thread that made it)."""
        self.world.close()


def expert_rollouts(config: RoomTaskConfig, seeds: Sequence[int]):
    """Yield (image, instruction, action) of the expert solving the episode of each seed."""
    task = RoomTask(config)
    try:
        for seed in seeds:
            task.reset(int(seed))
            while not task.done:
                action = task.expert()
                yield task.frame, task.instruction, action
                task.step(action)
    finally:
        task.close()
