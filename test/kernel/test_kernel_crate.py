"""The Rust kernel's own unit tests (`cargo test` in kernel/), run without ROS.

Image checks, tokenizer, DDIM timesteps, safe-stop logic. Built with the same environment as
the node.
"""
import os
from pathlib import Path
import subprocess
import sys

from repo_paths import ROOT


def test_cargo_test_passes():
    from ament_index_python.packages import get_package_prefix
    install = Path(get_package_prefix('nanobot_msgs')).parent
    run = subprocess.run([str(ROOT / 'kernel' / 'build.sh'), str(Path(sys.prefix)),
                          str(install), 'test'], capture_output=True, text=True, timeout=1800,
                         env={**os.environ})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert 'test result: ok' in run.stdout
    assert ' 0 failed' in run.stdout
