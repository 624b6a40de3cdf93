"""arbiter: decides who drives in the learn stack, the teacher or the kernel (policy/handover.py).

Topics (relative: in the node's namespace; docs/graph.md)
  teacher/action        (nanobot_msgs/Action, reliable)   in: the teacher's answer to each frame
                                                          (the expert, remapped; also the label)
  kernel/action         (nanobot_msgs/Action, reliable)   in: the kernel's answer (remapped)
  robot/action_override (nanobot_msgs/Action, reliable)   in: a person's next action replaces
                                                          the driver's (the live view) and is
                                                          published on teacher/action too: the
                                                          person is the teacher of that frame
  diagnostics           (diagnostic_msgs/DiagnosticArray) in: the robot's episode counters (the
                                                          sim's, or the room's), the trainer's
                                                          step and loss
  robot/action          (nanobot_msgs/Action, reliable)   out: the driver's answer, as it came
  teacher/action        (nanobot_msgs/Action, reliable)   out: a person's override, as a label
  learn/status          (std_msgs/String, JSON)           out: who drives, success, hand-over,
                                                          model version, trainer step and loss

Every `check_period` s it looks at `export_path`; a new export is evaluated in a background
thread on held-out episodes with ONNX Runtime (`evaluate_export`), and the verdict goes to the
Arbiter, which hands over to the kernel, or back to the teacher (the rules: policy/handover.py).
On the way out it draws success over wall time into <run_dir>/learn_success.png.
"""
import json
from pathlib import Path
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
from nanobot_ros.contract import (ACTION, ACTION_OVERRIDE, DIAGNOSTICS, KERNEL_ACTION,
                                  LEARN_STATUS, PERSON_SOURCE, TEACHER_ACTION)
from nanobot_ros.data.convert import make_action
from nanobot_ros.durable import file_version
from nanobot_ros.nodes.common import (NanobotNode, OK, qos_profile, run, subscribe_override,
                                      WARN)
from nanobot_ros.policy.handover import (Arbiter, ArbiterConfig, evaluate_export,
                                         EvaluationStopped, KERNEL, TEACHER)
from nanobot_ros.robots.override import ActionOverride
from nanobot_ros.robots.sim.toroidal_dot import ACTION_VECTORS
from nanobot_msgs.msg import Action
from std_msgs.msg import String

DESCRIPTIONS = {
    'export_path': 'the trainer\'s ONNX export (the file the kernel serves), watched',
    'run_dir': 'run folder: the success-over-time picture goes there',
    'task': 'task of the evaluation: a task-family preset or room (robots/tasks.py)',
    'eval_episodes': 'held-out episodes per evaluation of an export',
    'eval_seed': 'first held-out episode seed (0-999: never demonstrated)',
    'temperature': 'the kernel\'s temperature: the evaluation plays the export as it is served',
    'handover_success': 'evaluation success at which the kernel takes over',
    'handback_success': 'kernel success over `window` episodes below which the teacher '
                        'drives again',
    'window': 'episodes the live success is measured over',
    'goal_success': 'kernel success over `window` episodes reported as the goal (kernel_goal_s)',
    'check_period': 'seconds between looks at the export and status reports',
}
# The stack's node names whose /diagnostics the arbiter reads (config/learn.yaml): the robot
# that runs the task (the sim, or the room: config/learn_room.yaml) and the trainer.
ROBOT_NODES, TRAINER_NODE = ('sim', 'room'), 'trainer'


class ArbiterNode(NanobotNode):
    """Forwards the driver's answers to the robot and runs the hand-over rules."""

    summary_figures = ('driver', 'handover_s', 'kernel_success', 'kernel_goal_s',
                       'kernel_episodes', 'teacher_episodes', 'handovers', 'handbacks',
                       'evaluations', 'evaluated_version', 'evaluated_success',
                       'evaluation_s', 'model_version')

    def __init__(self):
        super().__init__('arbiter')
        self.settings = ArbiterConfig(**self.declare_config(ArbiterConfig, DESCRIPTIONS))
        self.arbiter = Arbiter(self.settings)
        self.started = time.monotonic()
        self.override = ActionOverride(list(range(len(ACTION_VECTORS))))
        self.forwarded = {TEACHER: 0, KERNEL: 0, PERSON_SOURCE: 0}
        self.sim_counts = None  # the sim's (episodes, successes) at its last report
        self.trainer = {}
        self._export_key = None
        self._evaluating = None  # the thread evaluating an export
        self._stop_evaluating = threading.Event()  # set on the way out: the thread gives up
        self._verdict = None  # (seconds, version, success) or an error text, from the thread
        self.evaluation_s = 0.0
        self.evaluation_failures = 0
        self.bad_reports = 0  # /diagnostics reports of the sim or trainer that did not parse
        self.model_version = None
        self.pub = self.create_publisher(Action, ACTION.name, qos_profile(ACTION))
        self.label_pub = self.create_publisher(Action, TEACHER_ACTION.name,
                                               qos_profile(TEACHER_ACTION))
        self.status_pub = self.create_publisher(String, LEARN_STATUS.name,
                                                qos_profile(LEARN_STATUS))
        self.create_subscription(Action, TEACHER_ACTION.name,
                                 lambda msg: self._on_answer(TEACHER, msg),
                                 qos_profile(TEACHER_ACTION))
        self.create_subscription(Action, KERNEL_ACTION.name,
                                 lambda msg: self._on_answer(KERNEL, msg),
                                 qos_profile(KERNEL_ACTION))
        subscribe_override(self, self.override, ACTION_OVERRIDE.name)
        self.create_subscription(DiagnosticArray, DIAGNOSTICS.name, self._on_diagnostics,
                                 qos_profile(DIAGNOSTICS))
        self.create_timer(self.settings.check_period, self._check)
        self.get_logger().info(
            f'the teacher drives until an export at {self.settings.export_path} succeeds '
            f'>= {self.settings.handover_success:.0%} on {self.settings.eval_episodes} '
            f'held-out episodes')

    def _seconds(self) -> float:
        return time.monotonic() - self.started

    # -- who drives ----------------------------------------------------------------------
    def _on_answer(self, source: str, msg: Action) -> None:
        if not self.arbiter.forwards(source):
            return
        if self.override.pending is not None:
            # A person drives this frame and, as the teacher, labels it (DAgger's label too).
            index = self.override.take(None)
            msg = make_action(index, ['dx', 'dy'], ACTION_VECTORS[index], source=PERSON_SOURCE,
                              stamp=msg.header.stamp)
            self.label_pub.publish(msg)
            source = PERSON_SOURCE
        self.pub.publish(msg)
        self.forwarded[source] += 1

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            try:
                if status.hardware_id in ROBOT_NODES and 'episodes' in values:
                    self._take_sim_counts(int(values['episodes']), int(values['successes']))
                elif status.hardware_id == TRAINER_NODE:
                    self.trainer = {key: json.loads(values[key]) for key in ('step', 'loss')
                                    if key in values}
            except (KeyError, ValueError) as error:  # counted; the last good figures stay
                self.bad_reports += 1
                self.get_logger().warning(f'unreadable report of {status.hardware_id}: '
                                          f'{error!r}', throttle_duration_sec=5.0)

    def _take_sim_counts(self, episodes: int, successes: int) -> None:
        if self.sim_counts is not None:
            self.arbiter.episodes_ended(self._seconds(), episodes - self.sim_counts[0],
                                        successes - self.sim_counts[1])
        self.sim_counts = episodes, successes

    # -- evaluating exports ----------------------------------------------------------------
    def _check(self) -> None:
        self._take_verdict()
        if self._evaluating is None:
            key = file_version(self.settings.export_path)
            if key is not None and key != self._export_key:
                self._export_key = key
                self._evaluating = threading.Thread(target=self._evaluate, daemon=True)
                self._evaluating.start()
        self.status_pub.publish(String(data=json.dumps(self._figures())))

    def _evaluate(self) -> None:
        start = time.monotonic()
        try:
            success, version = evaluate_export(self.settings.export_path, self.settings,
                                               self._stop_evaluating)
            self._verdict = (self._seconds(), version, success)
        except ValueError as error:  # ModelFileError: a broken export never drives
            self._verdict = f'{error}'
        except EvaluationStopped:  # the node is stopping: no verdict
            pass
        self.evaluation_s += time.monotonic() - start

    def _take_verdict(self) -> None:
        if self._evaluating is None or self._evaluating.is_alive():
            return
        self._evaluating, verdict, self._verdict = None, self._verdict, None
        if isinstance(verdict, str):
            self.evaluation_failures += 1
            self.get_logger().error(f'export not evaluated: {verdict}')
            return
        seconds, version, success = verdict
        before = self.arbiter.driver
        self.arbiter.evaluated(seconds, version, success)
        self.model_version = version
        self.get_logger().info(f'export at step {version}: {success:.0%} on held-out '
                               f'episodes; {self.arbiter.driver} drives')
        if before != self.arbiter.driver:
            self.get_logger().info(f'hand-over to the kernel after {seconds:.1f} s')

    # -- reports ----------------------------------------------------------------------------
    def _figures(self) -> dict:
        return {**self.arbiter.figures(), 'model_version': self.model_version,
                'evaluation_s': round(self.evaluation_s, 3),
                'evaluation_failures': self.evaluation_failures, 'bad_reports': self.bad_reports,
                'trainer_step': self.trainer.get('step'), 'trainer_loss': self.trainer.get('loss'),
                'forwarded': dict(self.forwarded), **self.override.counts()}

    def status(self):
        """Report who drives, the live success, the evaluations and the trainer."""
        values = self._figures()
        if self.evaluation_failures and self.arbiter.driver == TEACHER:
            return WARN, 'the teacher drives; an export did not load', values
        return OK, f'the {self.arbiter.driver} drives', values

    def on_shutdown(self) -> None:
        """Stop the evaluation under way, draw success over wall time, then report."""
        self._stop_evaluating.set()
        if self._evaluating is not None:
            # Its episodes must be released on its own thread before the interpreter exits.
            self._evaluating.join()
        self._draw(Path(self.settings.run_dir))
        super().on_shutdown()

    def _draw(self, run_dir: Path) -> None:
        from nanobot_ros.learning.visualize import line_plot
        history = self.arbiter.history
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / 'learn_history.json').write_text(json.dumps({
            'episodes': history, 'evaluations': self.arbiter.evaluations}) + '\n')
        lines = {}
        for driver in (TEACHER, KERNEL):
            points = [(t, s) for t, d, s in history if d == driver]
            if points:
                lines[f'{driver} drives: success over its last {self.settings.window}'] = \
                    tuple(zip(*points))
        if self.arbiter.evaluations:
            t, _, s = zip(*self.arbiter.evaluations)
            lines['exports: held-out evaluation'] = (t, s)
        if lines:
            line_plot(run_dir / 'learn_success.png', lines, 'wall time (s)', 'success',
                      'learn stack: success over wall time')


def main(args=None):
    """Run the arbiter node."""
    raise SystemExit(run(ArbiterNode, args))


if __name__ == '__main__':
    main()
