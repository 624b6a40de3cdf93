"""The room as a robot: commands in through the JetBot driver's intake, one report per step.

What the room node (nodes/room.py) runs, without ROS. Commands (robot/action fields, cmd_vel
fields) go through robots/jetbot/motors.py's CommandIntake into the world's JetBotController at
the current simulated time: the same checks, clamps, counters, ramps and stale stop as the real
JetBot. `step()` advances the physics by one frame and says what the step executed, the report
the world model labels its transitions with (/robot/action_executed):

- a command started in the step: its action-table index when its motor values and duration are
  a table row's (else -1), with the motor values and duration it executed;
- no command: 'idle' ('watchdog' when the caller says actions went stale); the table's stop
  index when the motors were at rest the whole step, else -1 (a motion still running);
- every `reset_every`-th step (0 = never) the robot is put down at rest at a new free pose drawn
  from `seed` (objects back in place) instead: index -1, source RESET_SOURCE. A learner driving
  on its own sees a few of the room's cells; these episodes bring it everywhere.

Lockstep (the node waits for each frame's answer): a frame is one discrete action's time
(hold, ramp down, settle: RoomWorld.step_seconds), the library's `RoomWorld.step`. Free-running:
a frame is 1 / frame_rate of simulated time.

With a task (robots/room/task.py's RoomTask, lockstep only) the robot is the task's world: a
command that is a row of the action table is the task's discrete action, stepped by the task
(`task.step(index)`: the same command for the same time, and a `stop` in front of the named
object collects it); anything else (other motor values, cmd_vel, no answer) moves the world
as without a task and spends none of the episode's budget. The task's episodes are the resets
then (`reset_every` is not used).
"""
from dataclasses import asdict, dataclass
import math
from typing import Callable, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from nanobot_ros.contract import RESET_SOURCE
from nanobot_ros.robots.jetbot.motors import CommandIntake, MotorCommand, MotorLimits
from nanobot_ros.robots.room.world import RoomConfig, RoomWorld


TASKS = ('', 'room')
TABLE_TOLERANCE = 1e-6  # motor units: a row's values after a float32 round trip still match


@dataclass
class RoomRobotConfig:
    """The room node's settings beside the world's (RoomConfig) and the driver's (limits)."""

    seed: int = 0                  # start pose (the layout is RoomConfig.layout_seed)
    frame_rate: float = 15.0       # frames per second at most; 0 = as fast as answers (lockstep)
    lockstep: bool = True          # wait for each frame's answer (deterministic)
    frame_id: str = 'camera'       # of the published images
    odom_frame: str = 'odom'       # ground-truth pose's frame: the room's centre, x east
    base_frame: str = 'base_link'  # the robot's frame: between the wheels, x forward
    reset_every: int = 0           # steps between puts at a new free pose (0 = never)
    task: str = ''                 # 'room': the room task (robots/room/task.py); '' = none
    phrasings: str = 'train'       # instruction templates: train, heldout, paraphrase, a+b
    episode_limit: int = 0         # task: hold still after this many episodes (0 = never)
    announce_instruction: bool = True  # task: publish each episode's instruction
    expert: bool = False           # task: publish the scripted expert's answer to each frame

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f'task must be one of {TASKS}, got {self.task!r}')
        if self.task and not self.lockstep:
            raise ValueError('a task steps one discrete action per frame: it needs lockstep')
        if self.expert and not self.task:
            raise ValueError('expert answers the task\'s frames: it needs task: room')
        if self.frame_rate < 0:
            raise ValueError(f'frame_rate must be >= 0, got {self.frame_rate}')
        if self.reset_every < 0:
            raise ValueError(f'reset_every must be >= 0, got {self.reset_every}')
        if self.frame_rate == 0 and not self.lockstep:
            raise ValueError('frame_rate 0 (as fast as answers) needs lockstep: true')


class Executed(NamedTuple):
    """What one step did: an Action's fields."""

    index: int
    left: float
    right: float
    duration: float
    source: str


class RoomRobot:
    """A RoomWorld stepped frame by frame, commanded like a JetBot."""

    def __init__(self, world: RoomConfig, limits: MotorLimits, settings: RoomRobotConfig,
                 warn: Callable[[str], None], task=None):
        """`task`: a RoomTask whose world (and motor limits) the robot is, instead of `world`."""
        self.settings, self.task = settings, task
        self.world = RoomWorld(world, limits) if task is None else task.world
        self.limits = limits = self.world.limits
        self.intake = CommandIntake(limits, self.world.controller, lambda: self.world.time,
                                    warn)
        if settings.lockstep:
            self.steps_per_frame = self.world.steps_per_action
        else:
            self.steps_per_frame = max(1, round(1 / (settings.frame_rate * world.timestep)))
        self.frame = self.world.reset(settings.seed) if task is None else task.render()
        self._started: Optional[Tuple[MotorCommand, str]] = None
        self._reset_seeds = np.random.default_rng(settings.seed)
        self.steps = 0
        self.resets = 0

    def action(self, index: int, names: Sequence[str], values: Sequence[float],
               duration: float, source: str) -> Optional[MotorCommand]:
        """Start a robot/action now; return the command, None if rejected (motors stop)."""
        command = self.intake.action(index, names, values, duration, source)
        if command is not None:
            self._started = (command, source)
        return command

    def twist(self, linear_x: float, angular_z: float) -> Optional[MotorCommand]:
        """Start a cmd_vel now; return the command, None if rejected (motors stop)."""
        command = self.intake.twist(linear_x, angular_z)
        if command is not None:
            self._started = (command, 'cmd_vel')
        return command

    def table_index(self, command: MotorCommand) -> int:
        """Return the action-table row `command` is, -1 if none."""
        if command.duration != self.limits.default_duration:
            return -1
        rows = zip(self.limits.action_space_left, self.limits.action_space_right)
        # Within float32 rounding: a policy's export sends the row's values as float32.
        return next((i for i, (left, right) in enumerate(rows)
                     if abs(left - command.left) < TABLE_TOLERANCE
                     and abs(right - command.right) < TABLE_TOLERANCE), -1)

    def step(self, stale: bool = False) -> Executed:
        """Advance one frame; keep its view in `frame`; return what the step executed."""
        was_moving = self.world.controller.profile.moving(self.world.time)
        started, self._started = self._started, None
        self.steps += 1
        index = self.table_index(started[0]) if started is not None else -1
        if self.task is not None and index >= 0:
            self.frame = self.task.step(index)
            return Executed(index, started[0].left, started[0].right, started[0].duration,
                            started[1])
        if (self.task is None and self.settings.reset_every
                and self.steps % self.settings.reset_every == 0):
            self.frame = self.world.reset(int(self._reset_seeds.integers(2 ** 31)))
            self.resets += 1
            return Executed(-1, 0.0, 0.0, 0.0, RESET_SOURCE)
        self.world.advance(self.steps_per_frame)
        self.frame = self.world.render()
        if started is not None:
            command, source = started
            return Executed(index, command.left, command.right, command.duration, source)
        stop = self.table_index(MotorCommand(0.0, 0.0, self.limits.default_duration))
        return Executed(-1 if was_moving else stop, 0.0, 0.0, 0.0,
                        'watchdog' if stale else 'idle')

    @property
    def motors(self) -> Tuple[float, float]:
        """Return the motor values (left, right) the controller commands now."""
        return self.world.controller.profile.value(self.world.time)

    def odometry(self) -> dict:
        """Return the ground truth: pose (x, y, yaw) and body speeds (forward m/s, turn rad/s)."""
        x, y, yaw = self.world.pose
        forward, turn = self.world.velocity
        return {'x': x, 'y': y, 'yaw': yaw, 'forward': forward, 'turn': turn,
                'quaternion': (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))}

    def layout(self) -> dict:
        """Return the room size and its objects, for pictures of the path driven."""
        c = self.world.config
        return {'room_size': list(c.room_size), 'layout_seed': c.layout_seed,
                'objects': [asdict(o) for o in self.world.objects]}

    def new_episode(self) -> None:
        """Show the task's new episode (after its reset)."""
        self.frame = self.task.render()
        self._started = None

    def close(self) -> None:
        """Release the renderer (on the thread that made it)."""
        self.world.close()
