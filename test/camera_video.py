"""Video files for the camera tests, written with OpenCV's VideoWriter (MJPG in AVI)."""
from pathlib import Path

import cv2
import numpy as np

RED_BGR, BLUE_BGR = (0, 0, 255), (255, 0, 0)


def write_video(path: Path, frames: int = 10, width: int = 160, height: int = 120,
                fps: float = 30.0) -> Path:
    """Write `frames` frames: left half red, right half blue, a grey bar that moves down."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps, (width, height))
    assert writer.isOpened(), 'OpenCV cannot write MJPG/AVI here'
    for i in range(frames):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:, :width // 2] = RED_BGR
        frame[:, width // 2:] = BLUE_BGR
        row = (i * 7) % (height - 4)
        frame[row:row + 4] = 128
        writer.write(frame)
    writer.release()
    return path
