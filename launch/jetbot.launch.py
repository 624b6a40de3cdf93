"""The JetBot stack: `ros2 launch nanobot_ros jetbot.launch.py [config:=<yaml>]`."""
from nanobot_ros.launch_support import stack_launch_description


def generate_launch_description():
    """Start every node of config/jetbot.yaml: recorder, camera, jetbot, world model."""
    return stack_launch_description('jetbot.yaml')
