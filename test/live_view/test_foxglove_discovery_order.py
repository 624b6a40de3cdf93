"""The live view relays a topic whose publisher appears after its subscribers.

A recorder or world model started before the camera puts the camera topic on the graph with no
publisher. The foxglove node (a real process, over DDS) must still relay the best-effort camera
that comes later, and the latched status published once by a late transient-local publisher,
to a client that subscribed to both before either publisher existed.
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


def test_publishers_that_come_after_subscribers_are_relayed(ros, nodes):
    # The subscribers come first, reliable and volatile (what a recorder asks before it has
    # seen a publisher).
    seen = []
    ros.node.create_subscription(Image, CAMERA, seen.append, qos_profile(contract.COMMAND))
    ros.node.create_subscription(String, STATUS, seen.append, qos_profile(contract.COMMAND))
    port = free_port()
    foxglove = nodes.start('foxglove', params={'port': port})
    client = FoxgloveClient(f'ws://127.0.0.1:{port}', timeout=60)
    received = {CAMERA: [], STATUS: []}
    try:
        deadline = time.monotonic() + 30
        while not (client.channel(CAMERA) and client.channel(STATUS)) \
                and time.monotonic() < deadline:
            ros.spin_for(0.05)
            client.receive(timeout=0.05)
        assert client.channel(CAMERA) and client.channel(STATUS), nodes.output(foxglove)
        # Let the node look at the graph at least once more with no publisher on either topic.
        ros.spin_for(1.5)

        camera = ros.node.create_publisher(Image, CAMERA, qos_profile(contract.IMAGE.qos))
        status = ros.node.create_publisher(String, STATUS,
                                           qos_profile(contract.JETBOT_STATUS.qos))
        status.publish(String(data='ready'))  # once: only a transient-local reader gets it
        frame = np.zeros((8, 8, 3), np.uint8)
        deadline = time.monotonic() + 30
        while (len(received[CAMERA]) < 3 or not received[STATUS]) \
                and time.monotonic() < deadline:
            for topic in received:
                if not client.subscribed(topic):
                    client.subscribe(topic)
            camera.publish(numpy_to_image(frame, 'rgb8'))
            ros.spin_for(0.1)
            while (event := client.receive(timeout=0.01)) is not None:
                if event[0] == 'message':
                    received[event[1]].append(event[3])
    finally:
        client.close()
    assert len(received[CAMERA]) >= 3, nodes.output(foxglove)
    store = make_typestore()
    image = store.deserialize_cdr(received[CAMERA][0], 'sensor_msgs/msg/Image')
    assert (image.height, image.width, image.encoding) == (8, 8, 'rgb8')
    assert [store.deserialize_cdr(d, 'std_msgs/msg/String').data
            for d in received[STATUS]] == ['ready']
    assert nodes.stop(foxglove) == 0
