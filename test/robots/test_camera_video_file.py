"""The camera node plays a video file as rgb8 images stamped at capture, with its frame rate."""
import json
import time

from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import CameraInfo, Image

from camera_video import write_video
from nanobot_ros.contract import CAMERA_INFO, DIAGNOSTICS, IMAGE, SENSOR, STATUS
from nanobot_ros.data.convert import image_to_numpy, stamp_to_seconds
from nanobot_ros.nodes.common import qos_profile


def camera_values(reports):
    """Return the camera node's newest /diagnostics values, {} before any."""
    for report in reversed(reports):
        for status in report.status:
            if status.hardware_id == 'camera':
                return {kv.key: parse(kv.value) for kv in status.values}
    return {}


def parse(text):
    """Return a diagnostics value: JSON for numbers, the text itself for strings."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def test_camera_publishes_a_video_file(ros, nodes, tmp_path):
    video = write_video(tmp_path / 'clip.avi', frames=12, width=160, height=120, fps=25.0)
    images, infos, reports = [], [], []
    ros.node.create_subscription(Image, IMAGE.fqn(), images.append, qos_profile(SENSOR))
    ros.node.create_subscription(CameraInfo, CAMERA_INFO.fqn(), infos.append, qos_profile(SENSOR))
    ros.node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(), reports.append,
                                 qos_profile(STATUS))
    camera = nodes.start('camera', params={'source': str(video), 'loop': True, 'width': 64,
                                           'height': 48})
    assert ros.spin_until(lambda: len(images) >= 40, timeout=30), nodes.output(camera)
    received = time.time()

    image = images[-1]
    assert (image.encoding, image.width, image.height, image.step) == ('rgb8', 64, 48, 192)
    assert image.header.frame_id == 'camera'
    rgb = image_to_numpy(image)
    assert rgb[24, 2, 0] > 200 and rgb[24, 2, 2] < 50    # red on the left, in RGB order
    assert rgb[24, 61, 2] > 200 and rgb[24, 61, 0] < 50  # blue on the right
    stamps = [stamp_to_seconds(i.header.stamp) for i in images]
    assert stamps == sorted(stamps) and 0 <= received - stamps[-1] < 1.0  # stamped at capture
    assert {stamp_to_seconds(i.header.stamp) for i in infos} & set(stamps)  # same headers
    assert (infos[-1].width, infos[-1].height) == (64, 48)

    # The measured rate is the file's 25 fps (the file looped several times on the way).
    assert ros.spin_until(lambda: camera_values(reports).get('loops', 0) >= 2, timeout=10)
    values = camera_values(reports)
    assert values['state'] == 'streaming' and values['source_fps'] == 25.0
    assert 18 < values['fps'] < 30, values
    assert nodes.stop(camera) == 0
