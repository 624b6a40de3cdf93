"""Bad frames are rejected and counted; the world model keeps running and answers good ones."""
import numpy as np
from sensor_msgs.msg import Image

from nanobot_msgs.msg import WorldModelStatus
from nanobot_ros.contract import IMAGE, SENSOR, STATUS, WORLD_MODEL_STATUS
from nanobot_ros.data.convert import numpy_to_image
from nanobot_ros.nodes.common import qos_profile
from world_model_node_params import small_world_model


def bad_frames():
    wrong_size = numpy_to_image(np.zeros((32, 32, 3), dtype=np.uint8))
    nan_float = Image(height=224, width=224, encoding='32FC1', step=224 * 4,
                      data=np.full((224, 224), np.nan, dtype=np.float32).tobytes())
    truncated = numpy_to_image(np.zeros((224, 224, 3), dtype=np.uint8))
    truncated.data = truncated.data[:1000]
    return [wrong_size, nan_float, truncated]


def test_bad_frames_are_rejected_counted_and_survived(ros, nodes):
    statuses = []
    ros.node.create_subscription(WorldModelStatus, WORLD_MODEL_STATUS.fqn(), statuses.append,
                                 qos_profile(STATUS))
    camera = ros.node.create_publisher(Image, IMAGE.fqn(), qos_profile(SENSOR))
    world_model = nodes.start('world_model', params=small_world_model())
    assert ros.spin_until(lambda: camera.get_subscription_count() > 0, timeout=60)
    good = numpy_to_image(np.zeros((224, 224, 3), dtype=np.uint8))
    # Resend until the node is up and answering (best-effort: the first may be lost).
    for _ in range(50):
        camera.publish(good)
        if ros.spin_until(lambda: statuses, timeout=0.5):
            break
    assert statuses, nodes.output(world_model)[-3000:]
    for frame in bad_frames():
        camera.publish(frame)
        ros.spin_for(0.2)
    seen = len(statuses)
    camera.publish(good)
    assert ros.spin_until(lambda: len(statuses) > seen and statuses[-1].frames_rejected >= 3,
                          timeout=20), [s.frames_rejected for s in statuses]
    assert world_model.poll() is None
    assert statuses[-1].frames_rejected == 3
    assert 'rejected frame' in nodes.output(world_model)
