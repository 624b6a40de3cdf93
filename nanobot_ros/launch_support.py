"""Shared body of the launch files: one launch_ros Node per node of a stack config YAML.

Imported only by launch files, i.e. where `launch` and `launch_ros` exist (a ROS 2 install).
`namespace:=robot1` starts the whole stack in robot1 (under any namespace an including launch
file pushes); the nodes read the stack's parameters from a copy keyed `/**/<node>`
(stack_config.any_namespace_parameters), which reaches them in any namespace.
"""
import os
import tempfile

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
import yaml

from nanobot_ros.stack_config import (any_namespace_parameters, executable_name, namespace_path,
                                      stack_nodes)


def stack_launch_description(config_name: str) -> LaunchDescription:
    """Launch every node of config/<config_name> (`config:=<path>`, `namespace:=<ns>`)."""
    default = os.path.join(get_package_share_directory('nanobot_ros'), 'config', config_name)

    def nodes(context):
        config = LaunchConfiguration('config').perform(context)
        namespace = LaunchConfiguration('namespace').perform(context)
        namespace_path(namespace)  # a clear error for a malformed one
        with tempfile.NamedTemporaryFile('w', prefix='nanobot_params_', suffix='.yaml',
                                         delete=False) as params:
            yaml.safe_dump(any_namespace_parameters(config), params, sort_keys=False)
        return [Node(package='nanobot_ros', executable=executable_name(config, name), name=name,
                     namespace=namespace.strip('/') or None, parameters=[params.name],
                     output='screen', emulate_tty=True)
                for name in stack_nodes(config)]

    return LaunchDescription([
        DeclareLaunchArgument('config', default_value=default,
                              description='stack parameters YAML (one key per node)'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='ROS namespace of every node, e.g. robot1'),
        OpaqueFunction(function=nodes),
    ])
