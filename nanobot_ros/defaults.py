"""Defaults have one home, the config dataclass; nodes and command lines read them from there.

Nodes declare one ROS parameter per field (`NanobotNode.declare_config`), command lines build
one `--option` per field (`add_config_options`, `config_values`), and the YAML files in
config/ only override. `test/structure/test_node_reference.py` checks the running nodes against
this.
"""
from dataclasses import fields, MISSING
import typing


def field_default(f):
    """Return the default of dataclass field `f` (calling its default_factory)."""
    if f.default_factory is not MISSING:
        return f.default_factory()
    if f.default is MISSING:
        raise TypeError(f'field {f.name} has no default: it cannot be a parameter')
    return f.default


def config_defaults(config_class, skip=()) -> dict:
    """Return {field name: default} of dataclass `config_class`, without the fields in `skip`."""
    return {f.name: field_default(f) for f in fields(config_class) if f.name not in skip}


def add_config_options(parser, config, helps: dict, names: dict = None) -> None:
    """Add one `--option` per field named in `helps` (`names` renames: {field: '--flag'}).

    `config` is a dataclass or an instance of one (then its values are the defaults, e.g. a
    nested default like TrainerConfig().plateau). The option's default is the field's;
    sequences take several values (nargs='+'), booleans are switches that flip the default
    (`--no-wandb` for a field that defaults on).
    """
    defaults = (config_defaults(config) if isinstance(config, type) else
                {f.name: getattr(config, f.name) for f in fields(config)})
    hints = typing.get_type_hints(config if isinstance(config, type) else type(config))
    names = names or {}
    for name, text in helps.items():
        default = defaults[name]
        flag = names.get(name, '--' + name.replace('_', '-'))
        if isinstance(default, bool):
            parser.add_argument(flag, dest=name, default=default, help=text,
                                action='store_false' if default else 'store_true')
        elif isinstance(default, (list, tuple)):
            kind = type(default[0]) if default else str
            parser.add_argument(flag, dest=name, type=kind, nargs='+', default=list(default),
                                help=f'{text} (default: {" ".join(map(str, default))})')
        else:
            kind = type(default) if default is not None else typing.get_args(hints[name])[0]
            parser.add_argument(flag, dest=name, type=kind, default=default,
                                help=f'{text} (default: {default})')


def config_values(args, helps: dict) -> dict:
    """Return {field: value} of the options `add_config_options` added for `helps`."""
    return {name: getattr(args, name) for name in helps}


def parse_assignments(items, form: str = 'key=value') -> list:
    """Split each `--set key=value` into (key, value text); ValueError names one without '='.

    `form` is what the option expects, for the message (e.g. 'node.param=value').
    """
    pairs = []
    for item in items or []:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise ValueError(f'--set expects {form}, got {item!r}')
        pairs.append((key, value))
    return pairs
