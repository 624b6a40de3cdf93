"""Replay: `ros2 launch nanobot_ros replay.launch.py [config:=<yaml>]` (config/replay.yaml)."""
from nanobot_ros.launch_support import stack_launch_description


def generate_launch_description():
    """Start the node of config/replay.yaml."""
    return stack_launch_description('replay.yaml')
