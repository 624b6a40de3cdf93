"""The room stack: `ros2 launch nanobot_ros room.launch.py [config:=<yaml>]`."""
from nanobot_ros.launch_support import stack_launch_description


def generate_launch_description():
    """Start every node of config/room.yaml: recorder, room, world model, foxglove."""
    return stack_launch_description('room.yaml')
