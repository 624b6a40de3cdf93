"""Publishers and a recorder of /robot/action for the kernel and policy node tests."""
import math

import numpy as np

from nanobot_ros.contract import ACTION, COMMAND, IMAGE, INSTRUCTION, SENSOR
from nanobot_ros.data.convert import numpy_to_image
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Action
from sensor_msgs.msg import Image
from std_msgs.msg import String


class ActionProbe:
    """Publishes frames and the instruction; collects the actions that answer them."""

    def __init__(self, ros):
        self.ros = ros
        self.actions = []
        ros.node.create_subscription(Action, ACTION.fqn(), self.actions.append,
                                     qos_profile(COMMAND))
        self.images = ros.node.create_publisher(Image, IMAGE.fqn(), qos_profile(SENSOR))
        self.instruction = ros.node.create_publisher(String, INSTRUCTION.fqn(),
                                                     qos_profile(INSTRUCTION))

    def frame(self, image=None, age: float = 0.0) -> Image:
        """Return an rgb8 frame, black 40x40 unless given, stamped `age` seconds ago."""
        msg = numpy_to_image(np.zeros((40, 40, 3), np.uint8) if image is None else image)
        now = self.ros.node.get_clock().now().nanoseconds - int(age * 1e9)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 10**9)
        return msg

    def answer(self, msg: Image, timeout: float = 10.0) -> Action:
        """Publish `msg` until an action stamped with its time arrives; return that action."""
        stamp = msg.header.stamp
        for _ in range(int(timeout / 0.5)):
            self.images.publish(msg)
            if self.ros.spin_until(lambda: any(a.header.stamp == stamp for a in self.actions),
                                   timeout=0.5):
                return next(a for a in self.actions if a.header.stamp == stamp)
        raise AssertionError(f'no action answered the frame stamped {stamp}')

    def served(self, source: str, timeout: float = 20.0) -> Action:
        """Answer fresh frames until `source` answers (the instruction may come late)."""
        action = None
        end = self.ros.node.get_clock().now().nanoseconds + int(timeout * 1e9)
        while self.ros.node.get_clock().now().nanoseconds < end:
            action = self.answer(self.frame())
            if action.source == source:
                return action
        raise AssertionError(f'{source} never answered; last answer from {action.source}')


def assert_bounded(action: Action, bound: float = 1.0) -> None:
    """Assert every value of an action is finite and within +-bound."""
    assert all(math.isfinite(v) and abs(v) <= bound for v in action.values), action.values
