"""runner: the reference's RobotRunner without learning: one action per camera frame.

Topics (relative: in the node's namespace; docs/graph.md)
  camera/image_raw   (sensor_msgs/Image, sensor-data QoS)  in
  robot/action_override (nanobot_msgs/Action, reliable)    in: a person's next action replaces
                                                           the selector's (`override_topic`)
  robot/action       (nanobot_msgs/Action, reliable)       out: stamped with the frame's stamp

The action comes from a selector chosen by `selector`: constant (`constant_action`), sequence
(`sequence`), or a named sequence: always_move, always_stay, alternate, double_move, triple_move.
Action statistics (distribution, interval mean/median/min/max/std, count) are logged every
`log_interval` actions and reported on /diagnostics.
"""
from nanobot_ros.data.convert import make_action
from nanobot_ros.contract import ACTION, IMAGE
from nanobot_ros.nodes.common import NanobotNode, OK, qos_profile, run, subscribe_override
from nanobot_ros.robots.override import ActionOverride
from nanobot_ros.robots.sim.selectors import RunnerConfig, SELECTOR_NAMES, SelectorConfig
from nanobot_ros.robots.sim.statistics import ActionStatistics
from nanobot_ros.robots.sim.toroidal_dot import ToroidalDotWorld
from nanobot_msgs.msg import Action
from sensor_msgs.msg import Image

DESCRIPTIONS = {
    'selector': 'one of: ' + ', '.join(SELECTOR_NAMES),
    'constant_action': 'action of the constant selector',
    'sequence': 'actions the sequence selector cycles through',
    'log_interval': 'log statistics every N actions',
    'action_names': 'names of Action.values (the reference\'s action keys)',
    'override_topic': 'a person\'s next action (Action.index) replaces the selector\'s '
                      '("" = none)',
}


class RunnerNode(NanobotNode):
    """Answers every camera frame with the selector's next action."""

    def __init__(self):
        super().__init__('runner')
        choice = SelectorConfig(**self.declare_config(SelectorConfig, DESCRIPTIONS))
        output = RunnerConfig(**self.declare_config(RunnerConfig, DESCRIPTIONS))
        self.log_interval, self.action_names = output.log_interval, output.action_names
        self.selector = choice.make(ToroidalDotWorld.action_space)
        self.selector_name = name = choice.selector
        self.stats = ActionStatistics()
        self.action_pub = self.create_publisher(Action, ACTION.name, qos_profile(ACTION))
        self.create_subscription(Image, IMAGE.name, self._on_frame, qos_profile(IMAGE))
        self.override = ActionOverride(ToroidalDotWorld.action_space)
        if output.override_topic:
            subscribe_override(self, self.override, output.override_topic)
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
