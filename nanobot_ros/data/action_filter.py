"""The reference's action filter (`--filter-action motor_right=0.12`) for replay and datasets.

A filter is `name=value[,name=value...]`; an action matches when every named value equals the
action's value of that name (to 1e-4, so 0.12 stored as float32 still matches). `index` (or the
reference's `action`, unless the action has a value of that name) compares the discrete
action index. An empty filter matches everything.
"""
import math
from typing import Dict, Optional, Sequence

INDEX_KEYS = ('index', 'action')
TOLERANCE = 1e-4


def parse_action_filter(text: str) -> Dict[str, float]:
    """Return {name: value} from 'name=value,...'; ValueError says what is wrong."""
    wanted = {}
    for part in filter(None, (p.strip() for p in (text or '').split(','))):
        name, sep, value = part.partition('=')
        if not sep or not name.strip():
            raise ValueError(f'action filter {part!r}: expected name=value, e.g. '
                             f'motor_right=0.12 or index=1')
        try:
            wanted[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f'action filter {part!r}: {value!r} is not a number') from None
    return wanted


def action_matches(wanted: Dict[str, float], index: int, names: Sequence[str],
                   values: Sequence[float]) -> bool:
    """Return whether an action (index, names, values) passes the filter `wanted`."""
    named = dict(zip(names, values))
    for name, value in wanted.items():
        actual: Optional[float] = named.get(name)
        if actual is None and name in INDEX_KEYS:
            actual = index
        if actual is None or not math.isclose(float(actual), value, abs_tol=TOLERANCE):
            return False
    return True
