"""A Foxglove WebSocket protocol client for tests, written against the protocol itself.

The subprotocol is `foxglove.sdk.v1` (what foxglove-sdk's server accepts; the older name
foxglove.websocket.v1 is refused). Text frames are JSON ops; binary frames start with an
opcode byte: server -> client 0x01 message data (u32 subscription id, u64 log time ns,
payload); client -> server 0x01 message data (u32 client channel id, payload). Little endian.

A subscription the server refuses (an error status `Unknown channel ID: <id>`: foxglove-sdk
0.30.3 answered so once in ~10 runs of the sim stack, for a channel it had just advertised) is
forgotten, so `subscribed()` is false again and the caller subscribes anew, as a viewer does
when it sees the error; `refused` counts them.
"""
import json
import socket
import struct
import time

from websockets.sync.client import connect

SUBPROTOCOL = 'foxglove.sdk.v1'


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 now (for a server started next)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class FoxgloveClient:
    """Connects, tracks advertised channels, subscribes, receives and publishes."""

    def __init__(self, url: str, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.ws = connect(url, subprotocols=[SUBPROTOCOL], open_timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.server_info = None
        self.channels = {}  # id -> advertised channel (dict)
        self.subscriptions = {}  # subscription id -> channel id
        self.next_subscription = 1
        self.client_channels = {}  # topic -> client channel id
        self.refused = 0

    def channel(self, topic: str):
        return next((c for c in self.channels.values() if c['topic'] == topic), None)

    def subscribed(self, topic: str) -> bool:
        channel = self.channel(topic)
        return channel is not None and channel['id'] in self.subscriptions.values()

    def subscribe(self, topic: str) -> None:
        channel = self.channel(topic)
        sub_id = self.next_subscription
        self.next_subscription += 1
        self.subscriptions[sub_id] = channel['id']
        self.ws.send(json.dumps({'op': 'subscribe',
                                 'subscriptions': [{'id': sub_id, 'channelId': channel['id']}]}))

    def receive(self, timeout: float = 1.0):
        """Return ('json', op dict) or ('message', topic, log_time_ns, payload) or None."""
        try:
            frame = self.ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        if isinstance(frame, str):
            op = json.loads(frame)
            if op['op'] == 'serverInfo':
                self.server_info = op
            elif op['op'] == 'advertise':
                self.channels.update({c['id']: c for c in op['channels']})
            elif op['op'] == 'unadvertise':
                for channel_id in op['channelIds']:
                    self.channels.pop(channel_id, None)
            elif op['op'] == 'status' and op['message'].startswith('Unknown channel ID: '):
                refused = int(op['message'].rsplit(' ', 1)[1])
                self.subscriptions = {s: c for s, c in self.subscriptions.items()
                                      if c != refused}
                self.refused += 1
            return ('json', op)
        assert frame[0] == 0x01, f'unexpected binary opcode {frame[0]}'
        sub_id, log_time = struct.unpack_from('<IQ', frame, 1)
        channel = self.channels.get(self.subscriptions.get(sub_id))
        if channel is None:  # sent before the server heard of an unsubscribe or unadvertise
            return ('stale', sub_id)
        return ('message', channel['topic'], log_time, bytes(frame[13:]))

    def advertise(self, topic: str, schema_name: str) -> None:
        channel_id = len(self.client_channels) + 1
        self.client_channels[topic] = channel_id
        self.ws.send(json.dumps({'op': 'advertise', 'channels': [
            {'id': channel_id, 'topic': topic, 'encoding': 'cdr', 'schemaName': schema_name}]}))

    def publish(self, topic: str, payload: bytes) -> None:
        self.ws.send(b'\x01' + struct.pack('<I', self.client_channels[topic]) + payload)

    def close(self) -> None:
        self.ws.close()
