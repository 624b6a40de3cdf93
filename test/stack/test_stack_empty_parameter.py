"""`--set node.param=` (an empty string) reaches the node as '', where rcl refuses `param:=`.

`./run.sh sim --set world_model.wandb_project=` (no W&B) once made the node exit with rcl's
"Couldn't parse parameter override rule". The node's own rcl parses the command line here.
"""
import subprocess

import rclpy
from rclpy.context import Context

from nanobot_ros.stack import node_command


def test_an_empty_override_is_an_empty_string():
    command = node_command('world_model', [('wandb_project', ''), ('img_size', 64),
                                           ('debug', False)])
    arguments = command[command.index('--ros-args'):]
    assert arguments == ['--ros-args', '-p', "wandb_project:=''", '-p', 'img_size:=64',
                         '-p', 'debug:=false']
    context = Context()
    rclpy.init(args=['world_model', *arguments], context=context)
    try:
        node = rclpy.create_node('world_model', context=context)
        node.declare_parameter('wandb_project', 'nanobot_ros')
        node.declare_parameter('img_size', 224)
        assert node.get_parameter('wandb_project').value == ''
        assert node.get_parameter('img_size').value == 64
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_a_command_line_rcl_refuses_exits_2_with_the_reason():
    command = node_command('sim')
    result = subprocess.run([*command, '-p', 'frame_rate:='], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stderr
    assert "[ERROR] bad command line" in result.stderr and "'-p frame_rate:='" in result.stderr
    assert 'Traceback' not in result.stderr
