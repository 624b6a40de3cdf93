"""A stack's nodes run on config/fastdds_large_data.xml by default; a user's own profile wins.

Seen from outside each node process: its environment names the profile, and the Fast DDS
shared-memory segment it mapped has the profile's size (64 MiB; Fast DDS's own default is
512 KiB), so the profile is in effect, not only set.
"""
import os
from pathlib import Path
import subprocess
import sys
import time

from ament_index_python.packages import get_package_share_directory
from repo_paths import ROOT

PROFILES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')
MiB = 1 << 20


def children(pid: int) -> list:
    """Return the pids whose parent is `pid`."""
    found = []
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            fields = stat.read_text().rsplit(')', 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def shm_segments(pid: int) -> set:
    """Return the sizes of the Fast DDS shared-memory segments `pid` has mapped."""
    sizes = set()
    for line in Path(f'/proc/{pid}/maps').read_text().splitlines():
        fields = line.split()
        if len(fields) == 6 and fields[5].startswith('/dev/shm/fastrtps_') \
                and not fields[5].endswith('_el'):
            start, end = (int(x, 16) for x in fields[0].split('-'))
            sizes.add(end - start)
    return sizes


def node_profiles(tmp_path, **environ) -> dict:
    """Run a two-node stack; return {node pid: (its profile variable, its segment sizes)}."""
    config = tmp_path / 'stack.yaml'
    config.write_text('sim:\n  ros__parameters:\n    frame_rate: 5.0\n'
                      'runner:\n  ros__parameters: {}\n')
    env = {k: v for k, v in os.environ.items() if k not in PROFILES}
    stack = subprocess.Popen(
        [sys.executable, '-m', 'nanobot_ros.stack', '--config', str(config), '--duration', '60',
         '--runs', str(tmp_path / 'runs')], env={**env, **environ}, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        found, end = {}, time.monotonic() + 60
        while time.monotonic() < end and (len(found) < 2 or not all(s for _, s in found.values())):
            time.sleep(0.2)
            for pid in children(stack.pid):
                try:
                    variables = dict(item.split('=', 1) for item in Path(
                        f'/proc/{pid}/environ').read_text().split('\0') if '=' in item)
                    found[pid] = (variables.get(PROFILES[0]), shm_segments(pid))
                except OSError:
                    continue
        return found
    finally:
        stack.terminate()
        stack.wait(timeout=60)


def test_the_stack_runs_its_nodes_on_the_large_data_profile(ros_domain, tmp_path):
    profile = Path(get_package_share_directory('nanobot_ros')) / 'config' / \
        'fastdds_large_data.xml'
    found = node_profiles(tmp_path)
    assert len(found) == 2, found
    for variable, segments in found.values():
        assert variable == str(profile)
        assert max(segments) >= 64 * MiB, segments


def test_a_profile_of_the_users_own_wins(ros_domain, tmp_path):
    own = tmp_path / 'own_profile.xml'
    own.write_text((ROOT / 'config' / 'fastdds_large_data.xml').read_text().replace(
        '<segment_size>67108864</segment_size>', f'<segment_size>{8 * MiB}</segment_size>'))
    found = node_profiles(tmp_path, FASTRTPS_DEFAULT_PROFILES_FILE=str(own))
    assert len(found) == 2, found
    for variable, segments in found.values():
        assert variable == str(own)
        assert 8 * MiB <= max(segments) < 64 * MiB, segments
