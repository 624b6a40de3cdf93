"""Recorded sessions for the explorer: find them, describe them, read their frames.

A session is a folder with session.yaml (written by the recorder, data/recording.py) and its
splits; a lone bag outside such a folder is a session of its own. Its id is its path relative
to the sessions folder. Robot type and action space come from the session metadata.
"""
from pathlib import Path
from typing import Dict, List

import yaml

from nanobot_ros.data.bags import BagError, find_bags
from nanobot_ros.data.dataset import BagDataset


class SessionError(ValueError):
    """A session that is not there or cannot be read (the reason is the message)."""


def _metadata(folder: Path) -> dict:
    meta = folder / 'session.yaml'
    if not meta.is_file():
        return {}
    values = yaml.safe_load(meta.read_text()) or {}
    return {key.removeprefix('nanobot.'): value for key, value in values.items()}


def list_sessions(root: Path) -> List[dict]:
    """Return every session under `root`: id, robot type, action space, bags, start."""
    root = Path(root)
    sessions: Dict[Path, List[Path]] = {}
    for bag in find_bags(root, finished_only=False):
        folder = bag.parent if (bag.parent / 'session.yaml').is_file() else bag
        sessions.setdefault(folder, []).append(bag)
    listed = []
    for folder, bags in sorted(sessions.items()):
        meta = _metadata(folder)
        listed.append({'id': str(folder.relative_to(root)) if folder != root else '.',
                       'robot_type': meta.get('robot_type', folder.parent.name),
                       'action_space': meta.get('action_space', 'unknown'),
                       'session': str(meta.get('session', folder.name)),
                       'bags': len(bags)})
    return listed


class Session:
    """One session's samples (frame, action, next frame) from BagDataset."""

    def __init__(self, root: Path, session_id: str):
        root = Path(root).resolve()
        self.folder = (root / session_id).resolve()
        if root != self.folder and root not in self.folder.parents:
            raise SessionError(f'{session_id}: not inside the sessions folder')
        if not self.folder.exists():
            raise SessionError(f'{session_id}: no such session in {root}')
        self.id = session_id
        self.metadata = _metadata(self.folder)
        try:
            self.dataset = BagDataset(self.folder)
        except (BagError, OSError, ValueError) as error:
            raise SessionError(f'{session_id}: unreadable ({error})') from None
        if not len(self.dataset):
            reasons = '; '.join(f'{Path(b).name}: {r}' for b, r in self.dataset.skipped.items())
            raise SessionError(f'{session_id}: no frames answered by an action'
                               + (f' (skipped {reasons})' if reasons else ''))

    def __len__(self) -> int:
        return len(self.dataset)

    def describe(self) -> dict:
        """Return what the page shows about the session: metadata and the action timeline."""
        timeline = self.dataset.timeline()
        start = timeline[0][0]
        return {'id': self.id, 'robot_type': self.metadata.get('robot_type', 'unknown'),
                'action_space': self.metadata.get('action_space', 'unknown'),
                'frames': len(timeline), 'actions': [a for _, a in timeline],
                'times': [round(t - start, 3) for t, _ in timeline],
                'skipped': {str(b): r for b, r in self.dataset.skipped.items()}}

    def sample(self, index: int):
        if not 0 <= index < len(self.dataset):
            raise SessionError(f'frame {index} is not in 0..{len(self.dataset) - 1}')
        return self.dataset[index]
