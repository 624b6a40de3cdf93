"""The learn stack: `ros2 launch nanobot_ros learn.launch.py [config:=<yaml>]`."""
from nanobot_ros.launch_support import stack_launch_description


def generate_launch_description():
    """Start every node of config/learn.yaml."""
    return stack_launch_description('learn.yaml')
