"""The target task: coloured markers in the 2-D toroidal world, an instruction names one.

The world is a grid of cells `move_pixels` wide (img_size must be a multiple of it); the dot and
the markers sit at cell centres, so every move lands the dot on a cell centre. An episode places
the markers and the dot on distinct random cells and picks the instructed target; it succeeds
when the dot sits on the target's cell within `step_budget` steps.

The scripted expert (`expert_action`) reads only what a policy sees: the rendered image and the
instruction. It finds the white dot and the named marker by colour and moves along the axis
with the larger toroidal offset (ties go horizontal, then right/down), so demonstrations are
deterministic functions of the observation.

View. `view='egocentric'` (the default) rolls the torus so the dot sits in the centre cell, as a
camera riding on the robot would see it: the target's offset on screen is then its shortest
toroidal offset, and the policy learns "where on screen is the named marker" instead of
modular arithmetic on absolute positions (which the same small model did not learn within the
same training budget). `view='world'` renders the fixed overhead view of the reference.
The grid has an odd number of cells so the centre is a cell and no offset is ambiguous.
"""
from dataclasses import dataclass
import re
from typing import Optional, Sequence

import numpy as np

from nanobot_ros.robots.sim.toroidal_dot import (MOVE_DOWN, MOVE_LEFT, MOVE_RIGHT, MOVE_UP, STAY,
                                                 ToroidalDotConfig, ToroidalDotWorld)

MARKER_COLORS = {'red': (255, 0, 0), 'green': (0, 255, 0), 'blue': (0, 0, 255),
                 'yellow': (255, 255, 0), 'magenta': (255, 0, 255), 'cyan': (0, 255, 255),
                 'orange': (255, 128, 0), 'purple': (128, 0, 255)}
INSTRUCTION_TEMPLATE = 'go to the {} marker'
_COLOR_WORD = re.compile(r'\b(' + '|'.join(MARKER_COLORS) + r')\b', re.IGNORECASE)


def instruction_for(color: str) -> str:
    """Return the instruction text naming marker `color`."""
    return INSTRUCTION_TEMPLATE.format(color)


def parse_instruction(text: str, colors: Sequence[str]) -> Optional[str]:
    """Return the first marker colour among `colors` named in `text`, or None."""
    for match in _COLOR_WORD.finditer(text or ''):
        color = match.group(1).lower()
        if color in colors:
            return color
    return None


@dataclass
class TargetTaskConfig:
    """World size and speed, the marker colours and the step budget of one episode."""

    img_size: int = 40
    dot_radius: int = 3
    move_pixels: int = 8
    colors: tuple = ('red', 'green', 'blue')
    step_budget: int = 24
    seed: int = 0
    view: str = 'egocentric'

    def validate(self):
        """Raise ValueError naming the first parameter that makes no task."""
        if self.move_pixels < 2 or self.img_size % self.move_pixels:
            raise ValueError(f'img_size ({self.img_size}) must be a multiple of move_pixels '
                             f'({self.move_pixels}) >= 2: the dot moves on a grid of cells')
        if 2 * self.dot_radius + 1 > self.move_pixels:
            raise ValueError(f'dot_radius {self.dot_radius} does not fit in a '
                             f'{self.move_pixels}-pixel cell')
        unknown = [c for c in self.colors if c not in MARKER_COLORS]
        if unknown or not self.colors:
            raise ValueError(f'colors must be a non-empty subset of {sorted(MARKER_COLORS)}, '
                             f'got {list(self.colors)}')
        cells = (self.img_size // self.move_pixels) ** 2
        if len(self.colors) + 1 > cells:
            raise ValueError(f'{len(self.colors)} markers and the dot need more than {cells} '
                             f'cells')
        if self.view not in ('egocentric', 'world'):
            raise ValueError(f'view must be egocentric or world, got {self.view!r}')
        if self.view == 'egocentric' and (self.img_size // self.move_pixels) % 2 == 0:
            raise ValueError(f'an egocentric view needs an odd number of cells, got '
                             f'{self.img_size // self.move_pixels}')
        if self.step_budget < 1:
            raise ValueError(f'step_budget must be >= 1, got {self.step_budget}')


class TargetTask:
    """Episodes of "go to the <colour> marker" in a 2-D toroidal dot world."""

    def __init__(self, config: TargetTaskConfig = TargetTaskConfig()):
        config.validate()
        self.config = config
        self.world = ToroidalDotWorld(ToroidalDotConfig(
            img_size=config.img_size, dot_radius=config.dot_radius,
            move_pixels=config.move_pixels, moves='2d', initial_x=0, initial_y=0))
        self.cells = config.img_size // config.move_pixels
        self.episode_seed = config.seed
        self.markers = {}
        self.target = config.colors[0]
        self.steps = 0
        self.reset(config.seed)

    def _cell_centre(self, cell: int) -> tuple:
        half = self.config.move_pixels // 2
        return ((cell % self.cells) * self.config.move_pixels + half,
                (cell // self.cells) * self.config.move_pixels + half)

    def reset(self, seed: int) -> str:
        """Start the episode of `seed`: place markers and dot, pick a target; return its colour."""
        rng = np.random.default_rng(seed)
        self.episode_seed = seed
        cells = rng.choice(self.cells ** 2, size=len(self.config.colors) + 1, replace=False)
        self.markers = {c: self._cell_centre(int(cell))
                        for c, cell in zip(self.config.colors, cells[1:])}
        self.world.x, self.world.y = self._cell_centre(int(cells[0]))
        self.target = str(rng.choice(self.config.colors))
        self.steps = 0
        return self.target

    def set_target(self, color: str) -> None:
        """Change the instructed target of the running episode."""
        if color not in self.markers:
            raise ValueError(f'no {color!r} marker; markers: {sorted(self.markers)}')
        self.target = color

    def set_instruction(self, text: str) -> None:
        """Follow instruction `text` in the running episode; ValueError if it names no marker."""
        color = parse_instruction(text, self.config.colors)
        if color is None:
            raise ValueError(f'instruction {text!r} names no marker; markers: '
                             f'{", ".join(self.config.colors)}')
        self.set_target(color)

    @property
    def instruction(self) -> str:
        """Return the running episode's instruction text."""
        return instruction_for(self.target)

    def expert(self, image: np.ndarray) -> int:
        """Return the scripted expert's action for `image` under this episode's instruction."""
        return expert_action(image, parse_instruction(self.instruction, self.config.colors),
                             self.config.move_pixels)

    @property
    def reached(self) -> bool:
        """Whether the dot sits on the target marker's cell."""
        return (self.world.x, self.world.y) == self.markers[self.target]

    @property
    def out_of_steps(self) -> bool:
        """Whether the episode used its step budget without reaching the target."""
        return self.steps >= self.config.step_budget and not self.reached

    def step(self, action: int) -> None:
        """Apply one action and count the step."""
        self.world.step(action)
        self.steps += 1

    def render(self) -> np.ndarray:
        """Return the view: markers as filled squares, the white dot drawn over them."""
        image = self.world.render()
        dot = image.max(axis=2) == 255
        half = self.config.move_pixels // 2 - 1
        for color, (x, y) in self.markers.items():
            image[y - half:y + half + 1, x - half:x + half + 1] = MARKER_COLORS[color]
        image[dot] = 255
        if self.config.view == 'egocentric':
            centre = self.config.img_size // 2
            image = np.roll(image, (centre - self.world.y, centre - self.world.x), axis=(0, 1))
        return image


def _toroidal_offset(start: float, goal: float, size: int) -> float:
    """Return the shortest signed offset from start to goal on a circle of `size`."""
    return (goal - start + size / 2) % size - size / 2


def _centroid(mask: np.ndarray) -> Optional[tuple]:
    points = np.argwhere(mask)
    if len(points) == 0:
        return None
    return float(points[:, 1].mean()), float(points[:, 0].mean())


@dataclass
class ExpertConfig:
    """The expert node's view of the task: the cell size of the world it drives."""

    move_pixels: int = TargetTaskConfig.move_pixels

    def __post_init__(self):
        if self.move_pixels < 2:
            raise ValueError(f'move_pixels must be >= 2, got {self.move_pixels}')


def expert_action(image: np.ndarray, color: str, move_pixels: int) -> int:
    """Return the scripted expert's action for an rgb image and the named target colour.

    The dot is white; a marker is pure `color`. When the marker is hidden under the dot (or
    missing) the expert stays. Cells never straddle the image edge, so centroids are exact.
    """
    dot = _centroid(np.all(image == 255, axis=2))
    marker = _centroid(np.all(image == np.array(MARKER_COLORS[color], np.uint8), axis=2))
    if dot is None or marker is None:
        return STAY
    height, width = image.shape[:2]
    dx = _toroidal_offset(dot[0], marker[0], width)
    dy = _toroidal_offset(dot[1], marker[1], height)
    if max(abs(dx), abs(dy)) < move_pixels / 2:
        return STAY
    if abs(dx) >= abs(dy):
        return MOVE_RIGHT if dx > 0 or dx == -width / 2 else MOVE_LEFT
    return MOVE_DOWN if dy > 0 or dy == -height / 2 else MOVE_UP


def expert_rollouts(config: TargetTaskConfig, seeds: Sequence[int], task_class=None):
    """Yield (image, instruction, action) of the expert solving the episode of each seed.

    `task_class` (default TargetTask) is any task with `instruction` and `expert(image)`.
    """
    task = (task_class or TargetTask)(config)
    for seed in seeds:
        task.reset(seed)
        while True:
            image = task.render()
            action = task.expert(image)
            yield image, task.instruction, action
            if task.reached or task.steps >= config.step_budget:
                break
            task.step(action)
