"""The room's MJCF, written here: a JetBot-like differential-drive robot in a walled room.

The robot is a JetBot at its real size and mass: a 0.6 kg chassis, two driven wheels of 65 mm
diameter 0.12 m apart (MotorLimits.wheel_separation) with velocity actuators, a ball caster at
the back, and a forward camera (MuJoCo offers a pinhole `fovy`; the JetBot's wide-angle lens is
approximated by a wide vertical field of view). Choices checked on this machine
(../shared/notes/mujoco-room.md): the wheels collide as spheres (cylinders touch the floor at two
points and scrub on turns); the caster has `priority="1"` so its low friction wins over the
floor's; friction cones are elliptic (pyramidal cones made turns depend on the heading); the
wheel actuators have a `forcerange` (unlimited torque flipped the robot); the integrator is
`implicitfast` (stable with velocity actuators); the shadow map is small (MuJoCo's default
4096 x 4096 map costs ~44 ms per frame on llvmpipe).

Objects are free bodies (the robot can push them), coloured from the task family's palette
(robots/sim/target_task.py MARKER_COLORS), one of cube / sphere / cylinder each.
"""
from dataclasses import dataclass
import math
from typing import List, Tuple

import numpy as np

from nanobot_ros.robots.jetbot.motors import WHEEL_JOINTS
from nanobot_ros.robots.sim.target_task import MARKER_COLORS

WHEEL_RADIUS = 0.0325     # m: the JetBot's 65 mm wheels
CHASSIS_HALF = (0.065, 0.05, 0.03)  # m: half length, width, height of the chassis box
CHASSIS_MASS = 0.6        # kg, battery and Jetson included (the wheels add 2 x 0.03)
CASTER_RADIUS = 0.012
CASTER_X = -0.075         # m behind the axle
CHASSIS_X = -0.025        # m: chassis centre behind the axle (its mass rests on the caster)
CHASSIS_Z = 0.012         # m: the chassis box's centre above the axle
CAMERA_POS = (0.06, 0.0, 0.06)   # m from the axle centre: front top of the chassis
# The camera's mount: a collision box around the lens, not rendered. Without it the lens, 2 cm
# ahead of the chassis, went 2 cm into a wall the chassis touched and rendered its inside.
CAMERA_MOUNT_HALF = (0.01, 0.0125, 0.0125)  # m: half length, width, height
CAMERA_FRONT = CAMERA_POS[0] + CAMERA_MOUNT_HALF[0]  # m ahead of the axle: the robot's front
# The renderer's near plane, a fraction of the model's extent (4.3 m with the 2 m room: 4 mm).
# MuJoCo's default 0.01 (4.3 cm) cut away a wall closer to the lens than that: the camera saw
# through it to the outside of the room.
CAMERA_ZNEAR = 0.001
WALL_THICKNESS = 0.05
SHAPES = ('box', 'sphere', 'cylinder')


@dataclass(frozen=True)
class RoomObject:
    """One coloured object of the layout: shape, colour name, centre (x, y) and half size (m)."""

    shape: str
    color: str
    x: float
    y: float
    size: float


def room_layout(config) -> List[RoomObject]:
    """Return the objects at positions drawn from `config.layout_seed` (clear of each other)."""
    rng = np.random.default_rng(config.layout_seed)
    colors = [str(c) for c in rng.permutation(list(config.colors))]
    half_x, half_y = config.room_size[0] / 2, config.room_size[1] / 2
    objects: List[RoomObject] = []
    for i in range(config.objects):
        size = float(rng.uniform(*config.object_size))
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        for _ in range(1000):
            x = float(rng.uniform(-half_x + 2 * size, half_x - 2 * size))
            y = float(rng.uniform(-half_y + 2 * size, half_y - 2 * size))
            if all(math.hypot(x - o.x, y - o.y) > 2 * (size + o.size) + 0.05 for o in objects):
                break
        else:
            raise ValueError(f'cannot place {config.objects} objects in a '
                             f'{config.room_size[0]} x {config.room_size[1]} m room')
        objects.append(RoomObject(shape, colors[i % len(colors)], x, y, size))
    return objects


def _rgba(color: str) -> str:
    r, g, b = MARKER_COLORS[color]
    return f'{r / 255:.4f} {g / 255:.4f} {b / 255:.4f} 1'


def _object_xml(index: int, obj: RoomObject) -> str:
    s = obj.size
    geom = {'box': f'type="box" size="{s} {s} {s}"',
            'sphere': f'type="sphere" size="{s}" condim="6" friction="0.8 0.005 0.002"',
            'cylinder': f'type="cylinder" size="{s} {s}"'}[obj.shape]
    return (f'<body name="object{index}" pos="{obj.x:.5f} {obj.y:.5f} {s:.5f}">'
            f'<freejoint/><geom name="object{index}" {geom} rgba="{_rgba(obj.color)}" '
            f'mass="0.15"/></body>')


def _walls_xml(size_x: float, size_y: float, height: float) -> str:
    t = WALL_THICKNESS
    hx, hy, hz = size_x / 2, size_y / 2, height / 2
    # name, position, half sizes, material: four materials so each wall's tint tells a heading.
    walls = [('wall_north', (0, hy + t, hz), (hx + 2 * t, t, hz)),
             ('wall_south', (0, -hy - t, hz), (hx + 2 * t, t, hz)),
             ('wall_east', (hx + t, 0, hz), (t, hy, hz)),
             ('wall_west', (-hx - t, 0, hz), (t, hy, hz))]
    return ''.join(f'<geom name="{name}" type="box" pos="{p[0]} {p[1]} {p[2]}" '
                   f'size="{s[0]} {s[1]} {s[2]}" material="{name}"/>'
                   for name, p, s in walls)


WALL_TINTS = {'wall_north': '1.0 0.85 0.6 1', 'wall_south': '0.6 0.8 1.0 1',
              'wall_east': '0.75 1.0 0.65 1', 'wall_west': '1.0 0.7 0.85 1'}


def _wheel_xml(name: str, joint: str, y: float, armature: float) -> str:
    """Return a driven wheel: a sphere for contacts (no scrub on turns), a cylinder to see."""
    return (f'<body name="{name}_wheel" pos="0 {y} 0">'
            f'<joint name="{joint}" type="hinge" axis="0 1 0" damping="0.0005" '
            f'armature="{armature}"/>'
            f'<geom name="{name}_wheel" type="sphere" size="{WHEEL_RADIUS}" mass="0.03" '
            f'friction="1.2 0.005 0.0001" group="3"/>'
            f'<geom type="cylinder" size="{WHEEL_RADIUS} 0.0065" zaxis="0 1 0" contype="0" '
            f'conaffinity="0" mass="0" rgba="0.1 0.1 0.1 1"/></body>')


def camera_axes(tilt_deg: float) -> Tuple[float, ...]:
    """Return MJCF `xyaxes` of a camera looking along +x, pitched down by `tilt_deg`."""
    t = math.radians(tilt_deg)
    return (0.0, -1.0, 0.0, math.sin(t), 0.0, math.cos(t))


def room_mjcf(config, limits, objects: List[RoomObject]) -> str:
    """Return the MJCF of the room, `objects` and the robot (wheels from MotorLimits `limits`)."""
    c = config
    size_x, size_y = c.room_size
    offsize = max(c.img_size, 64)
    axes = ' '.join(f'{v:.6f}' for v in camera_axes(c.camera_tilt))
    hx, hy, hz = CHASSIS_HALF
    wheel_y = limits.wheel_separation / 2
    max_omega = limits.max_wheel_speed / WHEEL_RADIUS
    return f'''<mujoco model="room">
  <compiler angle="radian"/>
  <option timestep="{c.timestep}" integrator="implicitfast" cone="elliptic"/>
  <visual>
    <global offwidth="{offsize}" offheight="{offsize}"/>
    <map znear="{CAMERA_ZNEAR}"/>
    <quality shadowsize="{c.shadow_size}"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.3 0.3 0.3" specular="0 0 0"/>
  </visual>
  <asset>
    <texture name="floor" type="2d" builtin="checker" rgb1="0.62 0.58 0.52"
             rgb2="0.48 0.45 0.40" width="64" height="64" mark="edge" markrgb="0.3 0.3 0.3"/>
    <material name="floor" texture="floor" texrepeat="{size_x * 2:g} {size_y * 2:g}"
              texuniform="false"/>
    <texture name="wall" type="2d" builtin="gradient" rgb1="1 1 1" rgb2="0.55 0.55 0.55"
             width="64" height="64"/>
    {''.join(f'<material name="{n}" texture="wall" rgba="{rgba}" texrepeat="4 1"/>'
             for n, rgba in WALL_TINTS.items())}
    <texture name="sky" type="skybox" builtin="gradient" rgb1="0.9 0.9 0.95" rgb2="0.6 0.6 0.7"
             width="32" height="32"/>
  </asset>
  <default>
    <geom friction="0.9 0.005 0.0001"/>
  </default>
  <worldbody>
    <light name="sun" pos="0 0 2.5" dir="0.2 0.1 -1" directional="true" castshadow="true"
           diffuse="0.6 0.6 0.6" specular="0.1 0.1 0.1"/>
    <geom name="floor" type="plane" size="{size_x / 2 + 0.2} {size_y / 2 + 0.2} 0.05"
          material="floor"/>
    {_walls_xml(size_x, size_y, c.wall_height)}
    {''.join(_object_xml(i, o) for i, o in enumerate(objects))}
    <body name="robot" pos="0 0 {WHEEL_RADIUS}">
      <freejoint name="robot"/>
      <geom name="chassis" type="box" pos="{CHASSIS_X} 0 {CHASSIS_Z}" size="{hx} {hy} {hz}"
            mass="{CHASSIS_MASS}" rgba="0.15 0.15 0.15 1"/>
      <geom name="caster" type="sphere" pos="{CASTER_X} 0 {CASTER_RADIUS - WHEEL_RADIUS}"
            size="{CASTER_RADIUS}" mass="0.01" condim="1" priority="1" friction="0.001"
            rgba="0.6 0.6 0.6 1"/>
      <geom name="camera_mount" type="box" pos="{CAMERA_POS[0]} {CAMERA_POS[1]} {CAMERA_POS[2]}"
            size="{' '.join(map(str, CAMERA_MOUNT_HALF))}" mass="0" group="3"/>
      <camera name="front" pos="{CAMERA_POS[0]} {CAMERA_POS[1]} {CAMERA_POS[2]}"
              xyaxes="{axes}" fovy="{c.camera_fovy}"/>
      {_wheel_xml('left', WHEEL_JOINTS[0], wheel_y, c.wheel_armature)}
      {_wheel_xml('right', WHEEL_JOINTS[1], -wheel_y, c.wheel_armature)}
    </body>
  </worldbody>
  <actuator>
    <velocity name="left_wheel" joint="{WHEEL_JOINTS[0]}" kv="{c.wheel_kv}"
              ctrlrange="{-max_omega:.4f} {max_omega:.4f}"
              forcerange="{-c.wheel_torque} {c.wheel_torque}"/>
    <velocity name="right_wheel" joint="{WHEEL_JOINTS[1]}" kv="{c.wheel_kv}"
              ctrlrange="{-max_omega:.4f} {max_omega:.4f}"
              forcerange="{-c.wheel_torque} {c.wheel_torque}"/>
  </actuator>
</mujoco>
'''
