"""Action selectors of the reference's RobotRunner: functions of the observation -> action.

A selector is called once per observation and returns `(action, metadata)`, as in the reference's
toroidal_action_selectors.py; metadata is a (possibly empty) list of extra information.
"""
from dataclasses import dataclass, field
from typing import Callable, List, Sequence, Tuple

from nanobot_ros.contract import ACTION_OVERRIDE
from nanobot_ros.robots.sim.toroidal_dot import MOVE_RIGHT, STAY

ActionSelector = Callable[[object], Tuple[int, list]]

NAMED_SEQUENCES = {
    'always_move': (MOVE_RIGHT,),
    'always_stay': (STAY,),
    'alternate': (STAY, MOVE_RIGHT),
    'double_move': (MOVE_RIGHT, MOVE_RIGHT, STAY),
    'triple_move': (MOVE_RIGHT, MOVE_RIGHT, MOVE_RIGHT, STAY),
}
SELECTOR_NAMES = ('constant', 'sequence') + tuple(NAMED_SEQUENCES)


def constant_selector(action: int) -> ActionSelector:
    """Return a selector that always answers `action`."""
    def select(observation):
        return action, []
    return select


def sequence_selector(sequence: Sequence[int]) -> ActionSelector:
    """Return a selector that cycles through `sequence`, starting with its first action."""
    actions: List[int] = list(sequence)
    if not actions:
        raise ValueError('an action sequence needs at least one action')
    state = {'index': 0}

    def select(observation):
        action = actions[state['index']]
        state['index'] = (state['index'] + 1) % len(actions)
        return action, []
    return select


def make_selector(name: str, action_space: Sequence[int], constant_action: int = 0,
                  sequence: Sequence[int] = ()) -> ActionSelector:
    """Build the selector called `name`, checking every action it can return is in the space."""
    if name == 'constant':
        actions = [constant_action]
    elif name == 'sequence':
        actions = list(sequence)
    elif name in NAMED_SEQUENCES:
        actions = list(NAMED_SEQUENCES[name])
    else:
        raise ValueError(f'unknown selector {name!r}; choose one of {", ".join(SELECTOR_NAMES)}')
    unknown = [a for a in actions if a not in action_space]
    if unknown:
        raise ValueError(f'selector {name!r} would send actions {unknown} outside the action '
                         f'space {tuple(action_space)}')
    if name == 'constant':
        return constant_selector(constant_action)
    return sequence_selector(actions)


@dataclass
class SelectorConfig:
    """Which selector answers, and the settings of the constant and sequence selectors."""

    selector: str = 'always_move'
    constant_action: int = 1
    sequence: List[int] = field(default_factory=lambda: [1, 0])

    def make(self, action_space: Sequence[int]) -> ActionSelector:
        """Return the configured selector over `action_space` (ValueError if it makes none)."""
        return make_selector(self.selector, action_space, self.constant_action, self.sequence)


@dataclass
class RunnerConfig:
    """The runner node's output beside its selector."""

    log_interval: int = 100                     # log statistics every N actions
    action_names: List[str] = field(default_factory=lambda: ['action'])
    override_topic: str = ACTION_OVERRIDE.name  # a person's next action replaces the selector's

    def __post_init__(self):
        if self.log_interval <= 0:
            raise ValueError(f'log_interval must be > 0, got {self.log_interval}')
