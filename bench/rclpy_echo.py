"""The rclpy transport floor for bench/kernel_latency.py: every frame answered at once.

    python bench/rclpy_echo.py --ros-args -r __node:=echo_rclpy -r /camera/image_raw:=/x

Subscribes /camera/image_raw (sensor QoS) and publishes a nanobot_msgs/Action stamped with the
frame's stamp on /robot/action (the kernel's QoS), source = the node's name: the kernel's
round trip without the model.
"""
import rclpy
from rclpy.executors import ExternalShutdownException

from nanobot_ros.data.convert import make_action
from nanobot_ros.nodes.common import COMMAND_QOS, SENSOR_QOS
from nanobot_msgs.msg import Action
from sensor_msgs.msg import Image


def main() -> None:
    """Spin the echo node until interrupted."""
    rclpy.init()
    node = rclpy.create_node('echo')
    publisher = node.create_publisher(Action, '/robot/action', COMMAND_QOS)
    name = node.get_name()
    node.create_subscription(
        Image, '/camera/image_raw',
        lambda msg: publisher.publish(make_action(source=name, stamp=msg.header.stamp)),
        SENSOR_QOS)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass


if __name__ == '__main__':
    main()
