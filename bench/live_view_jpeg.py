"""What the live view's JPEG copies cost and save (`./run.sh python bench/live_view_jpeg.py`).

For each picture and JPEG quality: the bytes a client receives per frame as sensor_msgs/Image
(CDR, what the raw channel sends) and as the `<topic>/compressed` sensor_msgs/CompressedImage
(CDR), their ratio, and the time the relay spends making one copy (LiveRelay.compress: decode
the CDR, RGB -> BGR, OpenCV's JPEG encoder, encode the CDR), median of FRAMES on one thread.

Pictures: the sim's 224x224 frame (a white dot on black: what `./run.sh sim` shows), and a
camera-like frame (blurred noise with shapes: texture everywhere, a hard case for JPEG; a real
scene has large smooth areas and compresses at least as well) at 640x480 and resized to
224x224 as the camera node sends it to the world model.
"""
import statistics
import time

import cv2
import numpy as np

from nanobot_ros.data.bags import make_typestore
from nanobot_ros.live_view import IMAGE_TYPE, LiveRelay, LiveViewConfig
from nanobot_ros.robots.sim.toroidal_dot import ToroidalDotWorld

FRAMES = 200
QUALITIES = (50, 80, 95)


def camera_like(height: int = 480, width: int = 640) -> np.ndarray:
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
                             (9, 9), 3)
    cv2.rectangle(frame, (60, 300), (260, 460), (40, 90, 200), -1)
    cv2.circle(frame, (450, 200), 70, (230, 230, 230), -1)
    return frame


def image_cdr(store, pixels: np.ndarray) -> bytes:
    types = store.types
    height, width, _ = pixels.shape
    image = types[IMAGE_TYPE](
        header=types['std_msgs/msg/Header'](
            stamp=types['builtin_interfaces/msg/Time'](sec=1, nanosec=0), frame_id='camera'),
        height=height, width=width, encoding='rgb8', is_bigendian=0, step=width * 3,
        data=pixels.reshape(-1))
    return bytes(store.serialize_cdr(image, IMAGE_TYPE))


def main() -> None:
    store = make_typestore()
    camera = camera_like()
    pictures = {'sim dot 224x224': ToroidalDotWorld().render(),
                'camera-like 224x224': cv2.resize(camera, (224, 224),
                                                  interpolation=cv2.INTER_AREA),
                'camera-like 640x480': camera}
    print(f'{"picture":22} {"quality":>7} {"raw B":>8} {"JPEG B":>8} {"ratio":>6} '
          f'{"encode ms":>9}')
    for name, pixels in pictures.items():
        raw = image_cdr(store, np.ascontiguousarray(pixels, dtype=np.uint8))
        for quality in QUALITIES:
            relay = LiveRelay(LiveViewConfig(port=0, jpeg_quality=quality), print)
            try:
                relay.compress(raw)  # warm-up
                times, size = [], 0
                for _ in range(FRAMES):
                    start = time.perf_counter()
                    size = len(relay.compress(raw))
                    times.append(time.perf_counter() - start)
            finally:
                relay.stop()
            print(f'{name:22} {quality:7d} {len(raw):8d} {size:8d} {len(raw) / size:6.1f} '
                  f'{statistics.median(times) * 1e3:9.2f}')


if __name__ == '__main__':
    main()
