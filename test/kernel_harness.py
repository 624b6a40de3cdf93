"""Publishers and a recorder of /robot/action for the kernel and policy node tests.

KERNELS: every kernel implementation the kernel tests run against, the Python one and the
Rust one (kernel/) with each of its backends, all under the node name 'kernel'.
"""
import math
from pathlib import Path

import numpy as np

from nanobot_ros.contract import ACTION, COMMAND, IMAGE, INSTRUCTION, SENSOR
from nanobot_ros.data.convert import numpy_to_image
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Action
from sensor_msgs.msg import Image
from std_msgs.msg import String


# impl -> (executable, extra parameters, suffix of the file of the export the kernel reads)
KERNELS = {'python': ('kernel', {}, '.onnx'),
           'rust-ort': ('nanobot_kernel', {'backend': 'ort'}, '.onnx'),
           'rust-candle': ('nanobot_kernel', {'backend': 'candle'}, '.safetensors')}


def start_kernel(nodes, impl: str, params: dict):
    """Start kernel implementation `impl` (a key of KERNELS) with `params`."""
    executable, extra, _ = KERNELS[impl]
    return nodes.start('kernel', params={**params, **extra}, executable=executable)


def model_file(impl: str, onnx_path: Path) -> Path:
    """Return the file of the export at `onnx_path` that kernel `impl` loads and watches."""
    return Path(onnx_path).with_suffix(KERNELS[impl][2])


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
        """Answer fresh frames until `source` answers (the instruction may come late).

        Each frame is offered for 0.5 s only, so none is stale when it is answered (a node
        still discovering the publisher would otherwise log "frame is stale" here).
        """
        action = None
        end = self.ros.node.get_clock().now().nanoseconds + int(timeout * 1e9)
        while self.ros.node.get_clock().now().nanoseconds < end:
            try:
                action = self.answer(self.frame(), timeout=0.5)
            except AssertionError:
                continue
            if action.source == source:
                return action
        raise AssertionError(f'{source} never answered; last answer from '
                             f'{action.source if action else "nobody"}')


def assert_bounded(action: Action, bound: float = 1.0) -> None:
    """Assert every value of an action is finite and within +-bound."""
    assert all(math.isfinite(v) and abs(v) <= bound for v in action.values), action.values
