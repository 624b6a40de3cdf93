"""The harder target-task family: a 9 x 9 torus, 2-4 markers from a palette, phrasings, two steps.

    task = TaskFamily(TaskFamilyConfig(phrasings='heldout'))
    instruction = task.reset(seed)      # e.g. "first cyan, then red"
    task.step(action) ... task.reached / task.out_of_steps

An episode draws 2-4 distinct colours from the palette (six by default) for markers on random
cells, so markers that are not named are distractors, and an instruction naming one waypoint
or, with probability `two_step`, two ("go to red then blue"). A waypoint is collected when the
dot reaches its cell: its marker disappears, which is how a policy that sees one frame knows the
first step is done. The episode succeeds when every waypoint is collected in the named order
within `step_budget` steps (20: the longest two-step path on the 9 x 9 torus is 16 moves).
Passing over a later waypoint or a distractor early does nothing.

Phrasings: instructions come from templates; `phrasings='train'` draws from the templates the
demonstrations and GRPO use, `'heldout'` from templates never seen in training (new verbs,
word orders and punctuation, same colour names). The split is what measures language
generalization; the episode seed alone decides the layout, so a seed gives the same layout in
both splits.

Presets (`TASK_PRESETS`): 'family' is the default above; 'new-colours' the variant a LoRA
adapter learns (orange and purple, never in the family, beside red and blue); 'targets' is
today's task (5 x 5 cells,
red, green and blue all present, one template, one waypoint); the reference world is the sim
with no targets at all. The scripted expert reads only the image and the instruction's colours,
like the single-step one (`target_task.expert_action`), aiming at the first named marker still
visible.
"""
from dataclasses import dataclass, replace
import re
from typing import List, Optional, Sequence

import numpy as np

from nanobot_ros.robots.sim.target_task import (expert_action, expert_rollouts, MARKER_COLORS,
                                                TargetTask, TargetTaskConfig)
from nanobot_ros.robots.sim.toroidal_dot import STAY

TEMPLATES = {
    ('train', 1): ('go to the {} marker', 'move to the {} square', 'find {}',
                   'reach the {} one', 'navigate to the {} marker', 'drive to {}'),
    ('heldout', 1): ('head to the {} one', 'get over to the {} square', 'your goal is {}',
                     'make your way to {}'),
    ('train', 2): ('go to {} then {}', 'first {}, then {}', 'visit {} and then {}',
                   'reach the {} one, then the {} one'),
    ('heldout', 2): ('go to {}, after that {}', 'head to {} and afterwards {}',
                     'start with {}, finish at {}'),
}
_COLOR_WORDS = re.compile(r'\b(' + '|'.join(MARKER_COLORS) + r')\b', re.IGNORECASE)


def check_phrasings(phrasings: str, templates: dict) -> None:
    """Raise ValueError unless `phrasings` names a split of `templates`, or several joined by +."""
    splits = sorted({split for split, _ in templates})
    if not phrasings or any(part not in splits for part in phrasings.split('+')):
        raise ValueError(f'phrasings must be one of {splits} or several joined by +, '
                         f'got {phrasings!r}')


def check_episodes(things: str, low: int, high: int, colors: int, two_step: float,
                   phrasings: str, templates: dict) -> None:
    """Raise ValueError unless episodes of low..high things in distinct colours can be drawn.

    Two-step instructions (share `two_step`) need two things; `phrasings` a split of
    `templates`.
    """
    if not 1 <= low <= high <= colors:
        raise ValueError(f'need 1 <= min_{things} ({low}) <= max_{things} ({high}) <= '
                         f'colours ({colors})')
    if not 0.0 <= two_step <= 1.0 or (two_step and low < 2):
        raise ValueError(f'two_step {two_step} must be in [0, 1] and needs min_{things} >= 2')
    check_phrasings(phrasings, templates)


def phrase(templates: dict, phrasings: str, names: Sequence[str],
           rng: np.random.Generator) -> str:
    """Return an instruction naming `names` in order, from a template of split `phrasings`.

    `templates` maps (split, number of names) to format strings with one '{}' per name;
    `phrasings` 'a+b' draws from the templates of splits a and b together.
    """
    options = sum((templates[(split, len(names))] for split in phrasings.split('+')), ())
    return options[int(rng.integers(len(options)))].format(*names)


def parse_waypoints(text: str, colors: Sequence[str]) -> List[str]:
    """Return the colours among `colors` named in `text`, in the order they are named."""
    return [m.group(1).lower() for m in _COLOR_WORDS.finditer(text or '')
            if m.group(1).lower() in colors]


@dataclass
class TaskFamilyConfig(TargetTaskConfig):
    """The target task's world and budget plus markers per episode, two-step share, phrasings."""

    img_size: int = 72
    colors: tuple = ('red', 'green', 'blue', 'yellow', 'magenta', 'cyan')
    step_budget: int = 20
    min_markers: int = 2
    max_markers: int = 4
    two_step: float = 0.5
    phrasings: str = 'train'
    templates: Optional[dict] = None  # None = TEMPLATES; a preset may name its own

    def validate(self):
        """Raise ValueError naming the first parameter that makes no task."""
        super().validate()
        check_episodes('markers', self.min_markers, self.max_markers, len(self.colors),
                       self.two_step, self.phrasings, self.template_table)

    @property
    def template_table(self) -> dict:
        return self.templates or TEMPLATES

    def make_tasks(self, count: int) -> List['TaskFamily']:
        """Return `count` task instances (TaskBatch's)."""
        return [TaskFamily(self) for _ in range(count)]


TASK_PRESETS = {
    'family': TaskFamilyConfig(),
    # The variant LoRA adapts to: two colours the family never shows, beside two it does.
    'new-colours': TaskFamilyConfig(colors=('orange', 'purple', 'red', 'blue')),
    'targets': TaskFamilyConfig(img_size=40, colors=('red', 'green', 'blue'), step_budget=12,
                                min_markers=3, max_markers=3, two_step=0.0,
                                templates={('train', 1): ('go to the {} marker',),
                                           ('heldout', 1): ('go to the {} marker',)}),
}


def task_preset(name: str, **overrides) -> TaskFamilyConfig:
    """Return preset `name` ('family', 'targets') with field overrides."""
    if name not in TASK_PRESETS:
        raise ValueError(f'unknown task preset {name!r}; presets: {sorted(TASK_PRESETS)}')
    return replace(TASK_PRESETS[name], **overrides)


class TaskFamily(TargetTask):
    """Episodes of the task family; rendering and world are the target task's."""

    config: TaskFamilyConfig

    def __init__(self, config: TaskFamilyConfig = TaskFamilyConfig()):
        self.waypoints: List[str] = []
        self.progress = 0
        self._instruction = ''
        super().__init__(config)

    def reset(self, seed: int) -> str:
        """Start the episode of `seed`; return its instruction."""
        c = self.config
        rng = np.random.default_rng(seed)
        count = int(rng.integers(c.min_markers, c.max_markers + 1))
        colors = [str(x) for x in rng.choice(c.colors, size=count, replace=False)]
        cells = rng.choice(self.cells ** 2, size=count + 1, replace=False)
        self.markers = {color: self._cell_centre(int(cell)) for color, cell in
                        zip(colors, cells[1:])}
        self.world.x, self.world.y = self._cell_centre(int(cells[0]))
        steps = 2 if rng.random() < c.two_step else 1
        self.waypoints = colors[:steps]
        self._instruction = phrase(c.template_table, c.phrasings, self.waypoints, rng)
        self.episode_seed, self.steps, self.progress = seed, 0, 0
        self.target = self.waypoints[0]
        return self._instruction

    @property
    def instruction(self) -> str:
        """Return the running episode's instruction text."""
        return self._instruction

    def set_instruction(self, text: str) -> None:
        """Follow `text` from here on: the markers it names, in order.

        ValueError if it names none, or one this episode does not show; the running
        instruction is a no-op.
        """
        if text == self._instruction:
            return
        waypoints = parse_waypoints(text, self.config.colors)
        missing = [color for color in waypoints if color not in self.markers]
        if not waypoints or missing:
            raise ValueError(f'instruction {text!r} names no marker of this episode '
                             f'({", ".join(missing) or "no colour"}); markers: '
                             f'{", ".join(sorted(self.markers))}')
        self.waypoints, self.progress, self._instruction = waypoints, 0, text
        self.target = waypoints[0]

    def expert(self, image: np.ndarray) -> int:
        """Return the expert's action for `image`, reading the waypoints off the instruction."""
        return family_expert_action(image, parse_waypoints(self._instruction, self.config.colors),
                                    self.config.move_pixels)

    @property
    def reached(self) -> bool:
        """Whether every waypoint has been collected, in order."""
        return self.progress == len(self.waypoints)

    def step(self, action: int) -> None:
        """Apply one action; collect the current waypoint when the dot lands on it."""
        super().step(action)
        if not self.reached and (self.world.x, self.world.y) == self.markers[self.target]:
            del self.markers[self.target]
            self.progress += 1
            if not self.reached:
                self.target = self.waypoints[self.progress]

    @property
    def optimal_steps(self) -> int:
        """Moves the shortest solution of the remaining episode takes (toroidal Manhattan)."""
        size, total = self.config.img_size, 0
        x, y = self.world.x, self.world.y
        for color in self.waypoints[self.progress:]:
            mx, my = self.markers[color]
            total += (min((mx - x) % size, (x - mx) % size) +
                      min((my - y) % size, (y - my) % size)) // self.config.move_pixels
            x, y = mx, my
        return total


def family_expert_action(image: np.ndarray, waypoints: Sequence[str], move_pixels: int) -> int:
    """Return the expert's action: towards the first named marker still visible, else stay."""
    for color in waypoints:
        if np.all(image == np.array(MARKER_COLORS[color], np.uint8), axis=2).any():
            return expert_action(image, color, move_pixels)
    return STAY


def rollouts_for(config: TargetTaskConfig, seeds: Sequence[int]):
    """Expert rollouts of either task kind (the family or the single-target task)."""
    return expert_rollouts(config, seeds,
                           TaskFamily if isinstance(config, TaskFamilyConfig) else TargetTask)


class TaskBatch:
    """Many task instances stepped together, for batched policy forwards (GRPO, benches).

    `reset(seeds)` starts one episode per seed; `observations()` returns the running ones'
    (image, instruction); `step(actions)` advances them; `done`, `success` and `steps` per
    episode. Instances that finished are not stepped again. `play(seeds, choose)` does all of
    it. In one process because the sim is a few numpy operations per step: every step of all
    instances costs one batched policy forward, where over DDS each instance would pay a
    message round trip through two nodes and a forward of its own, on two shared cores.
    """

    def __init__(self, config: TaskFamilyConfig, count: int):
        """`config`: a TaskFamilyConfig, or any task config with `make_tasks` (the room's)."""
        self.tasks = config.make_tasks(count)
        self.config = config
        self.done = np.zeros(count, bool)

    def reset(self, seeds: Sequence[int]) -> List[str]:
        """Start episode seeds[i] on instance i; return the instructions."""
        if len(seeds) != len(self.tasks):
            raise ValueError(f'{len(seeds)} seeds for {len(self.tasks)} instances')
        self.done[:] = False
        return [task.reset(int(s)) for task, s in zip(self.tasks, seeds)]

    def close(self) -> None:
        """Release what the instances hold (the room's shared renderer), on this thread."""
        for task in self.tasks:
            if hasattr(task, 'close'):
                task.close()

    def __enter__(self) -> 'TaskBatch':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def running(self) -> np.ndarray:
        """Return the indices of the episodes still running."""
        return np.flatnonzero(~self.done)

    def observations(self, indices: Sequence[int]) -> List[dict]:
        """Return {'image', 'instruction'} for the instances at `indices`."""
        return [{'image': self.tasks[i].render(), 'instruction': self.tasks[i].instruction}
                for i in indices]

    def step(self, indices: Sequence[int], actions: Sequence[int]) -> None:
        """Apply actions[j] to instance indices[j]; mark those that finished."""
        for i, action in zip(indices, actions):
            task = self.tasks[i]
            task.step(int(action))
            self.done[i] = task.reached or task.steps >= self.config.step_budget

    def play(self, seeds: Sequence[int], choose) -> tuple:
        """Run one episode per seed to the end; return (success, steps) arrays.

        `choose(indices, observations)` returns one action per running instance.
        """
        self.reset(seeds)
        while len(indices := self.running()):
            self.step(indices, choose(indices, self.observations(indices)))
        return self.success, self.steps

    @property
    def success(self) -> np.ndarray:
        return np.array([t.reached for t in self.tasks])

    @property
    def steps(self) -> np.ndarray:
        return np.array([t.steps for t in self.tasks])
