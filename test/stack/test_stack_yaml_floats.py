"""`lr: 1e-3` (stack YAML or `--set`) reaches the node as a double, a quoted "1e-3" as text.

PyYAML (YAML 1.1) reads a float without a dot as a string, and writes the string '1e-3'
unquoted, which rcl reads as a double: a string parameter holding it was refused. Here rcl
itself reads the params.yaml the stack writes.
"""
import rclpy
from rclpy.context import Context

from nanobot_ros.stack import parse_overrides
from nanobot_ros.stack_config import any_namespace_parameters, dump_ros_yaml

STACK = '''
world_model:
  ros__parameters:
    autoencoder_lr: 1e-3
    predictor_lr: 2.5E-4
    actions: [0, 1]
    wandb_project: "1e-3"
'''


def test_exponent_floats_are_doubles_in_params_yaml(tmp_path):
    config = tmp_path / 'stack.yaml'
    config.write_text(STACK)
    params = any_namespace_parameters(config, tmp_path,
                                      parse_overrides(['world_model.predictor_lr=5e-4']))
    assert params['/**/world_model']['ros__parameters'] == {
        'autoencoder_lr': 0.001, 'predictor_lr': 0.0005, 'actions': [0, 1],
        'wandb_project': '1e-3'}
    params_file = tmp_path / 'params.yaml'
    params_file.write_text(dump_ros_yaml(params))  # as stack.py writes it
    context = Context()
    rclpy.init(args=['world_model', '--ros-args', '--params-file', str(params_file)],
               context=context)
    try:
        node = rclpy.create_node('world_model', context=context)
        node.declare_parameter('autoencoder_lr', 0.003)
        node.declare_parameter('predictor_lr', 0.002)
        node.declare_parameter('wandb_project', 'nanobot_ros')
        assert node.get_parameter('autoencoder_lr').value == 0.001
        assert node.get_parameter('predictor_lr').value == 0.0005
        assert node.get_parameter('wandb_project').value == '1e-3'  # quoted: text
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
