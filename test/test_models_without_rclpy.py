"""The models and learning modules import without rclpy (they run on machines without ROS)."""
import pkgutil
import subprocess
import sys

import nanobot_ros.learning
import nanobot_ros.models


def test_importing_models_and_learning_does_not_import_rclpy():
    modules = [f'{package.__name__}.{info.name}'
               for package in (nanobot_ros.models, nanobot_ros.learning)
               for info in pkgutil.iter_modules(package.__path__)]
    assert 'nanobot_ros.models.vit' in modules
    code = ('import importlib, sys\n'
            f'for name in {modules!r}:\n'
            '    importlib.import_module(name)\n'
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('rclpy', 'rosidl_runtime_py', 'nanobot_msgs')))\n")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'
