"""What a run ran on: machine, Python, the key packages' versions and the software version."""
from importlib import metadata
import os
import platform
import sys

from nanobot_ros.version import software_version

PACKAGES = ('torch', 'numpy', 'onnxruntime', 'rosbags', 'mcap', 'safetensors', 'foxglove-sdk',
            'ros-rclpy', 'opencv-python-headless')


def _memory_gib() -> str:
    try:
        pages, size = os.sysconf('SC_PHYS_PAGES'), os.sysconf('SC_PAGE_SIZE')
    except (ValueError, OSError):
        return 'unknown'
    return f'{pages * size / 2**30:.1f}'


def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            for line in cpuinfo:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def environment_rows() -> list:
    """Return (what, value) rows describing this machine and software."""
    rows = [('software', software_version()),
            ('host', platform.node()),
            ('system', f'{platform.system()} {platform.release()} ({platform.machine()})'),
            ('cpu', f'{_cpu_model()}, {os.cpu_count()} cores'),
            ('memory', f'{_memory_gib()} GiB'),
            ('python', sys.version.split()[0]),
            ('ROS', os.environ.get('ROS_DISTRO', 'PyPI wheels (no ROS install)'))]
    for name in PACKAGES:
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return rows
