"""The library layers import without rclpy (they run on machines without ROS).

Every module of models/, learning/, data/, robots/ (with its family subpackages sim/, jetbot/,
esp32/) and policy/ is imported in a fresh interpreter, which must then hold no rclpy, no
rosidl_runtime_py and no nanobot_msgs.
"""
import pkgutil
import subprocess
import sys

import nanobot_ros.data
import nanobot_ros.learning
import nanobot_ros.models
import nanobot_ros.policy
import nanobot_ros.robots

PACKAGES = (nanobot_ros.models, nanobot_ros.learning, nanobot_ros.data, nanobot_ros.robots,
            nanobot_ros.policy)


def test_importing_the_library_layers_does_not_import_rclpy():
    modules = [info.name for package in PACKAGES
               for info in pkgutil.walk_packages(package.__path__, package.__name__ + '.')]
    assert 'nanobot_ros.models.vit' in modules
    assert {'nanobot_ros.data.convert', 'nanobot_ros.robots.esp32.link',
            'nanobot_ros.robots.jetbot.server', 'nanobot_ros.robots.sim.toroidal_dot',
            'nanobot_ros.policy.onnx_runtime'} <= set(modules)
    code = ('import importlib, sys\n'
            f'for name in {modules!r}:\n'
            '    importlib.import_module(name)\n'
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('rclpy', 'rosidl_runtime_py', 'nanobot_msgs')))\n")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'
