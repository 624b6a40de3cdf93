"""Shared body of the launch files: one launch_ros Node per node of a stack config YAML.

Imported only by launch files, i.e. where `launch` and `launch_ros` exist (a ROS 2 install).
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from nanobot_ros.stack_config import executable_name, stack_nodes


def stack_launch_description(config_name: str) -> LaunchDescription:
    """Launch every node of config/<config_name> (overridable with `config:=<path>`)."""
    default = os.path.join(get_package_share_directory('nanobot_ros'), 'config', config_name)

    def nodes(context):
        config = LaunchConfiguration('config').perform(context)
        return [Node(package='nanobot_ros', executable=executable_name(config, name), name=name,
                     parameters=[config],
                     output='screen', emulate_tty=True)
                for name in stack_nodes(config)]

    return LaunchDescription([
        DeclareLaunchArgument('config', default_value=default,
                              description='stack parameters YAML (one key per node)'),
        OpaqueFunction(function=nodes),
    ])
