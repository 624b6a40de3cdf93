"""A stack's YAML: which nodes run and with which parameters, read by launch files and stack.py.

The file is a ROS 2 parameters file: one top-level key per node, each with `ros__parameters`.
The key is the node's name and its executable in the nanobot_ros package (unless the node's
`impl` parameter picks another implementation, see `executable_name`), so
`ros2 launch` and `./run.sh sim` start the same processes with the same parameters.

Under a namespace (`namespace:=robot1`, `./run.sh sim --namespace robot1`) a key `sim:` would
not reach the node: rcl applies a parameters-file key to the node whose full name it is (/sim,
not /robot1/sim). So both hand the nodes `any_namespace_parameters`: the same file with each key
`/**/sim`, which rcl matches in every namespace.
"""
from pathlib import Path
import re
from typing import List, Optional, Tuple

from ament_index_python.packages import get_package_prefix, get_package_share_directory
import yaml

NAMESPACE = re.compile(r'^/?([A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*)?$')


# A float as rcl (and YAML 1.2) reads it, where PyYAML (YAML 1.1) needs a dot: `1e-3`. Reading
# a stack YAML, PyYAML made `lr: 1e-3` the string '1e-3'; writing params.yaml, it left the
# string '1e-3' unquoted, which rcl reads as a double. Both directions know this form here.
EXPONENT_FLOAT = re.compile(r'^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+$')


class RosYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader reading `1e-3` as the float rcl reads."""


class RosYamlDumper(yaml.SafeDumper):
    """PyYAML's safe dumper quoting a string rcl would read as a float ('1e-3')."""


for _yaml_class in (RosYamlLoader, RosYamlDumper):
    _yaml_class.add_implicit_resolver('tag:yaml.org,2002:float', EXPONENT_FLOAT,
                                      list('-+.0123456789'))


def load_ros_yaml(text: str):
    """Return the YAML `text` with its values as rcl reads a parameters file."""
    return yaml.load(text, Loader=RosYamlLoader)


def dump_ros_yaml(data) -> str:
    """Return `data` as a parameters file rcl reads back with the same types (keys in order)."""
    return yaml.dump(data, Dumper=RosYamlDumper, sort_keys=False)


def stack_nodes(config_path) -> List[str]:
    """Return the node names (= executables) of the stack in `config_path`, in file order."""
    path = Path(config_path)
    if not path.is_file():
        raise FileNotFoundError(f'stack config {path} does not exist')
    data = load_ros_yaml(path.read_text()) or {}
    if not isinstance(data, dict) or not data:
        raise ValueError(f'{path}: expected one top-level key per node')
    for name, body in data.items():
        if not isinstance(body, dict) or 'ros__parameters' not in body:
            raise ValueError(f'{path}: node {name!r} has no ros__parameters section')
    return list(data)


def namespace_path(namespace: str) -> str:
    """Return `namespace` as an absolute ROS namespace ('robot1' -> '/robot1', '' -> '/')."""
    if not NAMESPACE.match(namespace):
        raise ValueError(f'{namespace!r} is not a ROS namespace (e.g. robot1 or fleet/robot1)')
    return '/' + namespace.strip('/')


# `remap: [robot/action:=kernel/action]` in a node's ros__parameters is no parameter: it lists
# the node's topic remappings (`-r from:=to`, a launch Node's remappings), so a stack can route
# one node's output elsewhere (the learn stack's kernel answers the arbiter, not the robot).
REMAP = 'remap'


# `{run_dir}` in a string parameter stands for the run's folder, so a stack whose nodes share
# files (the learn stack: the recorder's splits, the trainer's export) starts from nothing in
# each run.
RUN_DIR = '{run_dir}'


def any_namespace_parameters(config_path, run_dir=None, overrides=None) -> dict:
    """Return the stack YAML's content keyed `/**/<node>`: it reaches the node in any namespace.

    Remappings (REMAP) are taken out: they are no parameters (node_remappings returns them).
    With `run_dir`, RUN_DIR in string values (and lists of them) becomes that folder.
    overrides: {node: [(param, text)]} (`--set`) replace the YAML's values, each text read as
    YAML, as ROS reads a `-p name:=value` (an empty text as '', as `node_command` passes it).
    """
    def fill(value):
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, str) and run_dir is not None:
            return value.replace(RUN_DIR, str(run_dir))
        return value
    data = load_ros_yaml(Path(config_path).read_text())
    keyed = {}
    for name, body in data.items():
        section = {**body, 'ros__parameters': {
            k: fill(v) for k, v in body['ros__parameters'].items() if k != REMAP}}
        section['ros__parameters'].update(
            (param, load_ros_yaml(text) if text else '')
            for param, text in (overrides or {}).get(name, []))
        keyed[f'/**/{name}'] = section
        # r2r (the Rust kernel) matches a section by `/**`, the node's full name or its bare
        # name, never `/**/<node>`: it gets its section under its bare name too, which reaches
        # it in any namespace (rcl gives that key to /<node> only, with the same values). A
        # copy: YAML would write one object twice as an anchor and alias.
        if executable_name(config_path, name) in R2R_EXECUTABLES:
            keyed[name] = {**section, 'ros__parameters': dict(section['ros__parameters'])}
    return keyed


def node_remappings(config_path, node: str) -> dict:
    """Return {topic: new topic} of `node`'s `remap` list; ValueError for a malformed entry."""
    remappings = {}
    for rule in node_parameters(config_path, node).get(REMAP, []):
        source, sep, target = str(rule).partition(':=')
        if not sep or not source or not target:
            raise ValueError(f'{config_path}: node {node!r}: remap {rule!r} is not from:=to')
        remappings[source] = target
    return remappings


# `impl: rust` in the kernel's ros__parameters runs the Rust kernel (kernel/, docs/kernel.md)
# under the same node name; `impl: python` (or no impl) the Python one.
IMPLEMENTATIONS = {('kernel', 'python'): 'kernel', ('kernel', 'rust'): 'nanobot_kernel'}
R2R_EXECUTABLES = ('nanobot_kernel',)


def executable_name(config_path, node: str) -> str:
    """Return the executable of `node` in `config_path`: the node's name unless it sets impl."""
    chosen = node_parameters(config_path, node).get('impl')
    if chosen is None:
        return node
    if (node, chosen) not in IMPLEMENTATIONS:
        raise ValueError(f'{config_path}: node {node!r} has no implementation {chosen!r}; '
                         f'choose from {sorted(i for n, i in IMPLEMENTATIONS if n == node)}')
    return IMPLEMENTATIONS[(node, chosen)]


# Fast DDS's variable naming an XML profiles file (Fast DDS 2, ROS 2 Humble and Jazzy), and
# its Fast DDS 3 name; a file named in either is the user's choice and wins.
PROFILES_VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')


def dds_environment(environ) -> dict:
    """Return the variables a stack's nodes get on top of `environ`.

    That is config/fastdds_large_data.xml as the Fast DDS profile (shared memory sized for
    camera frames: without it several cameras lose frames in transport, docs/recording.md),
    unless `environ` names a profile already.
    """
    if any(environ.get(name) for name in PROFILES_VARIABLES):
        return {}
    config = Path(get_package_share_directory('nanobot_ros')) / 'config'
    profile = config / 'fastdds_large_data.xml'
    return {PROFILES_VARIABLES[0]: str(profile)}


# What runs instead when the implementation a stack asks for is not installed: run.sh builds the
# Rust kernel only for what uses it, and not at all without cargo and libclang.
FALLBACKS = {'nanobot_kernel': 'kernel'}


def executable_path(executable: str) -> Path:
    """Return where nanobot_ros installs `executable` (what `ros2 run nanobot_ros` runs)."""
    return Path(get_package_prefix('nanobot_ros')) / 'lib' / 'nanobot_ros' / executable


def runnable_executable(config_path, node: str) -> Tuple[str, Optional[str]]:
    """Return (executable, warning) for `node`.

    The executable is executable_name's, or its fallback when that is not installed; the
    warning says so (None when nothing fell back).
    """
    chosen = executable_name(config_path, node)
    fallback = FALLBACKS.get(chosen)
    if fallback is None or executable_path(chosen).exists():
        return chosen, None
    return fallback, (f'{node}: {chosen} (impl: rust) is not built, running the Python {fallback} '
                      'instead; ./run.sh kernel-build says why (docs/kernel.md)')


def node_parameters(config_path, node: str) -> dict:
    """Return the ros__parameters of `node` in `config_path`."""
    data = load_ros_yaml(Path(config_path).read_text())
    return dict(data[node]['ros__parameters'])
