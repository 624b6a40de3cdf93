"""room: a JetBot in a 3-D MuJoCo room, a drop-in for the camera + jetbot nodes.

Topics (relative: in the node's namespace; docs/graph.md)
  robot/action     (nanobot_msgs/Action, reliable)       in: the jetbot node's contract: named
                   motor_left / motor_right values held for `duration`, or an index into the
                   action table (action_space_left/right; default stop, forward, backward,
                   left, right), see robots/jetbot/motors.py
  cmd_vel          (geometry_msgs/Twist, reliable)       in: linear.x m/s, angular.z rad/s,
                   held until `action_timeout` after the newest
  camera/image_raw (sensor_msgs/Image, rgb8, sensor QoS)  out: the forward camera, one frame
                   per step
  robot/action_executed (nanobot_msgs/Action, reliable)  out: what each step did, stamped with
                   the frame it started from (robots/room/robot.py): index = the table row
                   (-1 = none), motor_left / motor_right values and duration, source = the
                   commanding node, 'idle', 'watchdog' or 'reset' (every
                   `reset_every` steps the robot is put down at a new free pose: an episode)
  joint_states     (sensor_msgs/JointState, sensor QoS)  out: wheel angles (rad) and speeds
                   (rad/s), every frame
  odom             (nav_msgs/Odometry, sensor QoS)       out: ground truth (the room's centre
                   is the origin), every frame
  room/layout      (std_msgs/String JSON, latched)       out: room size and objects, once

Motors: the real JetBot driver's logic (ramps, duration, clamps, rejection counting, the motors
reading 0 at most `action_timeout` after the newest command) on simulated time; bad actions
are rejected, counted and stop the motors.

Stepping. With `lockstep` (default; deterministic) the world stands still until the action
answering the newest frame (header.stamp = its stamp) arrives, then steps one discrete action's
time (hold, ramp down, settle: the room library's RoomWorld.step); frames come at most at
`frame_rate` (0 = as fast as answers). Other commands (unstamped actions, cmd_vel) start at
once and move the robot from the next step on. Without an answer for `action_timeout`
seconds the world steps anyway (source 'watchdog'): the motors ramp down as the driver's
watchdog says, so a controller that dies never leaves the robot driving. Without lockstep,
frames come at `frame_rate` and each is 1 / frame_rate of simulated time.

Task. With `task: room` the room is the room task's (robots/room/task.py: its own room, 2-4
objects per episode, 64 px): /instruction (std_msgs/String, latched) names the object(s) to
drive to ("go to the red cube"); an episode succeeds when the robot takes `stop` in front of
them in order within the step budget, fails when the budget runs out, and the next starts at
once from the next seed (the first: `seed`), as the sim node's task episodes (nodes/common.py's
TaskEpisodes: `episode_limit`, `announce_instruction`, the sim/reset service, the counters in
/diagnostics). `phrasings` train, heldout or paraphrase (or splits joined by +). Only a
command that is a row of the action table spends the budget (robots/room/robot.py). With
`expert` the node also answers each frame as the task's scripted expert would (it reads the
ground truth only this node has: the pose and where the objects are) on
  teacher/action   (nanobot_msgs/Action, reliable)        out: the expert's action for the
                   frame (header.stamp = its stamp): index and motor_left / motor_right,
                   source 'expert'; the learn stack's teacher (config/learn_room.yaml), or,
                   remapped to robot/action, the driver

A machine where no GL context can be made (MUJOCO_GL, Mesa's EGL libraries) exits with code 2
and the reason at start-up.
"""
from collections import Counter
import json
import time

from nanobot_ros.data.convert import make_action, numpy_to_image
from nanobot_ros.contract import (ACTION, ACTION_EXECUTED, CMD_VEL, IMAGE, JOINT_STATES, ODOM,
                                  RESET_SOURCE, ROOM_LAYOUT, TEACHER_ACTION)
from nanobot_ros.nodes.common import ActionWatchdog, NanobotNode, OK, qos_profile, run, \
    TaskEpisodes, WARN, WATCHDOG_POLL_S
from nanobot_ros.robots.jetbot.motors import LIMIT_DESCRIPTIONS, MOTOR_NAMES, WHEEL_JOINTS
from nanobot_ros.robots.room.robot import RoomRobot, RoomRobotConfig
from nanobot_ros.robots.room.task import RoomTask, RoomTaskConfig
from nanobot_ros.robots.room.world import RenderUnavailable, RoomConfig, RoomMotorLimits
from geometry_msgs.msg import Twist
from nanobot_msgs.msg import Action
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String

DESCRIPTIONS = {
    **LIMIT_DESCRIPTIONS,
    'img_size': 'camera image width and height (px)',
    'layout_seed': 'seed of the objects\' positions, shapes and colours',
    'room_size': 'room size inside the walls, x and y (m)',
    'wall_height': 'wall height (m)',
    'objects': 'number of coloured objects (cubes, spheres, cylinders)',
    'object_size': 'objects\' half size range, min and max (m)',
    'colors': 'object colours (the task family\'s palette names)',
    'camera_fovy': 'camera vertical field of view (degrees)',
    'camera_tilt': 'camera pitch below the horizon (degrees)',
    'shadow_size': 'shadow map size (px); 0 = no shadows',
    'timestep': 'physics step (s)',
    'wheel_kv': 'wheel velocity actuator gain (N m per rad/s)',
    'wheel_torque': 'largest wheel torque (N m)',
    'wheel_armature': 'motor and gearbox inertia at each wheel (kg m^2)',
    'settle_time': 'lockstep: seconds after an action\'s ramp down before its frame',
    'start_clearance': 'start pose: distance from walls and objects (m)',
    'start_at_wall': 'share of start poses facing a wall, the robot\'s front 0.5-4 cm from it',
    'randomize_lighting': 'reset: light scaled by 1 +- this',
    'randomize_colors': 'reset: object and wall colours shifted by +- this',
    'randomize_camera': 'reset: camera moved by +- this (m)',
    'randomize_tilt': 'reset: camera tilted by +- this (degrees)',
    'seed': 'seed of the start pose and of the resets\' poses',
    'reset_every': 'put the robot down at a new free pose every this many steps (0 = never)',
    'task': 'room = the room task (its own room; replaces the world\'s settings); "" = none',
    'phrasings': 'task: instruction templates: train, heldout, paraphrase, or joined by +',
    'episode_limit': 'task: hold still after this many episodes; 0 = never',
    'announce_instruction': 'task: publish each episode\'s instruction on /instruction',
    'expert': 'task: answer each frame with the scripted expert\'s action on teacher/action',
    'frame_rate': 'frames per second at most; 0 = as fast as answers (lockstep)',
    'lockstep': 'wait for the action answering each frame before stepping',
    'frame_id': 'frame_id of published images',
    'odom_frame': 'frame_id of odom (the room\'s centre)',
    'base_frame': 'child_frame_id of odom (the robot)',
}


class RoomNode(NanobotNode):
    """The room robot wired to the JetBot's topics, plus ground truth."""

    def __init__(self):
        super().__init__('room')
        world = RoomConfig(**self.declare_config(RoomConfig, DESCRIPTIONS))
        limits = RoomMotorLimits(**self.declare_config(RoomMotorLimits, DESCRIPTIONS))
        settings = RoomRobotConfig(**self.declare_config(RoomRobotConfig, DESCRIPTIONS))
        self.settings, self.action_timeout = settings, limits.action_timeout
        # The renderer's GL context belongs to this thread: the executor's callbacks run here.
        task = None
        if settings.task:
            task = RoomTask(RoomTaskConfig(phrasings=settings.phrasings))
            task.reset(settings.seed)
            world = task.config.world
        self.robot = RoomRobot(world, limits, settings, self._warn, task)

        self.frames = 0
        self.stale_steps = 0
        self.action_counts = Counter()
        self._answered = False
        self.watchdog = ActionWatchdog(self, self.action_timeout, 'the motors ramp down',
                                       'no fresh action: motors stopped')
        self._frame_stamp = None
        self._frame_time = 0.0
        self._first_frame_time = None

        self.image_pub = self.create_publisher(Image, IMAGE.name, qos_profile(IMAGE))
        self.executed_pub = self.create_publisher(Action, ACTION_EXECUTED.name,
                                                  qos_profile(ACTION_EXECUTED))
        self.joint_pub = self.create_publisher(JointState, JOINT_STATES.name,
                                               qos_profile(JOINT_STATES))
        self.odom_pub = self.create_publisher(Odometry, ODOM.name, qos_profile(ODOM))
        self.expert_pub = (self.create_publisher(Action, TEACHER_ACTION.name,
                                                 qos_profile(TEACHER_ACTION))
                           if settings.expert else None)
        layout_pub = self.create_publisher(String, ROOM_LAYOUT.name, qos_profile(ROOM_LAYOUT))
        layout_pub.publish(String(data=json.dumps(self.robot.layout())))
        self.create_subscription(Action, ACTION.name, self._on_action, qos_profile(ACTION))
        self.create_subscription(Twist, CMD_VEL.name, self._on_cmd_vel, qos_profile(CMD_VEL))
        self.task_episodes = (None if task is None else
                              TaskEpisodes(self, task, settings.episode_limit,
                                           settings.announce_instruction, self.robot.new_episode))
        period = 1.0 / settings.frame_rate if settings.frame_rate > 0 else WATCHDOG_POLL_S
        self.create_timer(period, self._on_tick)
        x, y, yaw = self.robot.world.pose
        contents = (f'the room task ({settings.phrasings} phrasings, episode seeds from '
                    f'{settings.seed}): {task.instruction!r}' if task is not None else
                    f'{world.objects} objects (layout {world.layout_seed})')
        self.get_logger().info(
            f'room {world.room_size[0]:g} x {world.room_size[1]:g} m, {contents}, camera '
            f'{world.img_size} px; start ({x:.2f}, '
            f'{y:.2f}, {yaw:.2f}); {"lockstep" if settings.lockstep else "free-running"} at '
            f'{settings.frame_rate or "answer"} Hz, {self.robot.world.step_seconds:g} s '
            f'simulated per step, watchdog {self.action_timeout} s')

    def _warn(self, text: str) -> None:
        self.get_logger().warning(text, throttle_duration_sec=2.0)

    def _on_action(self, msg: Action) -> None:
        command = self.robot.action(msg.index, list(msg.names), list(msg.values),
                                    msg.duration, msg.source)
        if command is not None:
            self.watchdog.fed()
        if self.settings.lockstep and msg.header.stamp == self._frame_stamp:
            self._answered = True
            if self.settings.frame_rate == 0 and not self.finished:
                self._step()

    def _on_cmd_vel(self, msg: Twist) -> None:
        if self.robot.twist(msg.linear.x, msg.angular.z) is not None:
            self.watchdog.fed()

    @property
    def finished(self) -> bool:
        """Whether the task ran its episode_limit (the robot then holds still)."""
        return self.task_episodes is not None and self.task_episodes.finished

    def _on_tick(self) -> None:
        if self.finished:
            return
        if self._frame_stamp is None:
            self._publish_frame()
            return
        waiting = time.monotonic() - self._frame_time < self.action_timeout
        if self.settings.lockstep and not self._answered and waiting:
            return
        self._step()

    def _step(self) -> None:
        stale = self.watchdog.stale_now()
        self.watchdog.update(stale)
        executed = self.robot.step(stale=stale and not self._answered)
        self._answered = False
        if self.task_episodes is not None and executed.index >= 0 and executed.source not in (
                'idle', 'watchdog'):
            self.task_episodes.score()
        if executed.source == 'watchdog':
            self.stale_steps += 1
        if executed.source not in ('idle', 'watchdog', RESET_SOURCE):
            self.action_counts[executed.index] += 1
        self.executed_pub.publish(make_action(
            index=executed.index, names=MOTOR_NAMES, values=(executed.left, executed.right),
            duration=executed.duration, source=executed.source, stamp=self._frame_stamp))
        self._publish_frame()

    def _publish_frame(self) -> None:
        stamp = self.get_clock().now().to_msg()
        msg = numpy_to_image(self.robot.frame, 'rgb8')
        msg.header.stamp, msg.header.frame_id = stamp, self.settings.frame_id
        self._frame_stamp = stamp
        self._frame_time = time.monotonic()
        if self._first_frame_time is None:
            self._first_frame_time = self._frame_time
        self.image_pub.publish(msg)
        self.frames += 1
        if self.expert_pub is not None and not self.finished:
            index = self.robot.task.expert()
            limits = self.robot.limits
            self.expert_pub.publish(make_action(
                index=index, names=MOTOR_NAMES, source='expert', stamp=stamp,
                values=(limits.action_space_left[index], limits.action_space_right[index])))
        angles, speeds = self.robot.world.wheels
        joints = JointState(name=list(WHEEL_JOINTS), position=list(angles),
                            velocity=list(speeds))
        joints.header.stamp, joints.header.frame_id = stamp, self.settings.base_frame
        self.joint_pub.publish(joints)
        self.odom_pub.publish(self._odometry(stamp))

    def _odometry(self, stamp) -> Odometry:
        truth = self.robot.odometry()
        msg = Odometry()
        msg.header.stamp, msg.header.frame_id = stamp, self.settings.odom_frame
        msg.child_frame_id = self.settings.base_frame
        msg.pose.pose.position.x, msg.pose.pose.position.y = truth['x'], truth['y']
        w, _, _, z = truth['quaternion']
        msg.pose.pose.orientation.w, msg.pose.pose.orientation.z = w, z
        msg.twist.twist.linear.x, msg.twist.twist.angular.z = truth['forward'], truth['turn']
        return msg

    def status(self):
        """Report counters, the pose and whether the watchdog holds the robot."""
        x, y, yaw = self.robot.world.pose
        left, right = self.robot.motors
        values = {
            'frames': self.frames, **self.robot.intake.counters(),
            'actions_applied': self.robot.world.controller.commands,
            'stale_steps': self.stale_steps, 'resets': self.robot.resets,
            'publishing_s': round(self._frame_time - self._first_frame_time, 3)
            if self._first_frame_time is not None else 0.0,
            'action_counts': {str(k): v for k, v in sorted(self.action_counts.items())},
            'x': round(x, 4), 'y': round(y, 4), 'yaw': round(yaw, 4),
            'motor_left': round(left, 4), 'motor_right': round(right, 4),
            'sim_time_s': round(self.robot.world.time, 3)}
        if self.task_episodes is not None:
            values.update(self.task_episodes.status_values())
        if values['actions_rejected']:
            return WARN, f'{values["actions_rejected"]} actions rejected', values
        level, text = ((self.task_episodes and self.task_episodes.finished_status())
                       or self.watchdog.problem() or (OK, 'running'))
        return level, text, values

    def on_shutdown(self) -> None:
        """Release the renderer on this (its) thread, then publish the final status."""
        self.robot.close()
        super().on_shutdown()


def main(args=None):
    """Run the room node."""
    raise SystemExit(run(RoomNode, args, startup_errors=(RenderUnavailable,)))


if __name__ == '__main__':
    main()
