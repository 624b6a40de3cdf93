"""foxglove: the live view, a Foxglove WebSocket server; a topic is relayed while a client watches.

Open it in Foxglove or Lichtblick ("Open connection" -> Foxglove WebSocket ->
ws://127.0.0.1:8765) and load config/foxglove_layout.json: camera, world model images, status
plots, diagnostics, and a Publish panel for the action override. See docs/seeing.md.

Topics: every topic of the graph (or `topics`), found and advertised once a second and relayed
as its rclpy serialized bytes (`ros2msg` schema, `cdr` encoding: what foxglove_bridge sends);
numeric fields of status, telemetry and diagnostics also as JSON on `<topic>/numbers`; images
also as JPEG on `<topic>/compressed`. A topic is subscribed only while a client watches one of
its channels (foxglove_bridge's rule: with no client the node takes no messages at all), with
the QoS of its publishers, checked every second: subscribed once one appears, again when one
would not match. Out: what a client publishes on
`client_topics` (an instruction, an action override; the graph contract's type), republished
as is.
The engine is nanobot_ros/live_view.py; this node only wires it to the graph.
"""
from collections import deque
from dataclasses import replace
import queue
import time

from nanobot_ros.contract import COMMAND, INSTRUCTION
from nanobot_ros.live_view import DESCRIPTIONS, LiveRelay, LiveViewConfig, SubscriptionQos
from nanobot_ros.nodes.common import message_class, NanobotNode, OK, qos_profile, run, WARN

SUBSCRIPTION_DEPTH = 10  # a viewer wants the newest, not a backlog
PUBLISHER_WARMUP_S = 1.0  # DDS matches a new publisher with its subscribers in well under this


class FoxgloveNode(NanobotNode):
    """Subscribes to the graph's topics raw and hands them to a LiveRelay."""

    def __init__(self):
        super().__init__('foxglove')
        config = LiveViewConfig(**self.declare_config(LiveViewConfig, DESCRIPTIONS))
        # Relative client topics are this node's namespace's (a robot's instruction, override).
        config = replace(config, client_topics=[self.topic_name(t) for t in config.client_topics])
        # A client's instruction is latched like every instruction; other client topics are
        # commands.
        self.client_qos = {self.topic_name(INSTRUCTION.name): INSTRUCTION.qos}
        # Filled on the server's threads, which wake the ROS thread: an idle live view does
        # nothing (a 100 Hz polling timer cost 5 % of a core).
        self.client_messages = queue.SimpleQueue()
        self.demand_changes = queue.SimpleQueue()  # topics a client began or stopped watching
        self.wake = self.create_guard_condition(self._serve_clients)
        self.retry = None  # a timer while client messages wait for their publisher
        self.pending = deque()
        try:
            self.relay = LiveRelay(config, self._on_client_message, self.get_logger().warning,
                                   self._on_demand)
        except RuntimeError as error:  # the port is taken, the host is no local address
            raise ValueError(f'cannot serve on {config.host}:{config.port}: {error}') from None
        self.subscribed = {}
        self.subscription_qos = SubscriptionQos(SUBSCRIPTION_DEPTH)
        self.unknown_types = {}
        self.publishers_by_topic = {}
        self.create_timer(1.0, self._discover)
        self.get_logger().info(f'live view on {self.relay.url} (Foxglove / Lichtblick: open a '
                               f'Foxglove WebSocket connection to it)')

    def _discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic in self.unknown_types or not self.relay.wants(topic):
                continue
            if topic not in self.relay.types and not self._advertise(topic, types[0]):
                continue
            self._follow(topic)

    def _follow(self, topic: str) -> None:
        """Subscribe `topic` while a client watches it, with its publishers' QoS; else not."""
        if not self.relay.demanded(topic):
            if topic in self.subscribed:
                self.destroy_subscription(self.subscribed.pop(topic))
                self.subscription_qos.forget(topic)
            return
        publishers = [(int(i.qos_profile.reliability), int(i.qos_profile.durability))
                      for i in self.get_publishers_info_by_topic(topic)]
        qos = self.subscription_qos.resolve(topic, publishers)
        if qos is None:
            return
        if topic in self.subscribed:
            self.destroy_subscription(self.subscribed.pop(topic))
            self.get_logger().info(f'{topic}: subscribed again, {qos.reliability} '
                                   f'{qos.durability}, to match its publishers')
        self.subscribed[topic] = self.create_subscription(
            message_class(self.relay.types[topic]), topic,
            lambda data, topic=topic: self.relay.relay(
                topic, data, self.get_clock().now().nanoseconds),
            qos_profile(qos), raw=True)

    def _advertise(self, topic: str, msgtype: str) -> bool:
        """Offer `topic` to clients; False (and remembered) when its type is unknown here."""
        try:
            message_class(msgtype)
            self.relay.add_topic(topic, msgtype)
        except (ImportError, AttributeError, KeyError) as error:
            self.unknown_types[topic] = msgtype
            self.get_logger().warning(f'not relaying {topic}: type {msgtype} unknown here '
                                      f'({error!r})')
            return False
        if topic in self.relay.config.client_topics:  # ready before a client sends
            self._publisher(topic, self.relay.client_type(topic))
        return True

    def _publisher(self, topic: str, msgtype: str):
        """Return the publisher of a client topic, created on first use."""
        if topic not in self.publishers_by_topic:
            self.publishers_by_topic[topic] = (self.create_publisher(
                message_class(msgtype), topic, qos_profile(self.client_qos.get(topic, COMMAND))),
                time.monotonic())
        return self.publishers_by_topic[topic]

    def _on_client_message(self, *message) -> None:
        self.client_messages.put(message)
        self.wake.trigger()

    def _on_demand(self, topic: str) -> None:
        self.demand_changes.put(topic)
        self.wake.trigger()

    def _serve_clients(self) -> None:
        """Follow the clients' subscriptions, then republish what they sent."""
        while not self.demand_changes.empty():
            self._follow(self.demand_changes.get())
        self._publish_client_messages()

    def _publish_client_messages(self) -> None:
        """Republish what clients sent (checked by the relay) on the ROS thread.

        A new publisher's messages wait PUBLISHER_WARMUP_S, until DDS has matched it with the
        subscribers, so the first override is not lost.
        """
        while not self.client_messages.empty():
            self.pending.append(self.client_messages.get())
        while self.pending:
            topic, msgtype, data = self.pending[0]
            try:
                publisher, created = self._publisher(topic, msgtype)
            except (ImportError, AttributeError):
                self.pending.popleft()
                self.get_logger().warning(f'cannot publish {topic}: no {msgtype} here',
                                          throttle_duration_sec=5.0)
                continue
            waited = time.monotonic() - created
            if waited < PUBLISHER_WARMUP_S:
                if self.retry is None:
                    self.retry = self.create_timer(PUBLISHER_WARMUP_S - waited, self._retry)
                return
            publisher.publish(data)
            self.pending.popleft()

    def _retry(self) -> None:
        """Once: publish what waited for its publisher to be matched."""
        self.destroy_timer(self.retry)
        self.retry = None
        self._serve_clients()

    def status(self):
        """Report the address, relayed topics and client traffic."""
        values = dict(self.relay.counts(), unknown_types=self.unknown_types,
                      client_publishers=sorted(self.publishers_by_topic),
                      subscribed=sorted(self.subscribed))
        if self.unknown_types:
            return WARN, f'serving {values["url"]}; not relayed (unknown types): ' \
                f'{sorted(self.unknown_types)}', values
        return OK, f'serving {values["url"]}', values

    def on_shutdown(self) -> None:
        """Report, then close the server."""
        super().on_shutdown()
        self.relay.stop()


def main(args=None):
    """Run the foxglove node."""
    raise SystemExit(run(FoxgloveNode, args))


if __name__ == '__main__':
    main()
