"""A top-down picture of the path a room robot drove (odom) over the room's layout.

The room node publishes its walls and objects once (room/layout, latched JSON) and its
ground-truth pose every frame (odom); a session that recorded both gets room_path.png in the run
report: the room's outline, each object in its colour and shape, the path coloured from start
(dark) to end (light), the start and end poses.
"""
import json
import math
from pathlib import Path
from typing import List, Optional, Tuple

from nanobot_ros.contract import find_topic, ODOM, ROOM_LAYOUT
from nanobot_ros.data.bags import Bag, BagError, find_bags
from nanobot_ros.robots.sim.target_task import MARKER_COLORS

PICTURE = 'room_path.png'


def read_room_path(session: Path) -> Optional[Tuple[dict, List[Tuple[float, float, float]]]]:
    """Return (layout, [(x, y, yaw)] in time order) from a session's bags, None without both."""
    layout, path = None, []
    for bag_dir in find_bags(session):
        bag = Bag(bag_dir)
        odom = find_topic(bag.topics, ODOM.name)
        room = find_topic(bag.topics, ROOM_LAYOUT.name)
        wanted = [t for t in (odom, room) if t]
        for record in bag.records(wanted):
            msg = bag.decode(record)
            if record.topic == room:
                layout = json.loads(msg.data)
            else:
                q = msg.pose.pose.orientation
                yaw = 2 * math.atan2(q.z, q.w)  # a yaw-only quaternion
                path.append((msg.pose.pose.position.x, msg.pose.pose.position.y, yaw))
    if layout is None or not path:
        return None
    return layout, path


def draw_room_path(layout: dict, path, out: Path) -> Path:
    """Draw `path` over `layout` into `out` (PNG); return `out`."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib import patches
    import numpy as np

    size_x, size_y = layout['room_size']
    fig, ax = plt.subplots(figsize=(5, 5 * size_y / size_x), dpi=100)
    ax.add_patch(patches.Rectangle((-size_x / 2, -size_y / 2), size_x, size_y, fill=False,
                                   linewidth=3, edgecolor='0.3'))
    for obj in layout['objects']:
        color = np.array(MARKER_COLORS.get(obj['color'], (128, 128, 128))) / 255
        s = obj['size']
        if obj['shape'] == 'box':
            ax.add_patch(patches.Rectangle((obj['x'] - s, obj['y'] - s), 2 * s, 2 * s,
                                           color=color))
        else:  # spheres and cylinders look round from above
            ax.add_patch(patches.Circle((obj['x'], obj['y']), s, color=color))
    xy = np.array([(x, y) for x, y, _ in path])
    ax.scatter(xy[:, 0], xy[:, 1], c=np.arange(len(xy)), cmap='viridis', s=4, zorder=3)
    ax.plot(xy[:, 0], xy[:, 1], color='0.5', linewidth=0.5, zorder=2)
    for (x, y, yaw), label in ((path[0], 'start'), (path[-1], 'end')):
        ax.annotate('', xy=(x + 0.1 * np.cos(yaw), y + 0.1 * np.sin(yaw)), xytext=(x, y),
                    arrowprops={'arrowstyle': '->', 'color': 'black'}, zorder=4)
        ax.text(x, y - 0.06, label, ha='center', va='top', fontsize=8)
    margin = 0.1
    ax.set_xlim(-size_x / 2 - margin, size_x / 2 + margin)
    ax.set_ylim(-size_y / 2 - margin, size_y / 2 + margin)
    ax.set_aspect('equal')
    ax.set_xlabel('x (m)')
    ax.set_ylabel('y (m)')
    ax.set_title(f'path driven: {len(path)} odom poses (dark = start)')
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def room_path_picture(session: Optional[str], run_dir: Path) -> Optional[Path]:
    """Write run_dir/room_path.png from a session with odom and room/layout; None otherwise."""
    if not session or not Path(session).is_dir():
        return None
    try:
        found = read_room_path(Path(session))
    except (BagError, OSError, ValueError):
        return None  # the report still says everything else; the bag tools say what is wrong
    if found is None:
        return None
    return draw_room_path(*found, run_dir / PICTURE)
