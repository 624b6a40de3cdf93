"""A room node that cannot open a GL context exits 2 with the reason, never a traceback."""
import os
import subprocess

from nanobot_ros.stack import node_command


def test_bad_gl_backend_exits_2_with_the_reason():
    # glfw needs a display: none here (DISPLAY unset), so MuJoCo cannot make its context.
    env = {k: v for k, v in os.environ.items() if k not in ('DISPLAY', 'WAYLAND_DISPLAY')}
    env['MUJOCO_GL'] = 'glfw'
    result = subprocess.run(node_command('room', []), env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert '[ERROR] cannot start: cannot open a GL context for MuJoCo (MUJOCO_GL=glfw)' in \
        result.stderr
    assert 'libegl1 libegl-mesa0 libgl1-mesa-dri' in result.stderr
    assert 'Traceback' not in result.stderr
