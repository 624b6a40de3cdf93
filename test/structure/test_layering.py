"""The layering of nanobot_ros, read from the source with ast (module- and function-level imports).

The rules (README "Layout"):
  1. No import cycles between modules. A function-level import counts like any other, so a
     cycle "broken" by importing inside a function is still a cycle.
  2. No upward imports. Each package (or top-level module) sits in one layer of LAYERS and
     imports only from its own package or from lower layers, never from its own layer's
     other packages:
       0  the package root, durable, contract,    plain helpers every layer may use
          defaults, version
       1  data, robots, models                   bags, drivers, networks: independent
       2  learning, live_view                    training loops over models; the live relay
       3  policy                                 the policy family (uses all of the above)
       4  nodes, report, explorer                the ROS 2 nodes; run reports; the session
                                                 explorer (a web app over bags and models)
       5  stack_config                           the stack YAML
       6  stack, launch_support                  run stacks (without and with launch_ros)
       7  node_reference                         starts nodes to read what they declare
       8  cli                                    what a user runs
  3. No node module imports another node module, except the shared bases every node may
     build on: nodes/common.py (NanobotNode, QoS, run) and nodes/action_server.py (the
     observation -> action server the kernel and policy nodes subclass).
  4. rclpy only in nodes/, stack.py, launch_support.py and node_reference.py.
"""
import ast
from pathlib import Path

from repo_paths import ROOT

PACKAGE = ROOT / 'nanobot_ros'
LAYERS = [('nanobot_ros', 'durable', 'contract', 'defaults', 'version'),
          ('data', 'robots', 'models'), ('learning', 'live_view'), ('policy',),
          ('nodes', 'report', 'explorer'),
          ('stack_config',), ('stack', 'launch_support'), ('node_reference',), ('cli',)]
SHARED_NODE_BASES = {'nanobot_ros.nodes.common', 'nanobot_ros.nodes.action_server'}
RCLPY_MODULES = ('nanobot_ros.stack', 'nanobot_ros.launch_support',
                 'nanobot_ros.node_reference')  # and nodes/


def module_files() -> dict:
    """Return {dotted module name: path} for every module of the package."""
    modules = {}
    for path in sorted(PACKAGE.rglob('*.py')):
        parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
        modules['.'.join(parts[:-1] if parts[-1] == '__init__' else parts)] = path
    return modules


def imported_names(name: str, path: Path) -> list:
    """Return (dotted name, line) for every import anywhere in the module, relative resolved."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                package = name.split('.') if path.name == '__init__.py' else \
                    name.split('.')[:-1]
                package = package[:len(package) - node.level + 1]
                base = '.'.join(package + ([base] if base else []))
            found.append((base, node.lineno))
            found += [(f'{base}.{alias.name}', node.lineno) for alias in node.names]
    return found


def import_graph() -> tuple:
    """Return ({module: {imported module: first line}}, {module: {external top-level names}})."""
    modules = module_files()
    graph, external = {}, {}
    for name, path in modules.items():
        graph[name], external[name] = {}, set()
        for target, line in imported_names(name, path):
            if target.split('.')[0] != 'nanobot_ros':
                external[name].add(target.split('.')[0])
                continue
            while target not in modules:  # 'pkg.module.Class' -> 'pkg.module'
                target = target.rpartition('.')[0]
            if target != name:
                graph[name].setdefault(target, line)
    return graph, external


def group(module: str) -> str:
    """Return the layer table's name of a module: its subpackage or top-level module."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else parts[0]


def layer(module: str) -> int:
    for index, names in enumerate(LAYERS):
        if group(module) in names:
            return index
    raise AssertionError(f'{module} is in no layer: add {group(module)!r} to LAYERS')


def cycles(graph: dict) -> list:
    """Return the strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_is_read_from_every_module():
    graph, external = import_graph()
    assert {'nanobot_ros.robots.esp32.link', 'nanobot_ros.policy.format',
            'nanobot_ros.nodes.common', 'nanobot_ros.cli'} <= set(graph)
    # function-level imports are seen: rpyc is imported inside RpycCapture.__init__
    assert 'rpyc' in external['nanobot_ros.robots.jetbot.remote_camera']
    assert graph['nanobot_ros.policy.eager_runtime']['nanobot_ros.policy.processing'] > 0


def test_no_import_cycles():
    assert cycles(import_graph()[0]) == []


def test_cycles_are_found_through_function_level_imports():
    graph = {'a': {'b': 1}, 'b': {'c': 1}, 'c': {'a': 1}, 'd': {'a': 1}}
    assert cycles(graph) == [['a', 'b', 'c']]


def test_no_upward_or_sideways_imports():
    graph = import_graph()[0]
    wrong = [f'{a} (layer {layer(a)}) imports {b} (layer {layer(b)}) at line {line}'
             for a, targets in graph.items() for b, line in targets.items()
             if group(a) != group(b) and layer(b) >= layer(a)]
    assert wrong == []


def test_no_node_module_imports_another_node_module():
    graph = import_graph()[0]
    found = {(a, b) for a, targets in graph.items() for b in targets
             if a.startswith('nanobot_ros.nodes.') and b.startswith('nanobot_ros.nodes.')
             and b not in SHARED_NODE_BASES}
    assert found == set()


def test_rclpy_only_in_nodes_stack_and_launch_support():
    external = import_graph()[1]
    users = sorted(m for m, names in external.items() if 'rclpy' in names)
    assert 'nanobot_ros.nodes.common' in users
    assert [m for m in users
            if not m.startswith('nanobot_ros.nodes.') and m not in RCLPY_MODULES] == []
