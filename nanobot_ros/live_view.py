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

Compressed copies: every sensor_msgs/Image topic is also offered as `<topic>/compressed`
(sensor_msgs/CompressedImage, JPEG at `jpeg_quality`, the name and `format` image_transport's
compressed plugin uses), encoded with OpenCV only while a client subscribes to it: a remote
viewer needs a fraction of the raw bytes (docs/seeing.md has the figures).

Slow clients: each client has its own outgoing queue of `client_backlog` messages
(foxglove-sdk's message_backlog_size); when a client reads too slowly the oldest data message
in its queue is dropped, so a stalled viewer neither grows the server's memory beyond about
`client_backlog` messages nor slows the other clients.

Subscribing on demand: a ROS topic is subscribed only while some client subscribes to one of
its channels (the topic, its `/numbers` or its `/compressed`), as foxglove_bridge does, so a live
view nobody watches costs no message traffic (`demanded`; `on_demand(topic)` is called when a
topic's first client comes or its last goes). A subscription's QoS comes from the topic's
publishers (`SubscriptionQos`, rosbag2's rule), and is re-resolved whenever they change: a topic
without a publisher yet is subscribed once one appears, and again when a best-effort or
transient-local publisher would not match the current subscription. A latched
(transient-local) message therefore reaches a client that subscribes after it was sent.

Plottable numbers: for the types in `NUMBER_TYPES` (world model status, telemetry,
diagnostics) the relay also decodes each message and sends its numeric fields as a JSON object
on `<topic>/numbers`; /diagnostics values are JSON strings in the message, so only there are
they numbers a plot can use (`/diagnostics/numbers.<node>.<value>`).

Client publish: a client may advertise channels on the topics of `client_topics` (e.g. an
instruction and an action override) and send CDR messages on them; each accepted message is
handed to `on_client_message(topic, msgtype, cdr_bytes)`. A topic's type is the graph
contract's (nanobot_ros/contract.py), else the type the graph shows: the first client does not
get to decide it. A message on another topic, with another type, another encoding or bytes that
do not decode is rejected, counted and logged, and the clients get a Foxglove status message
that names the client and says why (foxglove-sdk's Python server can only broadcast a status,
so it is addressed by client id); the server keeps serving.
"""
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
import json
import math
import threading
from typing import Callable, Dict, List, Optional

import cv2
import foxglove
from foxglove import Channel, Schema
from foxglove.websocket import Capability, StatusLevel

from nanobot_ros.contract import ACTION_OVERRIDE, compatible_qos, contract_topic, INSTRUCTION, Qos
from nanobot_ros.data.bags import make_typestore
from nanobot_ros.data.convert import image_to_numpy

NUMBER_TYPES = ('nanobot_msgs/msg/WorldModelStatus', 'nanobot_msgs/msg/Telemetry',
                'diagnostic_msgs/msg/DiagnosticArray')
IMAGE_TYPE, COMPRESSED_TYPE = 'sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage'


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
    # JPEG quality of the `<image topic>/compressed` copies (1..100); 0 = no compressed copies.
    jpeg_quality: int = 80
    # Messages queued per client before the oldest is dropped (foxglove_bridge: 1024). A
    # stalled client holds at most this many: 64 sim frames are 9.6 MB, 64 VGA frames 59 MB.
    client_backlog: int = 64

    def validate(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f'port must be 0..65535, got {self.port}')
        if not 0 <= self.jpeg_quality <= 100:
            raise ValueError(f'jpeg_quality must be 0..100 (0 = no compressed copies), got '
                             f'{self.jpeg_quality}')
        if self.client_backlog < 1:
            raise ValueError(f'client_backlog must be >= 1, got {self.client_backlog}')
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
    'jpeg_quality': 'JPEG quality of the <image topic>/compressed copies (1..100; 0 = none)',
    'client_backlog': 'messages queued per client before its oldest is dropped (a slow client '
                      'holds at most this many)',
}


class SubscriptionQos:
    """The QoS each relayed topic is subscribed with, re-resolved as its publishers change.

    A subscription chosen before any publisher existed would be reliable and volatile: it
    never matches a best-effort camera and misses a latched message. So a topic without
    publishers is not subscribed yet, and a topic whose publishers now need another profile
    (rosbag2's rule, `compatible_qos`) is subscribed again.
    """

    def __init__(self, depth: int):
        self.depth = depth
        self.current: Dict[str, Qos] = {}

    def forget(self, topic: str) -> None:
        """`topic` is no longer subscribed: the next `resolve` returns a QoS again."""
        self.current.pop(topic, None)

    def resolve(self, topic: str, publishers) -> Optional[Qos]:
        """Return the QoS to (re)subscribe `topic` with, None to keep what it has.

        `publishers`: one (reliability, durability) pair (rmw numbers or names) per publisher.
        """
        publishers = list(publishers)
        if not publishers:  # nothing to match yet (or any more): keep what there is
            return None
        wanted = compatible_qos([r for r, _ in publishers], [d for _, d in publishers],
                                self.depth)
        if self.current.get(topic) == wanted:
            return None
        self.current[topic] = wanted
        return wanted


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
                 on_client_message: Callable[[str, str, bytes], None], log=print,
                 on_demand: Callable[[str], None] = lambda topic: None):
        config.validate()
        self.config = config
        self.on_client_message = on_client_message
        self.log = log
        self.on_demand = on_demand
        self.typestore = make_typestore()
        self.context = foxglove.Context()
        self.channels: Dict[str, Channel] = {}
        self.number_channels: Dict[str, Channel] = {}
        self.compressed_channels: Dict[str, Channel] = {}
        self.types: Dict[str, str] = {}
        self.relayed = 0
        self.compressed = 0
        self.compress_errors = 0
        self.client_messages = 0
        self.client_rejected = 0
        self._lock = threading.Lock()
        self._client_channels: Dict[tuple, tuple] = {}  # (client, channel) -> (topic, type)
        self._told = set()  # (client, channel): told why its messages are refused
        self._channel_topics: Dict[int, str] = {}  # channel id -> the ROS topic it carries
        self._watchers: Dict[str, set] = {}  # ROS topic -> {(client id, channel id)}
        self.server = foxglove.start_server(
            name=config.name, host=config.host, port=config.port,
            capabilities=[Capability.ClientPublish], supported_encodings=['cdr'],
            server_listener=self, context=self.context,
            message_backlog_size=config.client_backlog)

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
        self.types[topic] = msgtype
        if msgtype in NUMBER_TYPES:
            self.number_channels[topic] = Channel(f'{topic}/numbers', message_encoding='json',
                                                  context=self.context)
        if msgtype == IMAGE_TYPE and self.config.jpeg_quality:
            compressed, _ = self.typestore.generate_msgdef(COMPRESSED_TYPE, ros_version=2)
            self.compressed_channels[topic] = Channel(
                f'{topic}/compressed', schema=Schema(name=COMPRESSED_TYPE, encoding='ros2msg',
                                                     data=compressed.encode()),
                message_encoding='cdr', context=self.context)
        for channels in (self.number_channels, self.compressed_channels):
            if topic in channels:
                self._channel_topics[channels[topic].id()] = topic
        # Advertised last: a client subscribes to it as soon as it is told, and finds every
        # channel of the topic mapped.
        self.channels[topic] = Channel(
            topic, schema=Schema(name=msgtype, encoding='ros2msg', data=definition.encode()),
            message_encoding='cdr', context=self.context)
        self._channel_topics[self.channels[topic].id()] = topic

    def demanded(self, topic: str) -> bool:
        """Whether a client subscribes to one of `topic`'s channels now."""
        with self._lock:
            return bool(self._watchers.get(topic))

    def client_type(self, topic: str) -> Optional[str]:
        """Return the type clients must publish on `topic`: the contract's, else the graph's."""
        known = contract_topic(topic)
        return known.msgtype if known is not None else self.types.get(topic)

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
        compressed = self.compressed_channels.get(topic)
        if compressed is not None and compressed.has_sinks():
            try:
                jpeg = self.compress(data)
            except (ValueError, cv2.error) as error:
                self.compress_errors += 1
                self.log(f'{topic}: no JPEG copy of this image ({error})')
                return
            compressed.log(jpeg, log_time=log_time_ns)
            self.compressed += 1

    def compress(self, image_cdr: bytes) -> bytes:
        """Return a sensor_msgs/Image (CDR) as a JPEG sensor_msgs/CompressedImage (CDR).

        `format` is what image_transport's compressed plugin writes ('rgb8; jpeg compressed
        bgr8'); Foxglove, Lichtblick and rqt_image_view read it. ValueError on a bad image.
        """
        image = self.typestore.deserialize_cdr(image_cdr, IMAGE_TYPE)
        pixels = image_to_numpy(image)
        if image.encoding == 'rgb8':
            pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
        ok, jpeg = cv2.imencode('.jpg', pixels, [cv2.IMWRITE_JPEG_QUALITY,
                                                 self.config.jpeg_quality])
        if not ok:
            raise ValueError(f'OpenCV could not encode a {image.width}x{image.height} '
                             f'{image.encoding} image')
        target = 'mono8' if image.encoding == 'mono8' else 'bgr8'
        types = self.typestore.types
        message = types[COMPRESSED_TYPE](header=image.header,
                                         format=f'{image.encoding}; jpeg compressed {target}',
                                         data=jpeg.reshape(-1))
        return bytes(self.typestore.serialize_cdr(message, COMPRESSED_TYPE))

    def stop(self) -> None:
        self.server.stop()

    def counts(self) -> dict:
        """Counters for /diagnostics."""
        return {'url': self.url, 'topics': sorted(self.channels), 'relayed': self.relayed,
                'compressed': self.compressed, 'compress_errors': self.compress_errors,
                'client_messages': self.client_messages,
                'client_rejected': self.client_rejected}

    # -- foxglove.websocket.ServerListener (called on the server's threads) ------------------

    def _reject(self, client, client_channel_id: int, reason: str) -> None:
        """Count and log a refused client message; tell the client why (once a channel)."""
        with self._lock:
            self.client_rejected += 1
            first = (client.id, client_channel_id) not in self._told
            self._told.add((client.id, client_channel_id))
        self.log(f'client message rejected: {reason}')
        if first:
            self.server.publish_status(f'client {client.id}: message refused: {reason}',
                                       StatusLevel.Error, id=f'refused-{client.id}')

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
            return self._reject(client, client_channel_id,
                                f'channel {client_channel_id} was never advertised')
        topic, msgtype, encoding = advertised
        if topic not in self.config.client_topics:
            return self._reject(client, client_channel_id, f'{topic} is not one of '
                                f'client_topics {self.config.client_topics}')
        if encoding != 'cdr':
            return self._reject(client, client_channel_id,
                                f'{topic}: encoding {encoding!r}, only cdr is accepted')
        expected = self.client_type(topic)
        if expected is None:
            return self._reject(client, client_channel_id, f'{topic}: no type known (not in '
                                f'the graph contract, nothing on the graph uses it yet)')
        if msgtype != expected:
            return self._reject(client, client_channel_id,
                                f'{topic} carries {expected}, the client sent {msgtype}')
        try:
            self.typestore.deserialize_cdr(data, msgtype)
        except Exception as error:  # noqa: B902 - rosbags raises many kinds on bad bytes
            return self._reject(client, client_channel_id,
                                f'{topic}: not a {msgtype} in CDR ({error!r})')
        with self._lock:
            self.client_messages += 1
        self.on_client_message(topic, msgtype, bytes(data))

    def on_subscribe(self, client, channel) -> None:
        """Count the client on the channel's topic; the topic's first client demands it."""
        self._watch(client, channel, True)

    def on_unsubscribe(self, client, channel) -> None:
        """Also called when a client disconnects: its last subscription releases the topic."""
        self._watch(client, channel, False)

    def _watch(self, client, channel, subscribed: bool) -> None:
        topic = self._channel_topics.get(channel.id)
        if topic is None:
            return
        with self._lock:
            watchers = self._watchers.setdefault(topic, set())
            before = bool(watchers)
            (watchers.add if subscribed else watchers.discard)((client.id, channel.id))
            changed = before != bool(watchers)
        if changed:
            self.on_demand(topic)
