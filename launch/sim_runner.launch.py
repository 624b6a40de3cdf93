"""The simulated stack without learning: `ros2 launch nanobot_ros sim_runner.launch.py`."""
from nanobot_ros.launch_support import stack_launch_description


def generate_launch_description():
    """Start every node of config/sim_runner.yaml."""
    return stack_launch_description('sim_runner.yaml')
