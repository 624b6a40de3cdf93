"""runner: the reference's RobotRunner without learning: one action per camera frame.

Topics
  /camera/image_raw  (sensor_msgs/Image, sensor-data QoS)  in
  /robot/action_override (nanobot_msgs/Action, reliable)   in: a person's next action replaces
                                                           the selector's (`override_topic`)
  /robot/action      (nanobot_msgs/Action, reliable)       out: stamped with the frame's stamp

The action comes from a selector chosen by `selector`: constant (`constant_action`), sequence
(`sequence`), or a named sequence: always_move, always_stay, alternate, double_move, triple_move.
Action statistics (distribution, interval mean/median/min/max/std, count) are logged every
`log_interval` actions and reported on /diagnostics.
"""
from nanobot_ros.data.convert import make_action
from nanobot_ros.nodes.common import COMMAND_QOS, NanobotNode, OK, run, SENSOR_QOS, \
    subscribe_override
from nanobot_ros.robots.override import ActionOverride
from nanobot_ros.robots.sim.selectors import make_selector, SELECTOR_NAMES
from nanobot_ros.robots.sim.statistics import ActionStatistics
from nanobot_ros.robots.sim.toroidal_dot import ToroidalDotWorld
from nanobot_msgs.msg import Action
from sensor_msgs.msg import Image


class RunnerNode(NanobotNode):
    """Answers every camera frame with the selector's next action."""

    def __init__(self):
        super().__init__('runner')
        name = self.param('selector', 'always_move', 'one of: ' + ', '.join(SELECTOR_NAMES))
        constant = self.param('constant_action', 1, 'action of the constant selector')
        sequence = self.param('sequence', [1, 0], 'actions the sequence selector cycles through')
        self.log_interval = self.param('log_interval', 100, 'log statistics every N actions')
        self.action_names = list(self.param(
            'action_names', ['action'], 'names of Action.values (the reference\'s action keys)'))
        override_topic = self.param('override_topic', '/robot/action_override',
                                    'a person\'s next action replaces the selector\'s '
                                    '("" = none)')
        if self.log_interval <= 0:
            raise ValueError(f'log_interval must be > 0, got {self.log_interval}')
        self.selector = make_selector(name, ToroidalDotWorld.action_space, constant, sequence)
        self.selector_name = name
        self.stats = ActionStatistics()
        self.action_pub = self.create_publisher(Action, '/robot/action', COMMAND_QOS)
        self.create_subscription(Image, '/camera/image_raw', self._on_frame, SENSOR_QOS)
        self.override = ActionOverride(ToroidalDotWorld.action_space)
        if override_topic:
            subscribe_override(self, self.override, override_topic)
        self.get_logger().info(f'selector {name}')

    def _on_frame(self, frame: Image) -> None:
        overridden = self.override.pending is not None
        action = self.override.take(self.selector(frame)[0])
        self.action_pub.publish(make_action(
            index=action, names=self.action_names, values=[action],
            source='override' if overridden else 'runner', stamp=frame.header.stamp))
        self.stats.record(action)
        if self.stats.count % self.log_interval == 0:
            self.get_logger().info(self._format_stats())

    def _format_stats(self) -> str:
        s = self.stats.summary()
        text = f'{s["action_count"]} actions, distribution {s["action_distribution"]}'
        if 'mean_interval' in s:
            text += (f', interval mean {s["mean_interval"] * 1e3:.1f} ms median '
                     f'{s["median_interval"] * 1e3:.1f} min {s["min_interval"] * 1e3:.1f} max '
                     f'{s["max_interval"] * 1e3:.1f} std {s["std_interval"] * 1e3:.1f}')
        return text

    def status(self):
        """Report the reference's action statistics."""
        values = {'selector': self.selector_name, **self.override.counts()}
        if self.stats.count:
            values.update(self.stats.summary())
        return OK, 'running', values


def main(args=None):
    """Run the runner node."""
    raise SystemExit(run(RunnerNode, args))


if __name__ == '__main__':
    main()
