"""Small bags for the bag, dataset and replay tests, written with the project's BagWriter."""
from pathlib import Path
import time

import numpy as np

from nanobot_ros.contract import ACTION, DIAGNOSTICS, IMAGE, INSTRUCTION, STATUS, TELEMETRY
from nanobot_ros.data.bag_writer import BagWriter
from nanobot_ros.data.bags import make_typestore

SHARED = Path(__file__).resolve().parents[2] / 'shared'
FIXTURES = SHARED / 'fixtures' / 'rosbag2'
START_NS = 1_700_000_000 * 1_000_000_000
FRAME_NS = 100_000_000  # 10 Hz


def rosbag2_fixture(name: str) -> Path:
    """Return a bag recorded by ROS 2's rosbag2; fail clearly without ../shared."""
    path = FIXTURES / name
    assert path.exists(), f'{path} missing: the tests need the shared folder beside the clone'
    return path


def _header(store, t_ns: int, frame_id: str = ''):
    types = store.types
    stamp = types['builtin_interfaces/msg/Time'](sec=t_ns // 10**9, nanosec=t_ns % 10**9)
    return types['std_msgs/msg/Header'](stamp=stamp, frame_id=frame_id)


def frame(step: int, size: int = 16) -> np.ndarray:
    """Return the rgb frame of step `step`: a white column at x = step (mod size)."""
    image = np.zeros((size, size, 3), np.uint8)
    image[:, step % size] = 255
    return image


SESSION_TOPICS = (IMAGE, ACTION, TELEMETRY, INSTRUCTION)


def session_messages(store, steps: int = 10, start_step: int = 0,
                     instruction: str = 'move right', namespace: str = '/'):
    """Yield a sim-like session's (topic, log time ns, rosbags message) in log-time order.

    One instruction first ('' = none), then per step i: telemetry, frame i, and the action
    answering it (same header.stamp), index = i % 2, values [i % 2 * 0.12]; the topics in
    `namespace`, as a stack there records them.
    """
    types = store.types
    if instruction:
        yield INSTRUCTION.fqn(namespace), START_NS - 1, types['std_msgs/msg/String'](
            data=instruction)
    for i in range(start_step, start_step + steps):
        t = START_NS + i * FRAME_NS
        pixels = frame(i)
        yield TELEMETRY.fqn(namespace), t - 1000, types['nanobot_msgs/msg/Telemetry'](
            header=_header(store, t - 1000), sequence=i, names=['speed'],
            values=np.array([float(i)], np.float32))
        yield IMAGE.fqn(namespace), t, types['sensor_msgs/msg/Image'](
            header=_header(store, t, 'camera'), height=pixels.shape[0],
            width=pixels.shape[1], encoding='rgb8', is_bigendian=0,
            step=pixels.shape[1] * 3, data=pixels.reshape(-1))
        yield ACTION.fqn(namespace), t + 5_000_000, types['nanobot_msgs/msg/Action'](
            header=_header(store, t), index=i % 2, names=['motor_right'],
            values=np.array([0.12 * (i % 2)], np.float32), duration=0.2, source='test')


def write_session_bag(path: Path, steps: int = 10, storage: str = 'mcap', start_step: int = 0,
                      instruction: str = 'move right', namespace: str = '/',
                      **compression) -> Path:
    """Write the `session_messages` (topics in `namespace`) into one bag at `path`.

    `compression`: BagWriter's chunk_compression / compression_mode (rosbags' writer).
    """
    store = make_typestore()
    with BagWriter(path, storage=storage, typestore=store,
                   custom_data={'nanobot.robot_type': 'toroidal_dot'}, **compression) as bag:
        for topic in SESSION_TOPICS:
            bag.add_topic(topic.fqn(namespace), topic.msgtype)
        for topic, time_ns, msg in session_messages(store, steps, start_step, instruction,
                                                    namespace):
            bag.write_message(topic, time_ns, msg)
    return path


def write_count_bag(path: Path, count: int = 20, spacing_ns: int = FRAME_NS,
                    topic: str = '/count') -> Path:
    """Write `count` std_msgs/String messages 'm0', 'm1', ... `spacing_ns` apart on `topic`."""
    store = make_typestore()
    with BagWriter(path, typestore=store) as bag:
        bag.add_topic(topic, 'std_msgs/msg/String')
        for i in range(count):
            bag.write_message(topic, START_NS + i * spacing_ns,
                              store.types['std_msgs/msg/String'](data=f'm{i}'))
    return path


class Diagnostics:
    """The newest diagnostics values of each node in `namespace`, as the stack runner has them."""

    def __init__(self, ros, namespace: str = '/'):
        import json
        from diagnostic_msgs.msg import DiagnosticArray
        from nanobot_ros.nodes.common import qos_profile
        self.reports = {}

        def parse(text):
            try:
                return json.loads(text)
            except ValueError:
                return text

        def on_report(msg):
            for status in msg.status:
                self.reports[status.hardware_id] = (
                    status.level, status.message,
                    {kv.key: parse(kv.value) for kv in status.values})
        ros.node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(namespace), on_report,
                                     qos_profile(STATUS))

    def values(self, node: str) -> dict:
        """Return the newest values `node` reported ({} before its first report)."""
        return self.reports.get(node, (None, '', {}))[2]

    def recorder(self, output_dir) -> dict:
        """Return the recorder's newest values if it writes below `output_dir`, else {}."""
        values = self.values('recorder')
        return values if str(values.get('bag', '')).startswith(str(output_dir)) else {}


def wait_for_subscribers(ros, publishers, timeout: float = 20.0) -> None:
    """Spin until every publisher has a subscriber (a recorder found the topics)."""
    assert ros.spin_until(lambda: all(p.get_subscription_count() for p in publishers),
                          timeout), 'the recorder never subscribed'


def wait_for_recorder(ros, diagnostics, output_dir, topics: int, timeout: float = 30.0):
    """Spin until the recorder writing below `output_dir` reports `topics` subscriptions."""
    def ready():
        return len(diagnostics.recorder(output_dir).get('subscribed', [])) == topics
    assert ros.spin_until(ready, timeout), f'no recorder subscribed below {output_dir}'
    ros.spin_for(0.5)  # let DDS match both ends


def call_trigger(ros, service: str):
    """Call std_srvs/Trigger `service` (e.g. /recorder/split); return the response."""
    from std_srvs.srv import Trigger
    client = ros.node.create_client(Trigger, service)
    assert client.wait_for_service(timeout_sec=20.0), service
    future = client.call_async(Trigger.Request())
    assert ros.spin_until(future.done, 10.0)
    return future.result()


def make_image(pixels: np.ndarray, sequence: int, stamp):
    """Return an rclpy sensor_msgs/Image of `pixels` with frame_id = sequence."""
    from nanobot_ros.data.convert import numpy_to_image
    msg = numpy_to_image(pixels, 'rgb8')
    msg.header.stamp = stamp
    msg.header.frame_id = str(sequence)
    return msg


def make_telemetry(sequence: int, stamp):
    """Return an rclpy Telemetry with two named values derived from `sequence`."""
    from nanobot_msgs.msg import Telemetry
    msg = Telemetry(sequence=sequence, names=['speed', 'angle'],
                    values=[float(sequence), -0.5 * sequence])
    msg.header.stamp = stamp
    return msg


BLOB_PAYLOAD = bytes(20_000)  # a 20 kB std_msgs/UInt8MultiArray for the recorder engine


def engine_recorder(root, robot_type: str, **overrides):
    """Return a SessionRecorder (the recorder node's engine, no ROS) with one topic, /blob.

    Uncompressed unless `overrides` say otherwise: the blobs are zeros, which zstd shrinks a
    thousandfold, and the disk tests need bytes on disk to be the bytes put.
    """
    from nanobot_ros.data.recording import RecorderConfig, SessionRecorder
    config = RecorderConfig(root=root, robot_type=robot_type,
                            **{'min_free_gb': 0.0, 'compression': 'none', **overrides})
    recorder = SessionRecorder(config, log=lambda text: None)
    recorder.add_topic('/blob', 'std_msgs/msg/UInt8MultiArray')
    return recorder


def put_blobs(recorder, count: int, pause_s: float = 0.001) -> None:
    """Hand `count` BLOB_PAYLOAD messages to the recorder, `pause_s` apart."""
    # A UInt8MultiArray CDR: header(4) + layout (dim count 0, data_offset 0) + data.
    cdr = (b'\x00\x01\x00\x00' + bytes(8) + len(BLOB_PAYLOAD).to_bytes(4, 'little')
           + BLOB_PAYLOAD)
    for _ in range(count):
        assert recorder.put('/blob', time.time_ns(), cdr)
        time.sleep(pause_s)


def wait_written(recorder, count: int, timeout: float = 20.0) -> None:
    """Wait until the recorder's writer thread wrote `count` messages (or the timeout)."""
    end = time.monotonic() + timeout
    while recorder.counts()['written'] < count and time.monotonic() < end:
        time.sleep(0.05)
