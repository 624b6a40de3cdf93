"""Room robot speed: physics + render frames/s at 64/96/128/224 px on one core.

`./run.sh python bench/room_render.py` pins itself to one CPU core and Mesa's llvmpipe to one
thread (LP_NUM_THREADS=1), then times, per image size and shadow map size, the library's
`RoomWorld.step` (one discrete action: 0.3 s of simulated time, 60 physics steps, then the
camera frame), the render alone and the physics alone. Steps/s of one core is 1 / the CPU time
a step took this process: on a shared machine that is the cost, the wall rate what one got.
"""
import argparse
import os
import time

os.environ.setdefault('LP_NUM_THREADS', '1')  # llvmpipe's render threads: before any context
os.environ.setdefault('MUJOCO_GL', 'egl')

from nanobot_ros.robots.room.world import RoomConfig, RoomWorld  # noqa: E402

SIZES = (64, 96, 128, 224)


def timed(function, count: int) -> tuple:
    """Return (wall s, CPU s) per call of `function` over `count` calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        function(i)
    return ((time.perf_counter() - wall) / count, (time.process_time() - cpu) / count)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--steps', type=int, default=200, help='actions timed per setting')
    parser.add_argument('--shadows', type=int, nargs='+', default=[512, 0],
                        help='shadow map sizes (px; 0 = none)')
    args = parser.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(f'load average before: {os.getloadavg()[0]:.2f}; one core '
          f'({sorted(os.sched_getaffinity(0))}), LP_NUM_THREADS={os.environ["LP_NUM_THREADS"]}')
    print('| img px | shadow map | steps/s of one core (1 / CPU time) | steps/s wall | '
          'step ms CPU | render ms CPU | physics ms CPU per 0.3 s |')
    print('|---|---|---|---|---|---|---|')
    for shadow in args.shadows:
        for size in SIZES:
            world = RoomWorld(RoomConfig(img_size=size, shadow_size=shadow))
            world.reset(0)
            world.step(1)  # warm up: the first frame compiles shaders
            step_wall, step_cpu = timed(lambda i: world.step(i % 5), args.steps)
            render_wall, render_cpu = timed(lambda i: world.render(), args.steps)
            physics_wall, physics_cpu = timed(
                lambda i: world.advance(world.steps_per_action), args.steps)
            world.close()
            print(f'| {size} | {shadow or "none"} | {1 / step_cpu:.0f} | {1 / step_wall:.0f} | '
                  f'{step_cpu * 1e3:.2f} | {render_cpu * 1e3:.2f} | {physics_cpu * 1e3:.2f} |')
    print(f'load average after: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    main()
