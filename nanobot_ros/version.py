"""The software version every artefact carries: package version and, in a git checkout, commit."""
from importlib import metadata as importlib_metadata
from pathlib import Path
import subprocess


def software_version() -> str:
    """Return nanobot_ros' version and, in a git checkout, the commit."""
    try:
        version = importlib_metadata.version('nanobot_ros')
    except importlib_metadata.PackageNotFoundError:
        version = 'unknown'
    try:
        commit = subprocess.run(['git', 'describe', '--always', '--dirty'], cwd=Path(
            __file__).resolve().parent, capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        commit = ''
    return f'nanobot_ros {version}' + (f' ({commit.strip()})' if commit.strip() else '')
