"""The toroidal dot world: a white dot on a black square image that wraps around horizontally.

Defaults are the reference's ToroidalDotConfig: 224x224 pixels, dot radius 5, action 1 moves the
dot 27 pixels to the right, action 0 keeps it where it is. With `moves='2d'` the dot also moves
left (2), up (3) and down (4) and the world wraps vertically too (a torus), which the target
task (`robots/sim/target_task.py`) uses.
"""
from dataclasses import dataclass

import numpy as np

STAY = 0
MOVE_RIGHT = 1
MOVE_LEFT = 2
MOVE_UP = 3
MOVE_DOWN = 4
ACTION_NAMES = ('stay', 'move_right', 'move_left', 'move_up', 'move_down')
# (dx, dy) in image coordinates (y grows downwards) of each action, in units of move_pixels.
ACTION_VECTORS = ((0, 0), (1, 0), (-1, 0), (0, -1), (0, 1))
MOVE_SETS = {'right': (STAY, MOVE_RIGHT), '2d': (STAY, MOVE_RIGHT, MOVE_LEFT, MOVE_UP, MOVE_DOWN)}


@dataclass
class ToroidalDotConfig:
    """Size of the world and of the dot; start position (-1 = random from `seed`)."""

    img_size: int = 224
    dot_radius: int = 5
    move_pixels: int = 27
    seed: int = 0
    initial_x: int = -1
    initial_y: int = -1
    moves: str = 'right'

    def validate(self):
        """Raise ValueError naming the first parameter that makes no world."""
        if self.img_size < 8:
            raise ValueError(f'img_size must be >= 8 pixels, got {self.img_size}')
        if self.dot_radius < 0 or 2 * self.dot_radius >= self.img_size:
            raise ValueError(
                f'dot_radius must be in [0, img_size/2), got {self.dot_radius} '
                f'for img_size {self.img_size}')
        if self.moves not in MOVE_SETS:
            raise ValueError(f'moves must be one of {sorted(MOVE_SETS)}, got {self.moves!r}')
        if self.move_pixels < 0:
            raise ValueError(f'move_pixels must be >= 0, got {self.move_pixels}')
        for name in ('initial_x', 'initial_y'):
            value = getattr(self, name)
            if value < -1 or value >= self.img_size:
                raise ValueError(f'{name} must be -1 (random) or in [0, {self.img_size}), '
                                 f'got {value}')


class ToroidalDotWorld:
    """State and rendering of the world; `step(action)` applies one discrete action."""

    # The reference's action space; an instance with moves='2d' has the five 2-D actions.
    action_space = MOVE_SETS['right']

    def __init__(self, config: ToroidalDotConfig = ToroidalDotConfig()):
        config.validate()
        self.config = config
        self.action_space = MOVE_SETS[config.moves]
        self.wraps_vertically = config.moves == '2d'
        rng = np.random.default_rng(config.seed)
        size, radius = config.img_size, config.dot_radius
        self.x = config.initial_x if config.initial_x >= 0 else int(rng.integers(0, size))
        # The dot never touches the top or bottom edge: only the horizontal axis wraps.
        self.y = (config.initial_y if config.initial_y >= 0
                  else int(rng.integers(radius, size - radius)))
        yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
        self._disk = (xx ** 2 + yy ** 2) <= radius ** 2
        self._offsets = np.arange(-radius, radius + 1)

    def step(self, action: int):
        """Apply `action` (0 = stay, 1 = right, 2 = left, 3 = up, 4 = down); return the new x."""
        if action not in self.action_space:
            raise ValueError(f'unknown action {action!r}; the action space is {self.action_space}')
        dx, dy = ACTION_VECTORS[action]
        size, move = self.config.img_size, self.config.move_pixels
        self.x = (self.x + dx * move) % size
        self.y = (self.y + dy * move) % size
        return self.x

    def render(self) -> np.ndarray:
        """Return the current view as an (H, W, 3) uint8 rgb8 image."""
        size = self.config.img_size
        image = np.zeros((size, size, 3), dtype=np.uint8)
        cols = (self.x + self._offsets) % size
        rows = self.y + self._offsets
        rows = rows % size if self.wraps_vertically else np.clip(rows, 0, size - 1)
        patch = image[np.ix_(rows, cols)]
        patch[self._disk] = 255
        image[np.ix_(rows, cols)] = patch
        return image
