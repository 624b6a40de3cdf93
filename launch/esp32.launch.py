"""The ESP32 stack: `ros2 launch nanobot_ros esp32.launch.py [mock:=true] [config:=<yaml>]`.

mock:=true starts config/esp32_mock.yaml instead of config/esp32.yaml: the emulated device on
a pty plus the same recorder and bridge, for running without a board.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration

from nanobot_ros.launch_support import stack_launch_description


def generate_launch_description():
    """Start every node of config/esp32.yaml, or of config/esp32_mock.yaml with mock:=true."""
    def stack(context):
        mock = LaunchConfiguration('mock').perform(context).lower() in ('true', '1', 'yes')
        return stack_launch_description('esp32_mock.yaml' if mock else 'esp32.yaml').entities

    return LaunchDescription([
        DeclareLaunchArgument('mock', default_value='false',
                              description='true: run on the emulated device instead of a board'),
        OpaqueFunction(function=stack),
    ])
