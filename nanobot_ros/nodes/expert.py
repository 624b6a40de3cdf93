"""expert: the scripted demonstrator of the target task, as a controller node.

Topics (relative: in the node's namespace; docs/graph.md)
  camera/image_raw   (sensor_msgs/Image, sensor-data QoS)      in: the view
  instruction        (std_msgs/String, reliable, latched)       in: "go to the <colour> marker",
                                                                or two colours in order
  robot/action       (nanobot_msgs/Action, reliable)            out: answers every frame

It sees only what a policy sees (image and instruction) and answers each frame with the action
of `robots/sim/task_family.family_expert_action` (towards the first named marker still in view;
for one colour, `target_task.expert_action`), stamped with the frame's time, as index plus the (dx,
dy) move. Recording /camera/image_raw, /instruction and /robot/action while it drives the sim
gives the demonstrations the trainer learns from. A frame it cannot read gets "stay" and a
throttled warning. Before the first instruction it does not answer at all, so no demonstration
of "stay while the target is unknown" is recorded and the sim's budget is not spent (the sim's
watchdog holds the dot meanwhile).
"""
from nanobot_ros.data.convert import image_to_numpy, make_action, to_rgb
from nanobot_ros.contract import ACTION, IMAGE, INSTRUCTION
from nanobot_ros.nodes.common import NanobotNode, OK, qos_profile, run, WARN
from nanobot_ros.robots.sim.target_task import ExpertConfig, MARKER_COLORS
from nanobot_ros.robots.sim.task_family import family_expert_action, parse_waypoints
from nanobot_ros.robots.sim.toroidal_dot import ACTION_VECTORS, STAY
from nanobot_msgs.msg import Action
from sensor_msgs.msg import Image
from std_msgs.msg import String

ACTION_VALUE_NAMES = ('dx', 'dy')


class ExpertNode(NanobotNode):
    """Answers each camera frame with the scripted expert's action."""

    def __init__(self):
        super().__init__('expert')
        self.move_pixels = ExpertConfig(**self.declare_config(ExpertConfig, {
            'move_pixels': 'cell size of the task world (px)'})).move_pixels
        self.target = None
        self.waypoints = []
        self.answered = 0
        self.unreadable = 0
        self.pub = self.create_publisher(Action, ACTION.name, qos_profile(ACTION))
        self.create_subscription(Image, IMAGE.name, self._on_image, qos_profile(IMAGE))
        self.create_subscription(String, INSTRUCTION.name, self._on_instruction,
                                 qos_profile(INSTRUCTION))

    def _on_instruction(self, msg: String) -> None:
        self.waypoints = parse_waypoints(msg.data, tuple(MARKER_COLORS))
        self.target = ', then '.join(self.waypoints) or None
        if self.target is None:
            self.get_logger().warning(f'instruction {msg.data!r} names no marker colour')

    def _on_image(self, msg: Image) -> None:
        if self.target is None:
            self.get_logger().info('waiting for an instruction', throttle_duration_sec=5.0)
            return
        action = STAY
        try:
            image = to_rgb(image_to_numpy(msg), msg.encoding)
        except ValueError as error:
            self.unreadable += 1
            self.get_logger().warning(f'unreadable frame, staying: {error}',
                                      throttle_duration_sec=5.0)
            image = None
        if image is not None:
            action = family_expert_action(image, self.waypoints, self.move_pixels)
        self.pub.publish(make_action(action, ACTION_VALUE_NAMES, ACTION_VECTORS[action],
                                     source='expert', stamp=msg.header.stamp))
        self.answered += 1

    def status(self):
        """Report the target and how many frames were answered."""
        values = {'answered': self.answered, 'unreadable': self.unreadable,
                  'target': self.target or ''}
        if self.target is None:
            return WARN, 'no instruction yet: not answering', values
        return OK, f'going to the {self.target} marker', values


def main(args=None):
    """Run the expert node."""
    raise SystemExit(run(ExpertNode, args))


if __name__ == '__main__':
    main()
