"""What the running nodes declare, read from the ROS graph: topics, QoS and parameters.

Not a node: `introspect(domain, workdir)` starts every node executable with its defaults (no
parameters: no hardware is present, so drivers keep retrying their device, kernels wait for a
model) in `workdir`, in ROS domain `domain`, all at once; waits until each answers its parameter
services; then reads each node's publishers and subscriptions with types and QoS from the graph
and its parameters (type, value, description) through ListParameters / DescribeParameters /
GetParameters, and stops the nodes. `render(reports)` writes the node reference (docs/nodes.md:
`./run.sh nanobot docs`); `render_graph(reports)` and `render_defaults()` write the generated
sections of docs/graph.md and docs/defaults.md (`fill` puts them between the marker comments,
the prose around them stays hand-written). test/structure/test_node_reference.py checks the
defaults against the config dataclasses (NODE_CONFIGS) and that the committed docs are current.
"""
import ast
from dataclasses import dataclass, field
import itertools
import os
from pathlib import Path
import signal
import subprocess
import time
from typing import Dict, List, Tuple

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import parameter_value_to_python
from rclpy.signals import SignalHandlerOptions
from rcl_interfaces.msg import ParameterType
from rcl_interfaces.srv import DescribeParameters, GetParameters, ListParameters

from nanobot_ros import contract
from nanobot_ros.data.bag_writer import BagWriter
from nanobot_ros.data.replay_config import ReplayConfig
from nanobot_ros.data.recording import RecorderConfig, RecorderSetup
from nanobot_ros.learning.adaptive_loop import LoopConfig
from nanobot_ros.learning.hierarchy import HierarchyConfig
from nanobot_ros.learning.online import OnlineConfig
from nanobot_ros.learning.transition_labels import LabelConfig
from nanobot_ros.learning.world_model import WorldModelSize
from nanobot_ros.live_view import LiveViewConfig
from nanobot_ros.nodes.common import qos_spec
from nanobot_ros.policy.handover import ArbiterConfig
from nanobot_ros.policy.trainer_config import ContinualConfig
from nanobot_ros.policy.serving_config import EagerServingConfig, OnnxServingConfig, ServingConfig
from nanobot_ros.robots.camera_capture import CameraCalibration, CameraConfig
from nanobot_ros.robots.esp32.emulator import EmulatorConfig
from nanobot_ros.robots.esp32.bridge_config import BridgeConfig
from nanobot_ros.robots.jetbot.motors import MotorLimits, MotorLink
from nanobot_ros.robots.room.robot import RoomRobotConfig
from nanobot_ros.robots.room.world import RoomConfig, RoomMotorLimits
from nanobot_ros.robots.sim.robot import SimConfig
from nanobot_ros.robots.sim.selectors import RunnerConfig, SelectorConfig
from nanobot_ros.robots.sim.target_task import ExpertConfig
from nanobot_ros.robots.sim.toroidal_dot import ToroidalDotConfig
from nanobot_ros.stack import node_command, node_executable

# Seconds before an unanswered parameter request is sent again (_Probe.call).
CALL_RETRY_S = 5.0
# Every rclpy node has these; they are ROS's, not the node's.
BUILTIN_PARAMETERS = ('use_sim_time', 'start_type_description_service')
BUILTIN_TOPICS = ('/parameter_events', '/rosout')
# Given to the nodes at start: what a node cannot start without (no default makes sense), and
# what must not touch anything outside the run's folder (another stack's emulator uses the
# default /tmp link; another live view, or any program, may hold the default port 8765, and the
# foxglove node cannot start without it). The reference shows SHOWN for them instead of the
# value given.
EMPTY_BAG = 'empty_bag'
START_PARAMETERS = {'replay': {'bags': [EMPTY_BAG]}, 'esp32_emulator': {'link': 'esp32_link'},
                    'foxglove': {'port': 0}}
TYPE_NAMES = {getattr(ParameterType, n): n[len('PARAMETER_'):].lower()
              for n in dir(ParameterType) if n.startswith('PARAMETER_')}
# node -> the dataclasses its parameters come from, each with the fields that are no parameter
# (the node fills them in). docs/defaults.md lists it; the test checks the declared defaults.
NODE_CONFIGS = {
    'arbiter': [(ArbiterConfig, ())],
    'camera': [(CameraConfig, ()), (CameraCalibration, ())],
    'esp32_bridge': [(BridgeConfig, ())],
    'esp32_emulator': [(EmulatorConfig, ())],
    'expert': [(ExpertConfig, ())],
    'foxglove': [(LiveViewConfig, ())],
    'jetbot': [(MotorLink, ()), (MotorLimits, ())],
    'kernel': [(ServingConfig, ()), (OnnxServingConfig, ())],
    'policy': [(ServingConfig, ()), (EagerServingConfig, ())],
    'recorder': [(RecorderSetup, ()), (RecorderConfig, ('root', 'metadata'))],
    'replay': [(ReplayConfig, ())],
    'room': [(RoomConfig, ()), (RoomMotorLimits, ()), (RoomRobotConfig, ())],
    'runner': [(SelectorConfig, ()), (RunnerConfig, ())],
    'sim': [(ToroidalDotConfig, ()), (SimConfig, ())],
    'trainer': [(ContinualConfig, ())],
    'world_model': [(OnlineConfig, ()), (WorldModelSize, ()), (SelectorConfig, ('selector',)),
                    (LoopConfig, ('newest_in_batch', 'train_steps_per_frame',
                                  'detailed_metrics_interval', 'online_window',
                                  'ignore_actions')), (LabelConfig, ()),
                    (HierarchyConfig, ())],
}
GENERATED_BEGIN = '<!-- generated by nanobot docs: do not edit -->'
GENERATED_END = '<!-- end generated -->'


@dataclass
class Parameter:
    """One declared parameter: its type, its value at start (the default) and description."""

    name: str
    type: str
    value: object
    description: str


@dataclass
class NodeReport:
    """A node's topics ((topic, type, QoS) each) and parameters."""

    name: str
    publishers: List[Tuple[str, str, str]] = field(default_factory=list)
    subscriptions: List[Tuple[str, str, str]] = field(default_factory=list)
    parameters: Dict[str, Parameter] = field(default_factory=dict)


def node_names() -> List[str]:
    """Return the installed Python node executables (setup.py's NODES), sorted.

    The Rust kernel (nanobot_kernel, also installed there) is documented in docs/kernel.md: it
    offers no parameter services to read.
    """
    nodes = Path(__file__).parent / 'nodes'
    return sorted(p.name for p in Path(node_executable('sim')).parent.iterdir()
                  if (nodes / f'{p.name}.py').is_file())


def node_summary(name: str) -> str:
    """Return the first paragraph of node `name`'s module docstring (read, not imported)."""
    source = (Path(__file__).parent / 'nodes' / f'{name}.py').read_text()
    docstring = ast.get_docstring(ast.parse(source)) or ''
    return ' '.join(docstring.split('\n\n')[0].split())


def describe_qos(profile) -> str:
    """Return a QoS profile as discovery carries it: reliability, durability (no depth)."""
    spec = qos_spec(profile)
    return f"{spec.reliability.replace('_', ' ')}, {spec.durability.replace('_', ' ')}"


class DomainNode:
    """An rclpy context of its own in ROS domain `domain`, with one node and an executor."""

    def __init__(self, domain: int, name: str):
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain,
                   signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def close(self) -> None:
        """Destroy the node and shut the context down."""
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


class _Probe(DomainNode):
    """Asks the other nodes of the domain for their parameters and graph."""

    def __init__(self, domain: int):
        super().__init__(domain, 'nanobot_introspection')

    def call(self, service_type, name: str, request, timeout: float):
        """Return the service's answer; a request unanswered for CALL_RETRY_S is sent again.

        With Fast DDS a reply can be lost for good when the server sends it before it has
        discovered this client's reply reader (a node that answered nothing for the whole
        timeout, on an idle machine); these requests only read, so asking again is safe.
        """
        client = self.node.create_client(service_type, name)
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                raise TimeoutError(f'{name} did not come up in {timeout:g} s')
            deadline = time.monotonic() + timeout
            while True:
                future = client.call_async(request)
                wait = min(CALL_RETRY_S, max(0.0, deadline - time.monotonic()))
                self.executor.spin_until_future_complete(future, timeout_sec=wait)
                if future.done():
                    return future.result()
                client.remove_pending_request(future)
                if time.monotonic() >= deadline:
                    raise TimeoutError(f'{name} did not answer in {timeout:g} s')
        finally:
            self.node.destroy_client(client)

    def parameters(self, node: str, timeout: float) -> Dict[str, Parameter]:
        names = [n for n in self.call(ListParameters, f'/{node}/list_parameters',
                                      ListParameters.Request(), timeout).result.names
                 if n not in BUILTIN_PARAMETERS]
        descriptors = self.call(DescribeParameters, f'/{node}/describe_parameters',
                                DescribeParameters.Request(names=names), timeout).descriptors
        values = self.call(GetParameters, f'/{node}/get_parameters',
                           GetParameters.Request(names=names), timeout).values
        if len(values) != len(names):  # a parameter without a value fails the whole request
            values = [(self.call(GetParameters, f'/{node}/get_parameters',
                                 GetParameters.Request(names=[n]), timeout).values or [None])[0]
                      for n in names]
        return {d.name: Parameter(d.name, TYPE_NAMES[d.type if v is None else v.type],
                                  None if v is None else parameter_value_to_python(v),
                                  d.description)
                for d, v in sorted(zip(descriptors, values), key=lambda dv: dv[0].name)}

    def topics(self, node: str, publishers: bool) -> List[Tuple[str, str, str]]:
        by_node = (self.node.get_publisher_names_and_types_by_node if publishers
                   else self.node.get_subscriber_names_and_types_by_node)
        info = (self.node.get_publishers_info_by_topic if publishers
                else self.node.get_subscriptions_info_by_topic)
        rows = []
        for topic, types in sorted(by_node(node, '/')):
            if topic in BUILTIN_TOPICS:
                continue
            mine = [i for i in info(topic) if i.node_name == node]
            rows.append((topic, ', '.join(types),
                         describe_qos(mine[0].qos_profile) if mine else ''))
        return rows


def _stop(processes) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes.values():
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def introspect(domain: int, workdir: Path, nodes, settle_s: float = 3.0,
               timeout: float = 90.0) -> Dict[str, NodeReport]:
    """Start `nodes` (executable = node name) in `workdir`; return {name: NodeReport}.

    After every node answered, `settle_s` passes so that nodes that subscribe to what they
    discover (the recorder) have done so before the graph is read.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain))
    BagWriter(workdir / EMPTY_BAG).close()
    processes = {}
    probe = _Probe(domain)
    try:
        for name in nodes:
            log = open(workdir / f'{name}.log', 'w')
            command = node_command(name, START_PARAMETERS.get(name, {}).items())
            processes[name] = subprocess.Popen(command, cwd=workdir, env=env,
                                               stdout=log, stderr=subprocess.STDOUT)
            log.close()
        end = time.monotonic() + timeout
        reports = {}
        for name in nodes:
            if processes[name].poll() is not None:
                raise RuntimeError(f'node {name} exited with {processes[name].returncode}: '
                                   + (workdir / f'{name}.log').read_text()[-2000:])
            reports[name] = NodeReport(name, parameters=probe.parameters(
                name, max(1.0, end - time.monotonic())))
        settle_end = time.monotonic() + settle_s
        while time.monotonic() < settle_end:
            probe.executor.spin_once(timeout_sec=0.05)
        for name, report in reports.items():
            report.publishers = probe.topics(name, publishers=True)
            report.subscriptions = probe.topics(name, publishers=False)
        return reports
    finally:
        probe.close()
        _stop(processes)


def _text(text: str) -> str:
    """Return `text` safe inside a Markdown table cell (no pipes, no HTML tags)."""
    return text.replace('|', '\\|').replace('<', '&lt;').replace('>', '&gt;')


def _value(value) -> str:
    if value is None:
        return 'unset'
    text = repr(list(value) if isinstance(value, (list, tuple)) else value)
    return f'`{text}`'.replace('|', '\\|')


SHOWN = {('replay', 'bags'): 'required', ('esp32_emulator', 'link'): _value(EmulatorConfig.link),
         ('foxglove', 'port'): _value(LiveViewConfig.port)}


def render(reports: Dict[str, NodeReport]) -> str:
    """Return the node reference as Markdown: per node, its topics and its parameters."""
    lines = ['# Node reference', '',
             'Generated by `./run.sh nanobot docs` from the running nodes (their graph and '
             'parameter services); do not edit by hand. Every node ran with its defaults, all '
             'in one domain, so the recorder subscribed to what its `topics` found published. '
             'Defaults live in config dataclasses (docs/defaults.md); config/*.yaml only '
             'override. QoS as discovery reports it (no depth).', '']
    for name, report in reports.items():
        lines += [f'## {name}', '']
        lines += [_text(node_summary(name)), '']
        for title, rows in (('Publishes', report.publishers),
                            ('Subscribes', report.subscriptions)):
            if rows:
                lines += [f'{title}:', '', '| topic | type | QoS |', '|---|---|---|']
                # The recorder's subscriptions take their QoS from the publishers it found first
                # (rosbag2's rule): that depends on discovery order, so the page states the rule.
                follows = name == 'recorder' and title == 'Subscribes'
                rule = 'as its publishers (rosbag2: best effort if any is)'
                lines += [f'| `{t}` | `{k}` | {rule if follows else q} |' for t, k, q in rows]
                lines.append('')
        if report.parameters:
            lines += ['| parameter | type | default | description |', '|---|---|---|---|']
            lines += [f'| `{p.name}` | {p.type} | '
                      f'{SHOWN.get((name, p.name), _value(p.value))} | '
                      f'{_text(p.description)} |' for p in report.parameters.values()]
            lines.append('')
    return '\n'.join(lines)


def fill(text: str, *generated: str) -> str:
    """Return `text` with its generated sections replaced by `generated`, in order.

    A section is what lies between GENERATED_BEGIN and GENERATED_END; ValueError when `text`
    does not hold one section per block of `generated`.
    """
    parts = text.split(GENERATED_BEGIN)
    if len(parts) != len(generated) + 1 or not all(GENERATED_END in p for p in parts[1:]):
        raise ValueError(f'expected {len(generated)} {GENERATED_BEGIN} ... {GENERATED_END} '
                         f'sections')
    return parts[0] + ''.join(f'{GENERATED_BEGIN}\n{block}\n{GENERATED_END}'
                              + part.split(GENERATED_END, 1)[1]
                              for block, part in zip(generated, parts[1:]))


def _profile_names() -> Dict[contract.Qos, str]:
    return {v: k for k, v in vars(contract).items() if isinstance(v, contract.Qos)}


def render_graph(reports: Dict[str, NodeReport]) -> Tuple[str, str]:
    """Return docs/graph.md's generated tables: the contract's topics, and its QoS profiles.

    Each topic lists the nodes (run at the root namespace, with their defaults) that publish
    and that subscribe it.
    """
    profiles = _profile_names()

    def nodes(topic, publishers):
        names = [name for name, report in reports.items()
                 if any(t == topic.fqn() for t, _, _ in
                        (report.publishers if publishers else report.subscriptions))]
        return ', '.join(names) or '-'
    topics = ['| Topic | Type | QoS | Published by | Subscribed by |', '|---|---|---|---|---|']
    topics += [f'| `{t.name}` | `{t.msgtype}` | {profiles[t.qos]} | {nodes(t, True)} | '
               f'{nodes(t, False)} |' for t in contract.TOPICS]
    qos = ['| Profile | Reliability | Durability | Depth |', '|---|---|---|---|']
    qos += [f"| {name} | {q.reliability.replace('_', ' ')} | "
            f"{q.durability.replace('_', ' ')} | {q.depth} |" for q, name in profiles.items()]
    return '\n'.join(topics), '\n'.join(qos)


def render_defaults() -> str:
    """Return docs/defaults.md's generated table: each node's config dataclasses.

    From NODE_CONFIGS, grouped by module, with the fields that are no parameter.
    """
    def module(config):
        return config.__module__.split('.', 1)[1].replace('.', '/') + '.py'

    def name(config, skip):
        unset = f" (not parameters: {', '.join(f'`{f}`' for f in skip)})" if skip else ''
        return f'`{config.__name__}`{unset}'
    lines = ['| node | dataclasses (module) |', '|---|---|']
    for node, configs in NODE_CONFIGS.items():
        groups = itertools.groupby(configs, key=lambda c: module(c[0]))
        lines.append(f'| {node} | ' + ', '.join(
            f"{', '.join(name(*c) for c in group)} ({where})" for where, group in groups) + ' |')
    return '\n'.join(lines)
