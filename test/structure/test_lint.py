"""Style as tests: flake8 at 99 columns with pep257 docstrings (flake8-docstrings)."""
import subprocess
import sys

from repo_paths import ROOT

CHECKED = ['nanobot_ros', 'test', 'launch', 'bench', 'firmware', 'setup.py']


def test_flake8_and_pep257():
    paths = [str(ROOT / p) for p in CHECKED if (ROOT / p).exists()]
    result = subprocess.run([sys.executable, '-m', 'flake8', '--config', str(ROOT / 'setup.cfg'),
                             *paths], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
