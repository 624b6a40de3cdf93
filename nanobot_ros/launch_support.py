"""Shared body of the launch files: one launch_ros Node per node of a stack config YAML.

Imported only by launch files, i.e. where `launch` and `launch_ros` exist (a ROS 2 install).
`namespace:=robot1` starts the whole stack in robot1 (under any namespace an including launch
file pushes); the nodes read the stack's parameters from a copy keyed `/**/<node>`
(stack_config.any_namespace_parameters), which reaches them in any namespace.
"""
import datetime
import os
from pathlib import Path
import tempfile

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from nanobot_ros.stack_config import (any_namespace_parameters, dds_environment, dump_ros_yaml,
                                      namespace_path, node_remappings, runnable_executable,
                                      stack_nodes)


def stack_launch_description(config_name: str) -> LaunchDescription:
    """Launch every node of config/<config_name> (`config:=<path>`, `namespace:=<ns>`)."""
    default = os.path.join(get_package_share_directory('nanobot_ros'), 'config', config_name)

    def nodes(context):
        config = LaunchConfiguration('config').perform(context)
        namespace = LaunchConfiguration('namespace').perform(context)
        namespace_path(namespace)  # a clear error for a malformed one
        # A fresh folder for what the stack's nodes share ({run_dir} in the YAML), as ./run.sh
        # sim gives each run.
        run_dir = Path('runs') / datetime.datetime.now().strftime('launch-%Y%m%d-%H%M%S')
        with tempfile.NamedTemporaryFile('w', prefix='nanobot_params_', suffix='.yaml',
                                         delete=False) as params:
            params.write(dump_ros_yaml(any_namespace_parameters(config, run_dir.resolve())))
        actions = []
        for name in stack_nodes(config):
            executable, warning = runnable_executable(config, name)
            if warning:
                actions.append(LogInfo(msg=f'warning: {warning}'))
            actions.append(Node(package='nanobot_ros', executable=executable, name=name,
                                namespace=namespace.strip('/') or None,
                                parameters=[params.name],
                                remappings=list(node_remappings(config, name).items()),
                                output='screen', emulate_tty=True))
        return actions

    return LaunchDescription([
        DeclareLaunchArgument('config', default_value=default,
                              description='stack parameters YAML (one key per node)'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='ROS namespace of every node, e.g. robot1'),
        # The stack's Fast DDS profile, unless the environment names one (stack_config).
        *(SetEnvironmentVariable(name, value)
          for name, value in dds_environment(os.environ).items()),
        OpaqueFunction(function=nodes),
    ])
