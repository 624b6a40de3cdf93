"""Record: `ros2 launch nanobot_ros record.launch.py [config:=<yaml>]` (config/record.yaml)."""
from nanobot_ros.launch_support import stack_launch_description


def generate_launch_description():
    """Start the node of config/record.yaml."""
    return stack_launch_description('record.yaml')
