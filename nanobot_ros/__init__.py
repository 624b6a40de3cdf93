"""nanobot_ros: a ROS 2 node suite that turns a small robot into a learning robot."""

__version__ = '0.1.0'
