"""Find the toroidal dot's column in a sim frame (shared by the node tests)."""
import numpy as np

from nanobot_ros.data.convert import image_to_numpy


def dot_column(msg, row: int, radius: int) -> int:
    """Return the dot's centre column in `row` of the frame, allowing for the wrap."""
    line = image_to_numpy(msg)[row, :, 0] == 255
    width = line.size
    offsets = np.arange(-radius, radius + 1)
    centres = [c for c in np.flatnonzero(line) if line[(c + offsets) % width].all()]
    assert len(centres) == 1, f'expected one dot centre in row {row}, found {centres}'
    return int(centres[0])
