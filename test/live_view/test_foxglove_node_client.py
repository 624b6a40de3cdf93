"""The live view with the client people use: Foxglove's own @foxglove/ws-protocol under Node.

The real sim and foxglove nodes run over DDS; test/node/watch_and_publish.mjs (the npm packages
pinned in test/node/package-lock.json; `npm ci` there installs them) connects, subscribes to the
camera and its JPEG copy, decodes both with the schemas the server advertised, publishes an
instruction of the wrong type (refused, with a status message saying why) and then a right one,
which reaches a ROS subscriber.
"""
import hashlib
import json
import shutil
import socket
import subprocess
import time

from nanobot_ros import contract
from nanobot_ros.nodes.common import qos_profile
from foxglove_client import free_port
from repo_paths import TESTS
from sensor_msgs.msg import Image
from std_msgs.msg import String

NODE_DIR = TESTS / 'node'
CAMERA, INSTRUCTION = contract.IMAGE.fqn(), contract.INSTRUCTION.fqn()


def _wait_listening(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def test_foxglove_ws_protocol_under_node_watches_and_publishes(ros, nodes):
    assert shutil.which('node'), 'Node.js is needed: install nodejs (>= 18)'
    assert (NODE_DIR / 'node_modules' / '@foxglove' / 'ws-protocol').is_dir(), \
        f'the pinned npm packages are missing: run `npm ci` in {NODE_DIR}'
    frames, instructions = {}, []
    ros.node.create_subscription(
        Image, CAMERA, lambda m: frames.setdefault(
            (m.header.stamp.sec, m.header.stamp.nanosec), hashlib.sha256(bytes(m.data))),
        qos_profile(contract.IMAGE.qos))
    ros.node.create_subscription(String, INSTRUCTION, lambda m: instructions.append(m.data),
                                 qos_profile(contract.INSTRUCTION.qos))
    port = free_port()
    nodes.start('sim')
    foxglove = nodes.start('foxglove', params={'port': port})
    assert _wait_listening(port, 60), nodes.output(foxglove)
    # This process hears the camera before the client starts: otherwise, while discovery is
    # slow (a busy machine), the live view relays frames this process never got to compare.
    assert ros.spin_until(lambda: frames, 60)
    client = subprocess.Popen(['node', str(NODE_DIR / 'watch_and_publish.mjs'),
                               f'ws://127.0.0.1:{port}', CAMERA, INSTRUCTION],
                              cwd=NODE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    ros.spin_until(lambda: client.poll() is not None, timeout=90)
    if client.poll() is None:
        client.kill()
    stdout, stderr = client.communicate()
    ros.spin_until(lambda: instructions, timeout=10)
    events = [json.loads(line) for line in stdout.splitlines()]
    assert client.returncode == 0, (stdout, stderr, nodes.output(foxglove))
    by_kind = {}
    for event in events:
        by_kind.setdefault(event['event'], []).append(event)

    assert by_kind['serverInfo'][0]['capabilities'] == ['clientPublish']
    assert by_kind['serverInfo'][0]['encodings'] == ['cdr']
    assert sorted((c['topic'], c['schemaName'], c['encoding'], c['schemaEncoding'])
                  for c in by_kind['channel']) == [
        (CAMERA, 'sensor_msgs/msg/Image', 'cdr', 'ros2msg'),
        (f'{CAMERA}/compressed', 'sensor_msgs/msg/CompressedImage', 'cdr', 'ros2msg')]
    # The image Node decoded is, byte for byte, the frame the sim published with that stamp.
    image = by_kind['image'][0]
    assert (image['height'], image['width'], image['encoding'], image['step']) == \
        (224, 224, 'rgb8', 224 * 3)
    assert image['sha256'] == frames[tuple(image['stamp'])].hexdigest()
    compressed = by_kind['compressed'][0]
    assert compressed['format'] == 'rgb8; jpeg compressed bgr8'
    assert compressed['head'] == [0xFF, 0xD8, 0xFF]  # a JPEG's start-of-image marker
    assert tuple(compressed['stamp']) in frames
    assert compressed['bytes'] < 224 * 224 * 3 / 10
    # The wrong type was refused and the client was told why; the right one got through.
    assert [s['message'] for s in by_kind['status']] == [
        f'client 1: message refused: {INSTRUCTION} carries std_msgs/msg/String, the client '
        f'sent nanobot_msgs/msg/Action']
    assert by_kind['published'] == [{'event': 'published', 'topic': INSTRUCTION,
                                     'data': 'from node'}]
    assert instructions == ['from node']
    assert nodes.stop(foxglove) == 0
