"""The live view's engine, without rclpy: a Foxglove WebSocket server relaying ROS messages.

    relay = LiveRelay(LiveViewConfig(port=8765), on_client_message=publish)
    relay.add_topic('/front/image_raw', 'sensor_msgs/msg/Image')
    relay.relay('/front/image_raw', cdr_bytes, log_time_ns)   # from a raw subscription
    relay.url                                                  # ws://127.0.0.1:8765

Every ROS topic becomes a channel with a `ros2msg` schema (the message definition with its
dependencies, as rosbag2's MCAP files carry it) and `cdr` encoding, and the serialized bytes go
out untouched: Foxglove and Lichtblick decode them exactly as they do from foxglove_bridge. The
server speaks the Foxglove WebSocket protocol with the `foxglove.sdk.v1` subprotocol
(`foxglove-sdk`'s server, in Rust, running its own threads).

Plottable numbers: for the types in `NUMBER_TYPES` (world model status, telemetry,
diagnostics) the relay also decodes each message and sends its numeric fields as a JSON object
on `<topic>/numbers`; /diagnostics values are JSON strings in the message, so only there are
they numbers a plot can use (`/diagnostics/numbers.<node>.<value>`).

Client publish: a client may advertise channels on the topics of `client_topics` (e.g. an
instruction and an action override) and send CDR messages on them; each accepted message is
handed to `on_client_message(topic, msgtype, cdr_bytes)`. A message on another topic, with an
unknown type, a type that differs from the topic's, another encoding or bytes that do not
decode is rejected, counted and logged; the server keeps serving.
"""
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
import json
import math
import threading
from typing import Callable, Dict, List, Optional

import foxglove
from foxglove import Channel, Schema
from foxglove.websocket import Capability

from nanobot_ros.contract import ACTION_OVERRIDE, INSTRUCTION
from nanobot_ros.data.bags import make_typestore

NUMBER_TYPES = ('nanobot_msgs/msg/WorldModelStatus', 'nanobot_msgs/msg/Telemetry',
                'diagnostic_msgs/msg/DiagnosticArray')


@dataclass
class LiveViewConfig:
    """Where the server listens and what it relays and accepts."""

    host: str = '127.0.0.1'  # loopback only; 0.0.0.0 serves every interface
    port: int = 8765  # Foxglove's default; 0 = any free port
    # Shell-style patterns (fnmatch): a topic is relayed if it matches one of `topics` and
    # none of `exclude` (ROS parameter files cannot hold an empty list, hence patterns).
    topics: List[str] = field(default_factory=lambda: ['*'])
    exclude: List[str] = field(default_factory=lambda: ['/parameter_events'])
    # What clients may publish; relative names are the node's namespace's.
    client_topics: List[str] = field(default_factory=lambda: [INSTRUCTION.name,
                                                              ACTION_OVERRIDE.name])
    name: str = 'nanobot_ros'

    def validate(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f'port must be 0..65535, got {self.port}')
        if not self.host:
            raise ValueError('host must not be empty (127.0.0.1 = this machine only)')


DESCRIPTIONS = {
    'host': 'address the WebSocket server binds (127.0.0.1 = this machine only; 0.0.0.0 opens '
            'it to the network: anyone who reaches it sees the robot and can command it)',
    'port': 'WebSocket port (Foxglove\'s default 8765; 0 = any free port)',
    'topics': 'patterns of the topics to relay (fnmatch; * = every topic of the graph)',
    'exclude': 'patterns of topics never relayed',
    'client_topics': 'topics a Foxglove client may publish on (instruction, action override)',
    'name': 'server name shown by Foxglove',
}


def message_numbers(message) -> dict:
    """Return the numeric fields of a decoded message, nested as in the message.

    Numeric arrays become lists; strings and other fields are left out; NaN and infinities
    become None (JSON has no such numbers). A plot then reads e.g. `numbers.uncertainty[1]`.
    """
    numbers = {}
    for name in getattr(message, '__dataclass_fields__', {}):
        value = getattr(message, name)
        if isinstance(value, (bool, int, float)):
            numbers[name] = _finite(value)
        elif hasattr(value, '__dataclass_fields__'):
            numbers[name] = message_numbers(value)
        elif hasattr(value, 'dtype') and value.dtype.kind in 'biuf' and value.ndim == 1:
            numbers[name] = [_finite(v) for v in value.tolist()]
    return numbers


def diagnostic_numbers(message) -> dict:
    """Return the /diagnostics values that are numbers as {node: {key: value}} (+ level)."""
    numbers = {}
    for status in message.status:
        values = numbers.setdefault(status.hardware_id or status.name, {})
        values['level'] = float(status.level)
        for pair in status.values:
            try:
                value = json.loads(pair.value)
            except ValueError:
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values[pair.key] = _finite(value)
    return numbers


def _finite(value) -> Optional[float]:
    value = float(value)
    return value if math.isfinite(value) else None


class LiveRelay:
    """A foxglove-sdk WebSocket server with one channel per relayed ROS topic."""

    def __init__(self, config: LiveViewConfig,
                 on_client_message: Callable[[str, str, bytes], None], log=print):
        config.validate()
        self.config = config
        self.on_client_message = on_client_message
        self.log = log
        self.typestore = make_typestore()
        self.context = foxglove.Context()
        self.channels: Dict[str, Channel] = {}
        self.number_channels: Dict[str, Channel] = {}
        self.types: Dict[str, str] = {}
        self.relayed = 0
        self.client_messages = 0
        self.client_rejected = 0
        self._lock = threading.Lock()
        self._client_channels: Dict[tuple, tuple] = {}  # (client, channel) -> (topic, type)
        self.server = foxglove.start_server(
            name=config.name, host=config.host, port=config.port,
            capabilities=[Capability.ClientPublish], supported_encodings=['cdr'],
            server_listener=self, context=self.context)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return f'ws://{self.config.host}:{self.port}'

    def wants(self, topic: str) -> bool:
        """Whether `topic` is to be relayed."""
        return (any(fnmatchcase(topic, p) for p in self.config.topics)
                and not any(fnmatchcase(topic, p) for p in self.config.exclude))

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Advertise `topic`; KeyError when the type is unknown here."""
        definition, _ = self.typestore.generate_msgdef(msgtype, ros_version=2)
        self.channels[topic] = Channel(
            topic, schema=Schema(name=msgtype, encoding='ros2msg', data=definition.encode()),
            message_encoding='cdr', context=self.context)
        self.types[topic] = msgtype
        if msgtype in NUMBER_TYPES:
            self.number_channels[topic] = Channel(f'{topic}/numbers', message_encoding='json',
                                                  context=self.context)

    def relay(self, topic: str, data: bytes, log_time_ns: int) -> None:
        """Send one serialized message of `topic` to the subscribed clients."""
        self.channels[topic].log(data, log_time=log_time_ns)
        self.relayed += 1
        numbers = self.number_channels.get(topic)
        if numbers is not None and numbers.has_sinks():
            message = self.typestore.deserialize_cdr(data, self.types[topic])
            values = (diagnostic_numbers(message)
                      if self.types[topic] == 'diagnostic_msgs/msg/DiagnosticArray'
                      else message_numbers(message))
            numbers.log(values, log_time=log_time_ns)

    def stop(self) -> None:
        self.server.stop()

    def counts(self) -> dict:
        """Counters for /diagnostics."""
        return {'url': self.url, 'topics': sorted(self.channels), 'relayed': self.relayed,
                'client_messages': self.client_messages,
                'client_rejected': self.client_rejected}

    # -- foxglove.websocket.ServerListener (called on the server's threads) ------------------

    def _reject(self, reason: str) -> None:
        with self._lock:
            self.client_rejected += 1
        self.log(f'client message rejected: {reason}')

    def on_client_advertise(self, client, channel) -> None:
        """Remember what a client will publish on (checked when its data comes)."""
        with self._lock:
            self._client_channels[(client.id, channel.id)] = (
                channel.topic, channel.schema_name, channel.encoding)

    def on_client_unadvertise(self, client, client_channel_id: int) -> None:
        with self._lock:
            self._client_channels.pop((client.id, client_channel_id), None)

    def on_message_data(self, client, client_channel_id: int, data: bytes) -> None:
        """Check a client's message and hand it on; reject what cannot be published."""
        with self._lock:
            advertised = self._client_channels.get((client.id, client_channel_id))
        if advertised is None:
            return self._reject(f'channel {client_channel_id} was never advertised')
        topic, msgtype, encoding = advertised
        if topic not in self.config.client_topics:
            return self._reject(f'{topic} is not one of client_topics '
                                f'{self.config.client_topics}')
        if encoding != 'cdr':
            return self._reject(f'{topic}: encoding {encoding!r}, only cdr is accepted')
        known = self.types.get(topic)
        if known is not None and known != msgtype:
            return self._reject(f'{topic} carries {known}, the client sent {msgtype}')
        try:
            self.typestore.deserialize_cdr(data, msgtype)
        except Exception as error:  # noqa: B902 - rosbags raises many kinds on bad bytes
            return self._reject(f'{topic}: not a {msgtype} in CDR ({error!r})')
        with self._lock:
            self.client_messages += 1
        self.on_client_message(topic, msgtype, bytes(data))

    def on_subscribe(self, client, channel) -> None:
        return None

    def on_unsubscribe(self, client, channel) -> None:
        return None
