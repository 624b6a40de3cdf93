"""Who drives in the learn stack: the teacher until an export proves itself, then the kernel.

The learn stack (config/learn.yaml, docs/learn.md) runs a teacher (the scripted expert, or a
person) and the kernel side by side; both answer every frame. `Arbiter` decides whose answer
the robot executes:

  hand-over   the teacher drives until an export of the trainer passes the evaluation:
              success >= `handover_success` over `eval_episodes` held-out episodes of the task
              (seeds from `eval_seed`, below the demonstrations' 1000+, so the trainer never
              saw them), played in one process with ONNX Runtime on the export file
              (`evaluate_export`, at the kernel's `temperature`), beside the stack and not on
              the robot. Then the kernel drives.
  hand-back   while the kernel drives, once `window` episodes of its own have ended and their
              success falls below `handback_success`, the teacher drives again until a newer
              export passes the evaluation.

The teacher keeps answering after the hand-over; its answers are recorded on their own topic
and are the labels the trainer learns from (DAgger: the states the kernel visits, labelled
with what the teacher would have done).

Episode outcomes arrive as counts (the sim's episode and success counters), and are credited
to whoever drove when they were reported. Everything here is plain Python: the arbiter node
(nodes/arbiter.py) wires it to topics, a unit test drives it with numbers.
"""
from collections import deque
from dataclasses import dataclass
import threading
from typing import List, Optional

import numpy as np

from nanobot_ros.robots.sim.task_family import TaskBatch
from nanobot_ros.robots.tasks import task_config

TEACHER, KERNEL = 'teacher', 'kernel'


class EvaluationStopped(Exception):
    """An evaluation given up half-way because its `stop` event was set."""


@dataclass
class ArbiterConfig:
    """The hand-over and hand-back rules and the evaluation's episodes."""

    export_path: str = 'exports/policy.onnx'
    run_dir: str = 'runs/learn'
    task: str = 'targets'  # a task by name (robots/tasks.py): a family preset, or room
    eval_episodes: int = 50
    eval_seed: int = 500
    temperature: float = 0.0  # the kernel's: the evaluation plays the export as it is served
    handover_success: float = 0.9
    handback_success: float = 0.6
    goal_success: float = 0.9  # the kernel's success over `window` episodes that counts as learnt
    window: int = 50
    check_period: float = 1.0

    def validate(self) -> None:
        """Raise ValueError naming the setting that makes no sense."""
        task_config(self.task)
        if self.eval_episodes < 1 or self.window < 1 or self.check_period <= 0:
            raise ValueError('eval_episodes and window must be >= 1 and check_period > 0')
        if not 0.0 <= self.goal_success <= 1.0:
            raise ValueError(f'goal_success must be in [0, 1], got {self.goal_success}')
        if not 0.0 <= self.handback_success <= self.handover_success <= 1.0:
            raise ValueError(f'need 0 <= handback_success ({self.handback_success}) <= '
                             f'handover_success ({self.handover_success}) <= 1')
        if not 0 <= self.eval_seed < 1000:
            raise ValueError(f'eval_seed {self.eval_seed}: held-out seeds are 0-999 (the '
                             f'demonstrations use 1000+)')


def evaluate_export(path, config: ArbiterConfig,
                    stop: Optional[threading.Event] = None) -> tuple:
    """Return (success rate, version) of the export at `path` on the held-out episodes.

    The episodes are played by TaskBatch in this process, the policy by OnnxPolicy, the code
    the Python kernel node serves with. The version is the trainer's step the export carries
    (`nanobot.step`), None when it carries none. ModelFileError for a file that does not load.
    Once `stop` is set the evaluation raises EvaluationStopped before its next step, having
    released the episodes on this thread: the room's renderer is a GL context, and one left to
    interpreter exit on a thread still rendering crashes the process (SIGSEGV).
    """
    from nanobot_ros.policy.onnx_runtime import OnnxPolicy
    policy = OnnxPolicy(path, temperature=config.temperature)

    def choose(indices, observations):
        if stop is not None and stop.is_set():
            raise EvaluationStopped(f'evaluation of {path} stopped')
        return policy.choose(indices, observations)
    seeds = range(config.eval_seed, config.eval_seed + config.eval_episodes)
    with TaskBatch(task_config(config.task), len(seeds)) as batch:
        success, _ = batch.play(list(seeds), choose)
    step = policy.metadata.get('nanobot.step')
    return float(np.mean(success)), int(step) if step is not None else None


class Arbiter:
    """The hand-over state: who drives, the evaluations, the episodes each driver ended."""

    def __init__(self, config: ArbiterConfig):
        config.validate()
        self.config = config
        self.driver = TEACHER
        self.handover_s: Optional[float] = None  # first hand-over, seconds from the start
        # First time the kernel's last `window` episodes succeeded >= goal_success.
        self.kernel_goal_s: Optional[float] = None
        self.handovers = 0
        self.handbacks = 0
        self.evaluations: List[tuple] = []  # (seconds, model version, success)
        self.recent = {TEACHER: deque(maxlen=config.window),
                       KERNEL: deque(maxlen=config.window)}
        self.episodes = {TEACHER: 0, KERNEL: 0}
        self.successes = {TEACHER: 0, KERNEL: 0}
        self.kernel_episodes_since_handover = 0
        self.history: List[tuple] = []  # (seconds, driver, success over the window) per report

    def forwards(self, source: str) -> bool:
        """Whether an answer from `source` (TEACHER or KERNEL) is the one the robot executes."""
        return source == self.driver

    def evaluated(self, seconds: float, version, success: float) -> None:
        """Take the evaluation of export `version`: hand over when it passes."""
        self.evaluations.append((seconds, version, success))
        if self.driver == TEACHER and success >= self.config.handover_success:
            self.driver = KERNEL
            self.handovers += 1
            self.kernel_episodes_since_handover = 0
            if self.handover_s is None:
                self.handover_s = seconds

    def episodes_ended(self, seconds: float, episodes: int, successes: int) -> None:
        """Credit `episodes` that ended (`successes` of them well) to the driver; maybe hand back.

        Within one report the order of outcomes is unknown: the failures are counted first.
        """
        if episodes <= 0:
            return
        successes = max(0, min(successes, episodes))
        driver = self.driver
        self.recent[driver].extend([False] * (episodes - successes) + [True] * successes)
        self.episodes[driver] += episodes
        self.successes[driver] += successes
        if driver == KERNEL:
            self.kernel_episodes_since_handover += episodes
            if (self.kernel_episodes_since_handover >= self.config.window
                    and self.success(KERNEL) < self.config.handback_success):
                self.driver = TEACHER
                self.handbacks += 1
        rate = self.kernel_success()
        if (self.kernel_goal_s is None and rate is not None
                and rate >= self.config.goal_success):
            self.kernel_goal_s = seconds
        self.history.append((seconds, driver, self.success(driver)))

    def success(self, driver: str) -> Optional[float]:
        """Success over the last `window` episodes `driver` drove; None before any."""
        recent = self.recent[driver]
        return sum(recent) / len(recent) if recent else None

    def kernel_success(self) -> Optional[float]:
        """Success over the last `window` kernel episodes once there are `window`, else None."""
        recent = self.recent[KERNEL]
        return self.success(KERNEL) if len(recent) == self.config.window else None

    def figures(self) -> dict:
        """Return the figures the node reports (diagnostics, the status topic, summary.json)."""
        last = self.evaluations[-1] if self.evaluations else (None, None, None)
        return {'driver': self.driver, 'handover_s': self.handover_s,
                'kernel_success': self.kernel_success(), 'kernel_goal_s': self.kernel_goal_s,
                'teacher_success': self.success(TEACHER),
                'kernel_episodes': self.episodes[KERNEL],
                'teacher_episodes': self.episodes[TEACHER],
                'handovers': self.handovers, 'handbacks': self.handbacks,
                'evaluations': len(self.evaluations), 'evaluated_version': last[1],
                'evaluated_success': last[2]}
