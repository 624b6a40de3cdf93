"""The live view subscribes to a ROS topic only while a client watches it.

The foxglove node (a real process, over DDS) advertises the camera and a latched status but
holds no subscription on either while no client subscribes; a client's subscription to the
camera's JPEG copy alone brings the camera's subscription; a client subscribing to the status
after it was published once still gets it (latched); a client that disconnects releases both.
"""
import time

import numpy as np

from nanobot_ros import contract
from nanobot_ros.data.bags import make_typestore
from nanobot_ros.data.convert import numpy_to_image
from nanobot_ros.nodes.common import qos_profile
from foxglove_client import FoxgloveClient, free_port
from sensor_msgs.msg import Image
from std_msgs.msg import String

CAMERA, STATUS = contract.IMAGE.fqn(), contract.JETBOT_STATUS.fqn()


def _foxglove_subscriptions(ros) -> tuple:
    """Return the foxglove node's subscriptions on the graph: (on the camera, on the status)."""
    return tuple(sum(i.node_name == 'foxglove'
                     for i in ros.node.get_subscriptions_info_by_topic(t))
                 for t in (CAMERA, STATUS))


def test_topics_are_subscribed_while_a_client_watches_them(ros, nodes):
    camera = ros.node.create_publisher(Image, CAMERA, qos_profile(contract.IMAGE.qos))
    status = ros.node.create_publisher(String, STATUS, qos_profile(contract.JETBOT_STATUS.qos))
    status.publish(String(data='ready'))  # once, before any client
    port = free_port()
    foxglove = nodes.start('foxglove', params={'port': port})
    client = FoxgloveClient(f'ws://127.0.0.1:{port}', timeout=60)
    frame = numpy_to_image(np.zeros((8, 8, 3), np.uint8), 'rgb8')
    received = {f'{CAMERA}/compressed': [], STATUS: []}
    try:
        deadline = time.monotonic() + 30
        while not all(client.channel(t) for t in received) and time.monotonic() < deadline:
            camera.publish(frame)
            ros.spin_for(0.05)
            client.receive(timeout=0.05)
        assert all(client.channel(t) for t in received), nodes.output(foxglove)
        # Advertised, and the node has looked at the graph again since: still no subscription.
        for _ in range(15):
            camera.publish(frame)
            ros.spin_for(0.1)
        assert _foxglove_subscriptions(ros) == (0, 0)

        deadline = time.monotonic() + 30
        while (len(received[f'{CAMERA}/compressed']) < 3 or not received[STATUS]) \
                and time.monotonic() < deadline:
            for topic in received:
                if not client.subscribed(topic):
                    client.subscribe(topic)
            camera.publish(frame)
            ros.spin_for(0.1)
            while (event := client.receive(timeout=0.01)) is not None:
                if event[0] == 'message':
                    received[event[1]].append(event[3])
        assert _foxglove_subscriptions(ros) == (1, 1)
    finally:
        client.close()
    assert len(received[f'{CAMERA}/compressed']) >= 3, nodes.output(foxglove)
    store = make_typestore()
    assert [store.deserialize_cdr(d, 'std_msgs/msg/String').data
            for d in received[STATUS]] == ['ready']
    deadline = time.monotonic() + 10
    while _foxglove_subscriptions(ros) != (0, 0) and time.monotonic() < deadline:
        ros.spin_for(0.1)
    assert _foxglove_subscriptions(ros) == (0, 0)
    assert nodes.stop(foxglove) == 0
