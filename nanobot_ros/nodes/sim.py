"""sim: the toroidal dot world as a robot: publishes camera frames, executes actions.

Topics (relative: in the node's namespace; docs/graph.md)
  camera/image_raw   (sensor_msgs/Image, rgb8, sensor-data QoS)  out: the view after each step
  robot/action       (nanobot_msgs/Action, reliable)              in: index 0 = stay, 1 = right
  robot/action_executed  (nanobot_msgs/Action, reliable)          out: what each step really did:
      header.stamp = the frame the step started from (the next frame shows the outcome),
      source = the commanding node; 'watchdog' when the dot stayed because actions went stale,
      'idle' when (free-running) no new action came since the last tick

Stepping. With `lockstep` (default) the world waits for the action that answers the newest
frame (matched by header.stamp) before it steps, so a controller sees the outcome of every
action it sent, as the reference's synchronous loop does; frames come at most at `frame_rate`
(0 = as fast as answers come). Without lockstep frames come at `frame_rate` and each tick applies
the newest unapplied action.

Watchdog. When no valid action arrived for `action_timeout` seconds the dot stays put and the
node says so once (a warning; before the first action ever, an info line: no controller yet is
not a fault) and once more when actions resume; frames keep coming, in lockstep one per
`action_timeout` (each still waits for an answer), free-running at `frame_rate`.
Actions outside the action space are rejected, counted and treated as stay.

Target task. With `targets` (comma-separated marker colours, e.g. "red,green,blue") the world
becomes the 2-D target task of `robots/sim/target_task.py`: actions 0 stay, 1 right, 2 left, 3 up,
4 down; coloured markers in the image; /instruction (std_msgs/String, e.g. "go to the red
marker") names the target. An episode ends when the dot reaches the target (success) or after
`step_budget` steps (failure); the next one starts at once with the next seed, and with
`announce_instruction` the sim publishes that episode's instruction itself (latched), standing in
for a user. With `task` (a preset of `robots/sim/task_family.py`: family, new-colours, targets)
the world is that task family's instead: its own size, palette, step budget and instructions
(`phrasings` train or heldout; two-step ones such as "first cyan, then red"), episode i of the
run from seed `seed` + i, as `TaskBatch` plays them in one process.
/sim/reset (std_srvs/Trigger) aborts the running episode and starts the next one.
Episode counters are in the node's /diagnostics status; the budget counts applied actions only,
so an episode does not fail while no controller is running.
"""
from collections import Counter
import time

from nanobot_ros.data.convert import make_action, numpy_to_image
from nanobot_ros.contract import ACTION, ACTION_EXECUTED, IMAGE
from nanobot_ros.nodes.common import ActionWatchdog, NanobotNode, OK, qos_profile, run, \
    TaskEpisodes, WATCHDOG_POLL_S
from nanobot_ros.robots.sim.robot import SimConfig
from nanobot_ros.robots.sim.target_task import TargetTask
from nanobot_ros.robots.sim.task_family import TaskFamily, TaskFamilyConfig
from nanobot_ros.robots.sim.toroidal_dot import STAY, ToroidalDotConfig, ToroidalDotWorld
from nanobot_msgs.msg import Action
from sensor_msgs.msg import Image

DESCRIPTIONS = {
    'img_size': 'width and height of the square image (px)',
    'dot_radius': 'radius of the white dot (px)',
    'move_pixels': 'pixels moved right by action 1',
    'seed': 'seed of the random start position',
    'initial_x': 'start column; -1 = random from seed',
    'initial_y': 'start row; -1 = random from seed',
    'moves': 'action set: right (stay/right) or 2d',
    'targets': 'comma-separated marker colours; non-empty = the target task',
    'task': 'task-family preset (family, new-colours, targets); replaces targets, img_size, '
            'step_budget',
    'phrasings': 'task family: instruction templates, train or heldout',
    'step_budget': 'steps per target-task episode',
    'view': 'target task camera: egocentric or world',
    'episode_limit': 'target task: stop stepping after this many episodes; 0 = never',
    'announce_instruction': 'publish each episode\'s instruction on /instruction',
    'frame_rate': 'frames per second at most; 0 = as fast as answers (lockstep)',
    'lockstep': 'wait for the action answering each frame before stepping',
    'action_timeout': 'seconds without a valid action before the dot stays put',
    'frame_id': 'frame_id of published images',
}


class SimNode(NanobotNode):
    """The toroidal dot world wired to /camera/image_raw and /robot/action."""

    def __init__(self):
        super().__init__('sim')
        config = ToroidalDotConfig(**self.declare_config(ToroidalDotConfig, DESCRIPTIONS))
        settings = SimConfig(**self.declare_config(SimConfig, DESCRIPTIONS))
        self.frame_rate, self.lockstep = settings.frame_rate, settings.lockstep
        self.action_timeout, self.frame_id = settings.action_timeout, settings.frame_id
        task_config = settings.task_config(config)
        self.task = None
        if task_config is not None:
            self.task = (TaskFamily if isinstance(task_config, TaskFamilyConfig)
                         else TargetTask)(task_config)
            self.world = self.task.world
        else:
            self.world = ToroidalDotWorld(config)
        self.frames = 0
        self.actions_received = 0
        self.actions_applied = 0
        self.actions_rejected = 0
        self.actions_late = 0
        self.stale_steps = 0
        self.action_counts = Counter()
        self._pending = None
        self._pending_source = ''
        self.watchdog = ActionWatchdog(self, self.action_timeout, 'the dot stays put',
                                       'no fresh action: staying put')
        self._frame_time = 0.0
        self._first_frame_time = None
        self._frame_stamp = None

        self.image_pub = self.create_publisher(Image, IMAGE.name, qos_profile(IMAGE))
        self.executed_pub = self.create_publisher(Action, ACTION_EXECUTED.name,
                                                  qos_profile(ACTION_EXECUTED))
        self.create_subscription(Action, ACTION.name, self._on_action, qos_profile(ACTION))
        self.task_episodes = (None if self.task is None else
                              TaskEpisodes(self, self.task, settings.episode_limit,
                                           settings.announce_instruction))
        self._period = 1.0 / self.frame_rate if self.frame_rate > 0 else 0.0
        self.create_timer(self._period or WATCHDOG_POLL_S, self._on_tick)
        self.get_logger().info(
            f'toroidal dot world {config.img_size}x{config.img_size}, radius '
            f'{config.dot_radius}, move {config.move_pixels} px, start ({self.world.x}, '
            f'{self.world.y}); {"lockstep" if self.lockstep else "free-running"} at '
            f'{self.frame_rate or "answer"} Hz, watchdog {self.action_timeout} s')

    def _on_action(self, msg: Action) -> None:
        self.actions_received += 1
        if msg.index not in self.world.action_space:
            self.actions_rejected += 1
            self.get_logger().warning(
                f'rejected action index {msg.index} from {msg.source!r}: the action space is '
                f'{self.world.action_space}', throttle_duration_sec=5.0)
            return
        if self.lockstep and msg.header.stamp != self._frame_stamp:
            # A hand-typed `ros2 topic pub` or teleop action carries no frame stamp: say why
            # nothing moves.
            self.actions_late += 1
            self.get_logger().warning(
                f'ignored an action from {msg.source!r}: in lockstep only the answer to the '
                'newest frame (header.stamp = its stamp) is applied; run with lockstep:=false '
                'to drive the dot by hand', throttle_duration_sec=5.0)
            return
        self._pending = msg.index
        self._pending_source = msg.source
        self.watchdog.fed()
        if self.lockstep and self._period == 0.0 and not self.finished:
            self._step()

    def _waiting_for_answer(self, now: float) -> bool:
        # Also while stale: a controller slower than frame_rate (a learning node) must still
        # get its answer applied to the frame it saw.
        return (self.lockstep and self._pending is None
                and now - self._frame_time < self.action_timeout)

    @property
    def finished(self) -> bool:
        """Whether the target task ran its episode_limit (the sim then holds still)."""
        return self.task_episodes is not None and self.task_episodes.finished

    def _on_tick(self) -> None:
        if self.finished:
            return
        now = time.monotonic()
        if self._frame_stamp is None:
            self._publish_frame()
            return
        # The timer paces frames at frame_rate; in lockstep it also waits for the answer.
        if self._waiting_for_answer(now):
            return
        self._step()

    def _step(self) -> None:
        action, source = self._pending, self._pending_source
        applied = action is not None
        self._pending = None
        fresh = not self.watchdog.stale_now()
        if action is None and not fresh:
            self.stale_steps += 1
            self.watchdog.update(stale=True)
        if action is None:
            action, source = STAY, 'watchdog' if not fresh else 'idle'
        else:
            self.watchdog.update(stale=False)
            self.actions_applied += 1
            self.action_counts[action] += 1
        if self.task is not None and applied:
            # The step budget counts the controller's actions, not the watchdog's waits.
            self.task.step(action)
            self.task_episodes.score()
        else:
            self.world.step(action)
        self.executed_pub.publish(make_action(
            index=action, names=['action'], values=[action], source=source,
            stamp=self._frame_stamp))
        self._publish_frame()

    def _publish_frame(self) -> None:
        view = self.task.render() if self.task is not None else self.world.render()
        msg = numpy_to_image(view, 'rgb8')
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.frame_id
        self._frame_stamp = msg.header.stamp
        self._frame_time = time.monotonic()
        if self._first_frame_time is None:
            self._first_frame_time = self._frame_time
        self.image_pub.publish(msg)
        self.frames += 1

    def status(self):
        """Report counters and whether the watchdog holds the dot."""
        values = {
            'frames': self.frames, 'actions_received': self.actions_received,
            'actions_applied': self.actions_applied, 'actions_rejected': self.actions_rejected,
            'actions_late': self.actions_late, 'stale_steps': self.stale_steps,
            'publishing_s': round(self._frame_time - self._first_frame_time, 3)
            if self._first_frame_time is not None else 0.0,
            'action_counts': {str(k): v for k, v in sorted(self.action_counts.items())},
            'dot_x': self.world.x, 'dot_y': self.world.y}
        if self.task is not None:
            values.update(self.task_episodes.status_values(), target=self.task.target)
        level, text = ((self.task_episodes and self.task_episodes.finished_status())
                       or self.watchdog.problem() or (OK, 'running'))
        return level, text, values


def main(args=None):
    """Run the sim node."""
    raise SystemExit(run(SimNode, args))


if __name__ == '__main__':
    main()
