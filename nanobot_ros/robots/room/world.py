"""A JetBot in a 3-D room (MuJoCo), driven through the real JetBot driver's motor logic.

    world = RoomWorld(RoomConfig(img_size=64, layout_seed=0))   # renderer on THIS thread
    frame = world.reset(seed=3)      # start pose from the seed; uint8 (img_size, img_size, 3)
    frame = world.step(1)            # ACTION_NAMES[1] ('forward') for its duration
    world.pose                       # (x, y, yaw) ground truth, m / rad

Motors: the robot's wheels are driven by robots/jetbot/motors.py's JetBotController (the same
ramp / hold / ramp-down and clamping as the real JetBot) through `SimMotors`, a motor backend
that writes the wheel actuators, ticked on simulated time at every physics step. Motor value
m in [-1, 1] is wheel surface speed m * `max_wheel_speed` (MotorLimits, as /cmd_vel assumes).
The discrete actions are `RoomMotorLimits`' action table, indices as in the JetBot's
`action_space_left/right`; `step(i)` holds action i for `default_duration`, then waits for the
ramp down, so every step covers the same simulated time (`step_seconds`).

Deterministic: the same config, seed and actions give bit-identical frames (MuJoCo and Mesa's
llvmpipe are deterministic on one machine). The GL backend is MuJoCo's `MUJOCO_GL`, `egl` (Mesa's
llvmpipe on machines without a GPU) unless set; a context that cannot be made raises
RenderUnavailable.
A GL context belongs to the thread that made it: build, step and close a RoomWorld on one
thread. Importing triton (through torch) after an EGL context exists crashed the process here:
a RoomWorld imports `torch._dynamo` first when torch is imported; processes that import torch
only after their first RoomWorld must import `torch._dynamo` before it.
"""
from dataclasses import dataclass
import importlib
import math
import os
import sys
from typing import Optional, Sequence, Tuple

import numpy as np

from nanobot_ros.robots.jetbot.motors import (
    action_to_command, JetBotController, MotorCommand, MotorDriver, MotorLimits, MotorProfile,
    WHEEL_JOINTS)
from nanobot_ros.robots.backoff import Backoff
from nanobot_ros.robots.room.mjcf import CAMERA_FRONT, room_layout, room_mjcf, RoomObject, \
    WHEEL_RADIUS
from nanobot_ros.robots.sim.task_family import TaskFamilyConfig

# The discrete action space: index i = (action_space_left[i], action_space_right[i]) below.
ACTION_NAMES = ('stop', 'forward', 'backward', 'left', 'right')
# Forward/backward 0.4 (0.2 m/s, 4 cm per 0.2 s action) and turns at +-0.2 (about 19 degrees per
# action): each action moves the 64 px view by a few pixels, and a 2 m room is crossed in ~40
# actions.
ROOM_LEFT = (0.0, 0.4, -0.4, -0.2, 0.2)
ROOM_RIGHT = (0.0, 0.4, -0.4, 0.2, -0.2)
# Each action's (motor_left, motor_right): a categorical policy's action vectors in the room.
ACTION_VECTORS = tuple(zip(ROOM_LEFT, ROOM_RIGHT))
# A pose at a wall (`RoomWorld.sample_wall_pose`): the robot's front this far from the wall (m),
# its heading within this of the wall's normal (rad, 23 degrees).
WALL_GAP = (0.005, 0.04)
WALL_FACING = 0.4
# Whether this process has made a GL context yet (see the module's docstring on triton).
_gl_context_made = False


class RenderUnavailable(RuntimeError):
    """No GL context could be made for MuJoCo's renderer (MUJOCO_GL and its libraries)."""


@dataclass
class RoomMotorLimits(MotorLimits):
    """The JetBot driver's limits with the room's five-action table as the default."""

    action_space_left: tuple = ROOM_LEFT
    action_space_right: tuple = ROOM_RIGHT


@dataclass
class RoomConfig:
    """The room, its objects, the robot's camera and the simulation."""

    img_size: int = 64                 # camera frames are img_size x img_size RGB
    layout_seed: int = 0               # where the objects are (and which colour each)
    room_size: tuple = (2.0, 2.0)      # m, inside the walls (x, y)
    wall_height: float = 0.4           # m
    objects: int = 6                   # coloured cubes / spheres / cylinders
    object_size: tuple = (0.03, 0.05)  # m, half size drawn uniformly in this range
    colors: tuple = TaskFamilyConfig.colors  # object colours: the task family's palette
    camera_fovy: float = 90.0          # degrees (pinhole: the JetBot's wide-angle lens)
    camera_tilt: float = 10.0          # degrees below the horizon
    shadow_size: int = 512             # shadow map px; 0 = no shadows (MuJoCo's 4096 is slow)
    timestep: float = 0.005            # s per physics step
    wheel_kv: float = 0.5              # velocity actuator gain (N m per rad/s)
    wheel_torque: float = 0.1          # N m, each wheel's largest torque
    wheel_armature: float = 0.001      # kg m^2: motor and gearbox inertia (without it the
    #                                    light wheels made the drive oscillate)
    settle_time: float = 0.04          # s after an action's ramp down before its frame
    start_clearance: float = 0.15      # m from walls and objects for start / sampled poses
    # Share of start poses (reset) at a wall (`sample_wall_pose`): facing it close up, so the
    # next forward bumps into it. A robot driving on its own seldom ends there.
    start_at_wall: float = 0.0
    randomize_lighting: float = 0.0    # reset(seed) scales the light by 1 +- this
    randomize_colors: float = 0.0      # reset(seed) shifts object / wall colours by +- this
    randomize_camera: float = 0.0      # reset(seed) moves the camera by +- this m
    randomize_tilt: float = 0.0        # reset(seed) tilts the camera by +- this many degrees

    def __post_init__(self):
        if self.img_size < 8:
            raise ValueError(f'img_size must be >= 8, got {self.img_size}')
        if len(self.room_size) != 2 or min(self.room_size) < 0.5:
            raise ValueError(f'room_size must be two sizes >= 0.5 m, got {self.room_size}')
        if len(self.object_size) != 2 or not 0 < self.object_size[0] <= self.object_size[1]:
            raise ValueError(f'object_size must be (min, max) > 0, got {self.object_size}')
        if self.objects < 0 or (self.objects and not self.colors):
            raise ValueError('objects must be >= 0 and need at least one colour')
        if min(self.timestep, self.wheel_kv, self.wheel_torque, self.wheel_armature) <= 0:
            raise ValueError('timestep, wheel_kv, wheel_torque and wheel_armature must be > 0')
        if self.settle_time < 0:
            raise ValueError(f'settle_time must be >= 0, got {self.settle_time}')
        if min(self.randomize_lighting, self.randomize_colors, self.randomize_camera,
               self.randomize_tilt) < 0:
            raise ValueError('randomize_* must be >= 0')
        if not 0 <= self.start_at_wall <= 1:
            raise ValueError(f'start_at_wall must be a share in [0, 1], got {self.start_at_wall}')


class SimMotors:
    """A JetBot motor backend that sets the simulated wheels' target speeds."""

    def __init__(self, world: 'RoomWorld'):
        self.world = world

    def describe(self) -> str:
        """Return where the motors are."""
        return 'simulated room'

    def connect(self) -> None:
        """Nothing to connect: the simulation is in this process."""

    def set_motors(self, left: float, right: float) -> None:
        """Set both wheels' target speeds from normalised motor values."""
        self.world.set_wheel_targets(left, right)

    def close(self) -> None:
        """Stop both wheels."""
        self.world.set_wheel_targets(0.0, 0.0)


def _yaw_quat(yaw: float) -> np.ndarray:
    return np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])


class RoomWorld:
    """The room in MuJoCo: physics, the JetBot controller on simulated time, the camera."""

    def __init__(self, config: RoomConfig = None, limits: Optional[MotorLimits] = None,
                 objects: Optional[Sequence[RoomObject]] = None,
                 share: Optional['RoomWorld'] = None):
        """`objects`: the bodies to build instead of `room_layout(config)` (a task's pool).

        `share`: a world built from the same config, limits and objects whose model and
        renderer this one uses too, with physics state, motors and object colours of its own:
        many robots for one GL context (a renderer is most of the 0.3 s a world takes to build,
        and 21 MB). Build, step and close them on one thread; the owner's `close()` ends all.
        """
        # MUJOCO_GL is read when mujoco is imported: headless EGL unless the user chose
        os.environ.setdefault('MUJOCO_GL', 'egl')
        try:
            import mujoco
        except RuntimeError as error:  # an unknown MUJOCO_GL value, or its library missing
            raise RenderUnavailable(gl_failure_message(error)) from None
        self._mujoco = mujoco
        self.config = config or RoomConfig()
        self.limits = limits or RoomMotorLimits()
        if share is not None:
            c = self.config
            if max(c.randomize_lighting, c.randomize_colors, c.randomize_camera,
                   c.randomize_tilt):
                raise ValueError('worlds that share a model cannot randomize it per reset')
            self.objects, self.model = share.objects, share.model
        else:
            self.objects = room_layout(self.config) if objects is None else list(objects)
            self.model = mujoco.MjModel.from_xml_string(
                room_mjcf(self.config, self.limits, self.objects))
        self._object_rgb = {}  # this world's colours, written to the (shared) model to render
        self.data = mujoco.MjData(self.model)
        self._robot_qpos = self.model.jnt_qposadr[self.model.joint('robot').id]
        self._robot_qvel = self.model.jnt_dofadr[self.model.joint('robot').id]
        self._wheels = [self.model.joint(n).id for n in WHEEL_JOINTS]
        self._camera = self.model.camera('front').id
        self._defaults = {'light': self.model.light_diffuse.copy(),
                          'geom_rgba': self.model.geom_rgba.copy(),
                          'mat_rgba': self.model.mat_rgba.copy(),
                          'cam_pos': self.model.cam_pos.copy(),
                          'cam_quat': self.model.cam_quat.copy()}
        self._max_omega = self.limits.max_wheel_speed / WHEEL_RADIUS
        self.controller = JetBotController(
            self.limits, MotorProfile(self.limits.ramp_time),
            MotorDriver(SimMotors(self), Backoff(0.1, 0.1), lambda level, text: None,
                        keepalive=math.inf))
        self.controller.tick(0.0)  # connects the simulated backend: motors 0 first
        self._owns_renderer = share is None
        global _gl_context_made
        # torch imports triton lazily; after an EGL context exists that crashed the process, so
        # only before this process's first context (later it would be the crash itself).
        if 'torch' in sys.modules and not _gl_context_made:
            importlib.import_module('torch._dynamo')
        try:
            self.renderer = share.renderer if share else mujoco.Renderer(
                self.model, self.config.img_size, self.config.img_size)
        except Exception as error:  # noqa: BLE001 - every GL failure means the same thing
            raise RenderUnavailable(gl_failure_message(error)) from None
        _gl_context_made = True
        action_seconds = (self.limits.default_duration + self.limits.ramp_time
                          + self.config.settle_time)
        # rounded first: 0.3 / 0.005 is 60.00000000000001, which is no reason for 61 steps
        self.steps_per_action = math.ceil(round(action_seconds / self.config.timestep, 6))
        self.reset(0)

    @property
    def step_seconds(self) -> float:
        """Return the simulated time one discrete action takes (hold, ramp down, settle)."""
        return self.steps_per_action * self.config.timestep

    @property
    def time(self) -> float:
        """Return the seconds simulated since the last reset."""
        return float(self.data.time)

    def set_wheel_targets(self, left: float, right: float) -> None:
        """Set the wheel actuators' target speeds from motor values in [-1, 1]."""
        self.data.ctrl[0] = left * self._max_omega
        self.data.ctrl[1] = right * self._max_omega

    def _randomize(self, rng: np.random.Generator) -> None:
        c, m, d = self.config, self.model, self._defaults
        m.light_diffuse[:] = d['light'] * (1 + rng.uniform(-1, 1) * c.randomize_lighting)
        m.geom_rgba[:] = d['geom_rgba']
        m.mat_rgba[:] = d['mat_rgba']
        if c.randomize_colors:
            shift = rng.uniform(-1, 1, size=m.geom_rgba[:, :3].shape) * c.randomize_colors
            m.geom_rgba[:, :3] = np.clip(d['geom_rgba'][:, :3] + shift, 0, 1)
            shift = rng.uniform(-1, 1, size=m.mat_rgba[:, :3].shape) * c.randomize_colors
            m.mat_rgba[:, :3] = np.clip(d['mat_rgba'][:, :3] + shift, 0, 1)
        m.cam_pos[:] = d['cam_pos']
        m.cam_quat[:] = d['cam_quat']
        m.cam_pos[self._camera] += rng.uniform(-1, 1, 3) * c.randomize_camera
        if c.randomize_tilt:
            pitch = math.radians(rng.uniform(-1, 1) * c.randomize_tilt)
            turn = np.array([math.cos(pitch / 2), math.sin(pitch / 2), 0.0, 0.0])
            out = np.zeros(4)
            self._mujoco.mju_mulQuat(out, d['cam_quat'][self._camera], turn)
            m.cam_quat[self._camera] = out

    def reset(self, seed: int = 0) -> np.ndarray:
        """Put the objects back, the robot at a start pose drawn from `seed`; return the frame.

        A `start_at_wall` share of the start poses are at a wall (`sample_wall_pose`, clear of
        the objects as `sample_pose`'s are), the others anywhere free.
        """
        rng = np.random.default_rng(seed)
        self._mujoco.mj_resetData(self.model, self.data)
        self._randomize(rng)
        at_wall = self.config.start_at_wall and rng.random() < self.config.start_at_wall
        x, y, yaw = self.free_wall_pose(rng) if at_wall else self.sample_pose(rng)
        return self.set_pose(x, y, yaw)

    def _clear_of_objects(self, x: float, y: float) -> bool:
        return all(math.hypot(x - o.x, y - o.y) > self.config.start_clearance + o.size
                   for o in self.objects)

    def sample_pose(self, rng: np.random.Generator) -> Tuple[float, float, float]:
        """Return a pose (x, y, yaw) at least start_clearance from every wall and object."""
        c = self.config
        half_x = c.room_size[0] / 2 - c.start_clearance
        half_y = c.room_size[1] / 2 - c.start_clearance
        for _ in range(10000):
            x, y = rng.uniform(-half_x, half_x), rng.uniform(-half_y, half_y)
            if self._clear_of_objects(x, y):
                return float(x), float(y), float(rng.uniform(-math.pi, math.pi))
        raise ValueError('no free start pose: fewer objects or a larger room')

    def sample_wall_pose(self, rng: np.random.Generator) -> Tuple[float, float, float]:
        """Return a pose (x, y, yaw) facing a wall, the robot's front close to it.

        A wall drawn uniformly; the heading within WALL_FACING of the wall's normal; the
        robot's front (the camera's mount) WALL_GAP from the wall; along the wall at least
        start_clearance from the corners. Objects are not looked at (`free_wall_pose` does).
        """
        half_x, half_y = (size / 2 for size in self.config.room_size)
        along = self.config.start_clearance
        wall = int(rng.integers(4))  # +x, +y, -x, -y
        gap = CAMERA_FRONT + float(rng.uniform(*WALL_GAP))
        yaw = wall * math.pi / 2 + float(rng.uniform(-WALL_FACING, WALL_FACING))
        if wall % 2 == 0:
            x = (half_x - gap) * (1 if wall == 0 else -1)
            y = float(rng.uniform(-half_y + along, half_y - along))
        else:
            y = (half_y - gap) * (1 if wall == 1 else -1)
            x = float(rng.uniform(-half_x + along, half_x - along))
        return float(x), float(y), yaw

    def free_wall_pose(self, rng: np.random.Generator) -> Tuple[float, float, float]:
        """Return `sample_wall_pose`'s pose at least start_clearance from every object."""
        for _ in range(10000):
            x, y, yaw = self.sample_wall_pose(rng)
            if self._clear_of_objects(x, y):
                return x, y, yaw
        raise ValueError('no free pose at a wall: fewer objects or a larger room')

    def set_pose(self, x: float, y: float, yaw: float) -> np.ndarray:
        """Teleport the robot to (x, y, yaw) at rest, motors stopped; return the frame."""
        q, v = self._robot_qpos, self._robot_qvel
        self.data.qpos[q:q + 3] = (x, y, WHEEL_RADIUS)
        self.data.qpos[q + 3:q + 7] = _yaw_quat(yaw)
        self.data.qvel[v:v + 6] = 0.0
        for joint in self._wheels:
            self.data.qvel[self.model.jnt_dofadr[joint]] = 0.0
        self.controller.profile.halt()
        self.set_wheel_targets(0.0, 0.0)
        self._mujoco.mj_forward(self.model, self.data)
        return self.render()

    def _object_joint(self, index: int) -> Tuple[int, int]:
        joint = self.model.body_jntadr[self.model.body(f'object{index}').id]
        return self.model.jnt_qposadr[joint], self.model.jnt_dofadr[joint]

    def move_object(self, index: int, x: float, y: float) -> None:
        """Put object `index` down at rest, upright, at (x, y) (a layout change: no rebuild)."""
        q, v = self._object_joint(index)
        self.data.qpos[q:q + 7] = (x, y, self.objects[index].size, 1.0, 0.0, 0.0, 0.0)
        self.data.qvel[v:v + 6] = 0.0

    def object_position(self, index: int) -> Tuple[float, float]:
        """Return object `index`'s centre (x, y) now (the robot may have pushed it), m."""
        q, _ = self._object_joint(index)
        return float(self.data.qpos[q]), float(self.data.qpos[q + 1])

    def set_object_color(self, index: int, rgb: Sequence[int]) -> None:
        """Paint object `index` in `rgb` (0-255) in this world's frames (not a sharer's)."""
        self._object_rgb[self.model.geom(f'object{index}').id] = np.asarray(rgb) / 255

    def execute(self, command: MotorCommand) -> None:
        """Start a motor command now (simulated time), as the JetBot driver does."""
        self.controller.execute(command, self.time)

    def advance(self, steps: int) -> None:
        """Run `steps` physics steps, ticking the motor controller before each."""
        for _ in range(steps):
            self.controller.tick(self.time)
            self._mujoco.mj_step(self.model, self.data)

    def step(self, action: int) -> np.ndarray:
        """Execute ACTION_NAMES[action] for its duration and the ramp down; return the frame."""
        self.execute(action_to_command(int(action), [], [], 0.0, self.limits))
        self.advance(self.steps_per_action)
        return self.render()

    def render(self) -> np.ndarray:
        """Return the camera's view now, uint8 (img_size, img_size, 3)."""
        for geom, rgb in self._object_rgb.items():
            self.model.geom_rgba[geom, :3] = rgb
        self.renderer.update_scene(self.data, camera=self._camera)
        return self.renderer.render().copy()

    @property
    def pose(self) -> Tuple[float, float, float]:
        """Return the robot's ground-truth (x, y, yaw), m and rad."""
        q = self._robot_qpos
        w, qx, qy, qz = self.data.qpos[q + 3:q + 7]
        yaw = math.atan2(2 * (w * qz + qx * qy), 1 - 2 * (qy * qy + qz * qz))
        return float(self.data.qpos[q]), float(self.data.qpos[q + 1]), yaw

    @property
    def velocity(self) -> Tuple[float, float]:
        """Return (forward speed m/s in the robot's heading, turn rate rad/s)."""
        v = self._robot_qvel
        _, _, yaw = self.pose
        vx, vy = self.data.qvel[v], self.data.qvel[v + 1]
        return (float(vx * math.cos(yaw) + vy * math.sin(yaw)), float(self.data.qvel[v + 5]))

    @property
    def wheels(self) -> Tuple[Tuple[float, float], Tuple[float, float]]:
        """Return the wheels' ((left, right) angle rad, (left, right) speed rad/s)."""
        m, d = self.model, self.data
        angles = tuple(float(d.qpos[m.jnt_qposadr[j]]) for j in self._wheels)
        speeds = tuple(float(d.qvel[m.jnt_dofadr[j]]) for j in self._wheels)
        return angles, speeds

    def close(self) -> None:
        """Release the renderer's GL context (on the thread that made it; a sharer's: not)."""
        if self.renderer is not None and self._owns_renderer:
            self.renderer.close()
        self.renderer = None


def gl_failure_message(error: Exception) -> str:
    """Return what to do when MuJoCo cannot make a GL context."""
    backend = os.environ.get('MUJOCO_GL', '(unset)')
    return (f'cannot open a GL context for MuJoCo (MUJOCO_GL={backend}): '
            f'{type(error).__name__}: {error}. Headless machines: MUJOCO_GL=egl with Mesa '
            f'(apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0)')
