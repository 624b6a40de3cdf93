"""Writes that survive a crash or a power cut: fsync of files and of the folders naming them."""
import os
from pathlib import Path
from typing import Optional


def fsync_folder(folder: Path) -> None:
    """Make the names in `folder` (a new or replaced file, a new subfolder) durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_synced(path: Path, data: bytes) -> None:
    """Write `data` to `path` and fsync it; on an error (a full disk) delete the partial file."""
    try:
        with open(path, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError:
        Path(path).unlink(missing_ok=True)  # a torn file would keep a full disk full
        raise


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so a reader sees the old file or the whole new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name('.' + path.name + '.tmp')
    write_synced(temp, data)
    os.replace(temp, path)
    fsync_folder(path.parent)


def file_version(path: Path) -> Optional[tuple]:
    """Return (size, mtime in ns, inode) of `path`, or None when it is missing.

    A rewritten file, or one replaced as `atomic_write` does (a new inode), has another.
    """
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns, stat.st_ino
