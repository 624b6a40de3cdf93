"""Run a stack without launch_ros: one child process per node of a stack YAML, then a summary.

`./run.sh sim` calls this with config/sim.yaml. It does what `ros2 launch` does for the same
file (each node is its installed executable, in its own process, with `--params-file`), watches
the graph with a small monitor node, shows progress, and writes a run folder:

  runs/<timestamp>/summary.json   counts, rates, each node's final diagnostics report and,
                                  under its name, the figures a node names in its
                                  `summary_figures` value (nodes/common.py)
  runs/<timestamp>/config.yaml    the stack YAML as given
  runs/<timestamp>/params.yaml    its parameters keyed /**/<node>, what the nodes read in any
                                  namespace, with the `--set` overrides: what the stack ran with
  runs/<timestamp>/logs/<node>.log
  runs/<timestamp>/report.md, report.html   the run's report (nanobot_ros/report)

With `--namespace robot1` every node runs in /robot1 (`-r __ns:=/robot1`, as `ros2 launch ...
namespace:=robot1` pushes it): its topics are /robot1/camera/image_raw, ..., and the monitor
listens there, diagnostics included, so stacks in two namespaces on one domain stay apart.

Every node also gets `-p run_dir:=<run folder>`; nodes that write files (recorder, world model)
declare that parameter and write there, the others ignore it. The run folder's path is printed
last, on its own line.
"""
import argparse
from collections import Counter
import datetime
import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from tqdm import tqdm

from nanobot_ros.contract import ACTION, DIAGNOSTICS, IMAGE
from nanobot_ros.defaults import parse_assignments
from nanobot_ros.nodes.common import LEVEL_NAMES, qos_profile
from nanobot_ros.report import write_report
from nanobot_ros.stack_config import (any_namespace_parameters, dds_environment, dump_ros_yaml,
                                      executable_path, namespace_path, node_parameters,
                                      node_remappings, runnable_executable, stack_nodes)
from nanobot_msgs.msg import Action
from sensor_msgs.msg import Image

# Simulated robots (their status counts frames and actions exactly): the dot world, the room.
SIMULATED_ROBOTS = ('sim', 'room')
STOP_TIMEOUT_S = 30.0  # a learning node saves its checkpoint and pictures on the way out


def _parse_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


class StackMonitor(Node):
    """Counts what crosses the graph and keeps each node's latest diagnostics report."""

    def __init__(self, namespace: str = '/'):
        super().__init__('stack_monitor', namespace=namespace)
        self.frames = 0
        self.actions = Counter()
        self.reports = {}
        self.create_subscription(Image, IMAGE.name, self._on_frame, qos_profile(IMAGE))
        self.create_subscription(Action, ACTION.name, self._on_action, qos_profile(ACTION))
        self.create_subscription(DiagnosticArray, DIAGNOSTICS.name, self._on_diagnostics,
                                 qos_profile(DIAGNOSTICS))

    def _on_frame(self, msg):
        self.frames += 1

    def _on_action(self, msg):
        self.actions[str(msg.index)] += 1

    def _on_diagnostics(self, msg):
        for status in msg.status:
            self.reports[status.hardware_id or status.name] = {
                'level': LEVEL_NAMES.get(status.level, str(status.level)),
                'message': status.message,
                'values': {kv.key: _parse_value(kv.value) for kv in status.values},
            }


def node_executable(name: str) -> str:
    """Return the installed executable of node `name` (what `ros2 run nanobot_ros name` runs)."""
    path = executable_path(name)
    if not path.exists():
        raise FileNotFoundError(f'node executable {path} not found: is nanobot_ros built?')
    return str(path)


def node_command(name: str, params=(), remap=None, params_file=None, namespace=None,
                 executable=None) -> list:
    """Return the command line running node `name` with ROS arguments.

    params: (parameter, value) pairs, each a `-p name:=value` (booleans as true/false, as ROS
    reads them; an empty string as '', which rcl reads as one, where `name:=` it refuses to
    parse); remap: {topic: new topic}, each a `-r`; params_file: a `--params-file` first;
    namespace: the node's namespace (`-r __ns:=/robot1`).
    executable: the installed executable when it is not `name` (e.g. nanobot_kernel).
    """
    command = [node_executable(executable or name), '--ros-args']
    if params_file is not None:
        command += ['--params-file', str(params_file)]
    if namespace is not None:
        command += ['-r', f'__ns:={namespace}']
    for key, value in params:
        text = str(value).lower() if isinstance(value, bool) else str(value) or "''"
        command += ['-p', f'{key}:={text}']
    for topic, to in (remap or {}).items():
        command += ['-r', f'{topic}:={to}']
    return command


def start_nodes(names, params_file: Path, run_dir: Path, overrides, namespace: str = '/',
                executables=None, remappings=None):
    """Start one process per node in `namespace`; return {name: Popen}.

    executables: {name: executable} where it is not the node's name (`impl: rust`);
    remappings: {name: {topic: new topic}} (the stack YAML's `remap`).
    """
    logs = run_dir / 'logs'
    logs.mkdir(parents=True, exist_ok=True)
    processes = {}
    for name in names:
        command = node_command(name, [('run_dir', run_dir), *overrides.get(name, [])],
                               remap=(remappings or {}).get(name), params_file=params_file,
                               namespace=namespace, executable=(executables or {}).get(name))
        log = open(logs / f'{name}.log', 'wb')
        processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True)
    return processes


def await_first_reports(monitor: StackMonitor, processes, spin, timeout: float) -> None:
    """Spin until the monitor holds a report of every node still running, at most `timeout` s.

    On a busy machine discovery can take seconds: a short run would otherwise stop a node the
    monitor has not heard yet, and the summary would call it failed ('no report') for that.
    """
    def unheard():
        return [name for name, process in processes.items()
                if name not in monitor.reports and process.poll() is None]
    if unheard():
        print(f'[stack] waiting up to {timeout:g} s for the first report of '
              f'{", ".join(unheard())}', file=sys.stderr, flush=True)
    deadline = time.monotonic() + timeout
    while unheard() and time.monotonic() < deadline:
        spin(0.05)


def stop_nodes(processes, spin):
    """SIGINT the nodes one by one, last started first, so controllers stop before the robot.

    Each node gets STOP_TIMEOUT_S to finish (as ros2 launch grants) before it is killed.
    Returns {name: exit code}.
    """
    for process in reversed(list(processes.values())):
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            spin(0.05)
        if process.poll() is None:
            process.kill()
            process.wait()
    spin(0.2)
    return {name: p.returncode for name, p in processes.items()}


def summarize(monitor: StackMonitor, names, codes, duration_s: float, run_dir: Path):
    """Return the summary.json content for a finished run."""
    nodes = {}
    for name in names:
        report = monitor.reports.get(name, {'level': 'none', 'message': 'no report',
                                            'values': {}})
        ok = codes[name] == 0 and report['level'] in ('ok', 'warn')
        nodes[name] = {'status': 'ok' if ok else 'failed', 'exit_code': codes[name], **report}
    observed = {'frames': monitor.frames, 'actions': sum(monitor.actions.values()),
                'action_counts': dict(sorted(monitor.actions.items()))}
    simulated = next((n for n in SIMULATED_ROBOTS if n in nodes), None)
    if simulated:  # a simulated robot's own counts are exact, over its whole life
        sim = nodes[simulated]['values']
        counts = {'frames': int(sim.get('frames', 0)),
                  'actions': int(sim.get('actions_received', 0)),
                  'actions_applied': int(sim.get('actions_applied', 0)),
                  'action_counts': sim.get('action_counts', {})}
        # The sim publishes until it is stopped, after the controllers: its rate is its frames
        # over the time it published them, not over --duration.
        publishing_s = float(sim.get('publishing_s', 0.0))
    else:  # a real robot: what crossed the topics is the count there is
        counts = {'frames': observed['frames'], 'actions': observed['actions'],
                  'actions_applied': None, 'action_counts': observed['action_counts']}
        publishing_s = duration_s
    recorder = nodes.get('recorder', {}).get('values', {})
    session = Path(recorder['bag']) if recorder.get('bag') else None
    summary = {
        'run_dir': str(run_dir),
        'duration_s': round(duration_s, 3),
        **counts,
        'publishing_s': round(publishing_s, 3),
        'frames_per_s': round(counts['frames'] / publishing_s, 3) if publishing_s > 0 else 0.0,
        'observed': observed,
        'session': str(session) if session else None,
        # Each split is a rosbag2 bag of its own (`ros2 bag info <split>`).
        'bags': sorted(str(p.parent) for p in session.glob('*/metadata.yaml'))
        if session and session.is_dir() else [],
        'messages_written': recorder.get('messages_written'),
        'messages_dropped': recorder.get('messages_dropped'),
        'nodes': nodes,
    }
    for name, node in nodes.items():  # each node's own headline figures, by its own list
        figures = node['values'].get('summary_figures')
        if figures:
            summary[name] = {key: node['values'].get(key) for key in figures}
    return summary


def live_view_address(config: Path, overrides) -> str:
    """Return what to open for the stack's foxglove node (its host and port parameters)."""
    params = dict(node_parameters(config, 'foxglove'), **dict(overrides.get('foxglove', [])))
    host, port = params.get('host', '127.0.0.1'), int(params.get('port', 8765))
    if port == 0:
        return 'a free port: logs/foxglove.log says which'
    return (f'ws://{host}:{port} (Foxglove or Lichtblick: open a Foxglove WebSocket connection; '
            'layout config/foxglove_layout.json; see docs/seeing.md)')


def parse_overrides(items):
    """Turn ['node.param=value', ...] into {node: [(param, value)]}."""
    overrides = {}
    try:
        pairs = parse_assignments(items, 'node.param=value')
    except ValueError as error:
        raise SystemExit(str(error)) from None
    for key, value in pairs:
        node, dot, param = key.partition('.')
        if not dot:
            raise SystemExit(f'--set expects node.param=value, got {key}={value!r}')
        overrides.setdefault(node, []).append((param, value))
    return overrides


def main(argv=None):
    """Run the stack for --duration seconds and write the run folder."""
    parser = argparse.ArgumentParser(prog='./run.sh sim', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default='config/sim.yaml', help='stack parameters YAML')
    # 115 s: long enough for the world model to learn to predict the dot beside the rest of
    # the stack on a shared 2-core machine (the figures: docs/world_model.md, "A fresh
    # `./run.sh sim`").
    parser.add_argument('--duration', type=float, default=115.0, help='seconds to run')
    parser.add_argument('--runs', default='runs', help='folder that holds run folders')
    parser.add_argument('--set', action='append', default=[], metavar='NODE.PARAM=VALUE',
                        help='override one parameter, e.g. --set runner.selector=alternate')
    parser.add_argument('--namespace', default='',
                        help='ROS namespace of every node, e.g. robot1 (default: none)')
    args = parser.parse_args(argv)
    if args.duration <= 0:
        parser.error('--duration must be > 0')
    try:
        namespace = namespace_path(args.namespace)
    except ValueError as error:
        parser.error(str(error))
    config = Path(args.config).resolve()
    names = stack_nodes(config)
    overrides = parse_overrides(args.set)
    unknown = set(overrides) - set(names)
    if unknown:
        parser.error(f'--set names nodes not in the stack: {sorted(unknown)}')

    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    run_dir = Path(args.runs).resolve() / stamp
    suffix = 1
    while run_dir.exists():
        run_dir = Path(args.runs).resolve() / f'{stamp}-{suffix}'
        suffix += 1
    run_dir.mkdir(parents=True)
    shutil.copyfile(config, run_dir / 'config.yaml')
    params_file = run_dir / 'params.yaml'
    params_file.write_text(dump_ros_yaml(any_namespace_parameters(config, run_dir, overrides)))

    # The monitor (this process) and every node (its children) on the same Fast DDS profile.
    os.environ.update(dds_environment(os.environ))
    rclpy.init()
    monitor = StackMonitor(namespace)
    executor = SingleThreadedExecutor()
    executor.add_node(monitor)

    def spin(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=max(0.0, min(0.05, end - time.monotonic())))

    interrupted = []
    signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    signal.signal(signal.SIGTERM, lambda *_: interrupted.append(True))
    print(f'[stack] {", ".join(names)} in {namespace} for {args.duration:g} s; logs in '
          f'{run_dir / "logs"}', file=sys.stderr, flush=True)
    if 'foxglove' in names:
        print(f'[stack] live view: {live_view_address(config, overrides)}', file=sys.stderr,
              flush=True)
    executables, warnings = {}, []
    for name in names:
        executables[name], warning = runnable_executable(config, name)
        if warning:
            warnings.append(warning)
            print(f'[stack] warning: {warning}', file=sys.stderr, flush=True)
    remappings = {name: node_remappings(config, name) for name in names}
    processes = start_nodes(names, params_file, run_dir, overrides, namespace, executables,
                            remappings)
    started = time.monotonic()
    early_exits = {}
    # On a terminal the bar redraws twice a second; in a log file a line every 10 s is enough.
    with tqdm(total=round(args.duration), unit='s', file=sys.stderr, dynamic_ncols=True,
              mininterval=0.5 if sys.stderr.isatty() else 10.0,
              bar_format='{l_bar}{bar}| {n:.0f}/{total:.0f} s {postfix}') as bar:
        while not interrupted:
            elapsed = time.monotonic() - started
            if elapsed >= args.duration:
                break
            spin(min(0.5, args.duration - elapsed))
            for name, process in processes.items():
                if process.poll() is not None and name not in early_exits:
                    early_exits[name] = process.returncode
                    tqdm.write(f'[stack] node {name} exited early with code '
                               f'{process.returncode}; see logs/{name}.log', file=sys.stderr)
            elapsed = min(time.monotonic() - started, args.duration)
            bar.set_postfix_str(f'frames {monitor.frames} actions '
                                f'{sum(monitor.actions.values())} '
                                f'({monitor.frames / max(elapsed, 1e-9):.1f} fps)',
                                refresh=False)
            bar.update(elapsed - bar.n)  # redraws no more often than mininterval
    duration = time.monotonic() - started
    await_first_reports(monitor, processes, spin, STOP_TIMEOUT_S)
    codes = stop_nodes(processes, spin)
    summary = summarize(monitor, names, codes, duration, run_dir)
    summary['warnings'] = warnings
    (run_dir / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
    executor.shutdown()
    monitor.destroy_node()
    rclpy.shutdown()

    for name, node in summary['nodes'].items():
        print(f'[stack] {name}: {node["status"]} (exit {node["exit_code"]}): {node["message"]}',
              file=sys.stderr)
    for warning in warnings:
        print(f'[stack] warning: {warning}', file=sys.stderr)
    print(f'[stack] {summary["frames"]} frames, {summary["actions"]} actions in a '
          f'{summary["duration_s"]} s run; {summary["frames_per_s"]} frames/s over the '
          f'{summary["publishing_s"]} s the camera published', file=sys.stderr, flush=True)
    try:
        print(f'[stack] report: {write_report(run_dir)[1]}', file=sys.stderr, flush=True)
    except (OSError, ValueError) as error:  # the run's results stand without their report
        print(f'[stack] no report: {error}', file=sys.stderr, flush=True)
    print(run_dir, flush=True)
    failed = [n for n, node in summary['nodes'].items() if node['status'] != 'ok']
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
