"""The rclpy transport floor for bench/kernel_latency.py: every frame answered at once.

    python bench/rclpy_echo.py --ros-args -r __node:=echo_rclpy -r /camera/image_raw:=/x

Subscribes /camera/image_raw (sensor QoS) and publishes a nanobot_msgs/Action stamped with the
frame's stamp on /robot/action (the kernel's QoS), source = the node's name: the kernel's
round trip without the model.
"""
import rclpy
from rclpy.executors import ExternalShutdownException

from nanobot_ros.data.convert import make_action
from nanobot_ros.contract import ACTION, IMAGE
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Action
from sensor_msgs.msg import Image


def main() -> None:
    """Spin the echo node until interrupted."""
    rclpy.init()
    node = rclpy.create_node('echo')
    publisher = node.create_publisher(Action, ACTION.name, qos_profile(ACTION))
    name = node.get_name()
    node.create_subscription(
        Image, IMAGE.name,
        lambda msg: publisher.publish(make_action(source=name, stamp=msg.header.stamp)),
        qos_profile(IMAGE))
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass


if __name__ == '__main__':
    main()
