"""Training samples straight from rosbag2 bags: plain Python, numpy out, no ROS graph needed.

    from nanobot_ros.data.dataset import BagDataset
    data = BagDataset('saved/sessions/toroidal_dot')        # a bag, or a folder of bags
    len(data); sample = data[17]                            # random access
    sample.observation            # (H, W, 3) uint8 rgb, the camera frame the action answered
    sample.action_index           # int (-1 = continuous only)
    sample.action_values          # float32 (N,), named by sample.action_names
    sample.next_observation       # (H, W, 3) uint8 rgb, the next camera frame
    sample.telemetry              # float32 (M,), newest telemetry at the frame (empty if none)
    sample.instruction            # newest instruction text at the frame ('' if none)
    sample.stamp, sample.next_stamp   # log times (s) of both frames
    sample.bag, sample.next_bag       # the bags (splits) they were read from
    sample.to_dict()              # the same as a dict, for torch's default_collate

    live = BagDataset('runs/x/sessions', continual=True)   # keeps growing
    for sample in live: ...       # picks up each new split once it is finished

How samples are aligned (per stream, camera frames in log-time order): sample i is frame i, the
action that answered it and frame i + 1. The answering action is the one whose header.stamp
equals frame i's header.stamp (what the sim, runner and policy publish); failing that, the first
action logged between frame i and frame i + 1. Frames without an answering action are not
samples. With a `label_topic` (the learn stack's teacher/action) a label stamped with frame i's
stamp replaces the executed action: the sample's action is what the teacher would have done.
Of several labels of one frame the first counts, unless a person's (source PERSON_SOURCE, the
live view's override) is among them: a person overrules the scripted teacher.
Telemetry and instruction are the newest logged at or before frame i.

Streams: the consecutive splits of one recording session (<session>/<session>_000, _001, ...,
as recording.py names them) are one stream, so the transition from the last frame of a split
to the first of the next is a sample, and the newest telemetry / instruction carry over. A
lone bag is a stream of its own; bags of different sessions are never joined, nor splits
with a missing (skipped) split between them. A split that appears later (continual mode)
extends its session's stream: the sample across the old boundary is appended then.

Topics: the contract's relative names by default, found in whatever namespace a bag recorded
them (camera/image_raw finds /robot1/camera/image_raw: contract.find_topic); an absolute name
matches only itself. A bag holding one relative name in several namespaces is skipped (name
the topic fully).

Random access: the index keeps only timestamps and the small messages; images are read on
demand (`Bag.read_at`: one MCAP chunk or one sqlite3 row) with a small cache, so a folder of
many hours of video does not have to fit in memory.

Bad input: a bag that cannot be read (truncated by a crash, unknown image encoding, ...) is
skipped with its reason in `skipped`, so one broken split never costs the others; a path that
does not exist raises BagError.
"""
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
import re
import struct
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from nanobot_ros.contract import (ACTION, find_topic, IMAGE, INSTRUCTION, PERSON_SOURCE,
                                  TELEMETRY)
from nanobot_ros.data.action_filter import action_matches, parse_action_filter
from nanobot_ros.data.bags import Bag, BagError, find_bags, make_typestore
from nanobot_ros.data.convert import image_to_numpy, to_rgb

IMAGE_CACHE_SIZE = 64


@dataclass
class Sample:
    """One transition: observation, the action taken, what followed, and the context."""

    observation: np.ndarray
    action_index: int
    action_values: np.ndarray
    action_names: Tuple[str, ...]
    action_duration: float
    next_observation: np.ndarray
    telemetry: np.ndarray
    telemetry_names: Tuple[str, ...]
    instruction: str
    stamp: float  # log time of the observation, seconds since the epoch
    bag: str  # the bag (split) of the observation
    next_stamp: float  # log time of the next observation
    next_bag: str  # the bag of the next observation: the next split at a split boundary

    def to_dict(self) -> dict:
        """Return the fields as a dict (what torch's default_collate batches)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class _Transition:
    bag: int
    frame_time: int
    next_bag: int
    next_frame_time: int
    action: tuple  # (index, names, values, duration)
    telemetry: tuple  # (names, values)
    instruction: str


def _stamp_ns(header) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def _cdr_header_stamp_ns(data: bytes) -> int:
    """Return header.stamp of a CDR message that starts with a std_msgs/Header, undecoded.

    The CDR encapsulation (4 bytes, byte 1 = 1 for little endian) is followed by the header's
    stamp: int32 sec, uint32 nanosec. Decoding a whole image only for this costs ~100x more.
    """
    sec, nanosec = struct.unpack_from('<iI' if data[1] == 1 else '>iI', data, 4)
    return sec * 1_000_000_000 + nanosec


@dataclass
class _BagIndex:
    """The small messages of a stream's bags, decoded once, and its frame timestamps."""

    frames: List[Tuple[int, int, int]] = field(default_factory=list)  # (log time, stamp, bag)
    # (log time, stamp, index, names, values, duration, source)
    actions: List[tuple] = field(default_factory=list)
    telemetry: List[tuple] = field(default_factory=list)  # (log time, names, values)
    instructions: List[tuple] = field(default_factory=list)  # (log time, text)
    labels: List[tuple] = field(default_factory=list)  # as actions, from the label topic

    def extended(self, other: '_BagIndex') -> '_BagIndex':
        """Return this index followed by `other` (the next split), each list in log-time order.

        Sorted rather than trusted to be in order: nothing guarantees that a split's first
        log time follows the previous split's last one (a clock step, another recorder).
        """
        def merge(a, b):
            return sorted(a + b, key=lambda record: record[0])
        return _BagIndex(merge(self.frames, other.frames), merge(self.actions, other.actions),
                         merge(self.telemetry, other.telemetry),
                         merge(self.instructions, other.instructions),
                         merge(self.labels, other.labels))

    def tail(self) -> '_BagIndex':
        """Return what aligning a next split needs, so a stream's index does not grow.

        The last frame (its pair with the next split's first frame is the one sample still
        open), the actions that may answer it (logged after the frame before it: an action
        can arrive a little before its frame when the image is slow), and the newest
        telemetry and instruction at it. With no frame: only the newest context.
        """
        def from_newest_at(records, time_ns):
            i = bisect_right([r[0] for r in records], time_ns) - 1
            return records[max(i, 0):]
        if not self.frames:
            return _BagIndex([], [], self.telemetry[-1:], self.instructions[-1:])
        last = self.frames[-1][0]
        since = self.frames[-2][0] if len(self.frames) > 1 else None
        actions = [a for a in self.actions if since is None or a[0] > since]
        labels = [a for a in self.labels if since is None or a[0] > since]
        return _BagIndex(self.frames[-1:], actions, from_newest_at(self.telemetry, last),
                         from_newest_at(self.instructions, last), labels)


@dataclass
class _Stream:
    """The newest split of a session seen so far and the index tail the next split extends."""

    split: int
    tail: _BagIndex


def split_of(path: Path) -> Optional[Tuple[str, int]]:
    """Return (session folder, split number) of a recorder split <session>/<session>_NNN.

    None for any other bag: it is a stream of its own.
    """
    match = re.fullmatch(re.escape(path.parent.name) + r'_(\d+)', path.name)
    return (str(path.parent), int(match.group(1))) if match else None


class BagDataset:
    """Time-aligned (observation, action, next observation) samples from one or many bags."""

    def __init__(self, source: Union[str, Path, Sequence[Union[str, Path]]],
                 image_topic: str = IMAGE.name, action_topic: str = ACTION.name,
                 telemetry_topic: str = TELEMETRY.name,
                 instruction_topic: str = INSTRUCTION.name, action_filter: str = '',
                 continual: bool = False, poll_interval: float = 1.0,
                 idle_timeout: Optional[float] = None, label_topic: str = ''):
        """Index every finished bag under `source` (a bag, a folder, or a list of either).

        action_filter: the reference's filter, e.g. 'motor_right=0.12' or 'index=1'.
        label_topic: Actions that label frames (the learn stack's teacher/action, by
        header.stamp); a frame a label names gets the label as its action instead of the
        action executed, so a policy learns what the teacher would have done (DAgger).
        '' = none.
        continual: iteration waits for new splits instead of ending (poll_interval seconds
        between looks); it ends after idle_timeout seconds without a new sample (None = never).
        """
        self.sources = [Path(source)] if isinstance(source, (str, Path)) else [
            Path(s) for s in source]
        for path in self.sources:
            if not path.exists():
                raise BagError(f'{path}: no such bag or folder (path does not exist)')
        self.topics = {'image': image_topic, 'action': action_topic,
                       'telemetry': telemetry_topic, 'instruction': instruction_topic,
                       **({'label': label_topic} if label_topic else {})}
        self.action_filter = parse_action_filter(action_filter)
        self.continual = continual
        self.poll_interval = poll_interval
        self.idle_timeout = idle_timeout
        self.typestore = make_typestore()
        self.bags: List[Bag] = []
        self._image_topics: List[str] = []  # each bag's recorded name of the image topic
        self.skipped: Dict[str, str] = {}
        self._streams: Dict[str, _Stream] = {}  # session folder -> its stream so far
        self._transitions: List[_Transition] = []
        self._images: OrderedDict = OrderedDict()
        self._stopped = False
        self.refresh()

    # -- index ---------------------------------------------------------------------------
    def refresh(self) -> int:
        """Index bags that appeared (finished) since the last look; return new sample count."""
        known = {str(b.path) for b in self.bags} | set(self.skipped)
        new = {path for source in self.sources for path in find_bags(source)
               if str(path) not in known}
        before = len(self._transitions)
        # Split number order within a session (path order would put _1000 before _999).
        for path in sorted(new, key=lambda p: (str(p.parent), (split_of(p) or ('', -1))[1],
                                               p.name)):
            try:
                self._index_bag(Bag(path, self.typestore))
            except (BagError, ValueError) as error:
                self.skipped[str(path)] = str(error)
        return len(self._transitions) - before

    def _index_bag(self, bag: Bag) -> None:
        """Read the bag's small messages and frame stamps, then align it onto its stream."""
        bag_id = len(self.bags)
        index = _BagIndex()
        topics = {role: find_topic(bag.topics, name) for role, name in self.topics.items()}
        for record in bag.records([t for t in topics.values() if t is not None]):
            if record.topic == topics['image']:
                # Only the stamp is needed now; the pixels are read on demand.
                index.frames.append((record.timestamp, _cdr_header_stamp_ns(record.data),
                                     bag_id))
                continue
            msg = bag.decode(record)
            if record.topic in (topics['action'], topics.get('label')):
                (index.actions if record.topic == topics['action'] else index.labels).append((
                    record.timestamp, _stamp_ns(msg.header), int(msg.index), tuple(msg.names),
                    np.asarray(msg.values, np.float32), float(msg.duration), str(msg.source)))
            elif record.topic == topics['telemetry']:
                index.telemetry.append((record.timestamp, tuple(msg.names),
                                        np.asarray(msg.values, np.float32)))
            elif record.topic == topics['instruction']:
                index.instructions.append((record.timestamp, str(msg.data)))
        split = split_of(bag.path)
        if split is not None:
            session, number = split
            stream = self._streams.get(session)
            if stream is not None and stream.split == number - 1:
                index = stream.tail.extended(index)
            self._streams[session] = _Stream(number, index.tail())
        self.bags.append(bag)
        self._image_topics.append(topics['image'])
        self._transitions.extend(self._align(index))

    def _align(self, index: _BagIndex) -> List[_Transition]:
        by_stamp, label_by_stamp = {}, {}
        for action in index.actions:
            by_stamp.setdefault(action[1], action)
        for label in index.labels:  # the first label of a frame, unless a person's follows
            if label[1] not in label_by_stamp or label[6] == PERSON_SOURCE:
                label_by_stamp[label[1]] = label
        action_times = [a[0] for a in index.actions]
        telemetry_times = [t[0] for t in index.telemetry]
        instruction_times = [t[0] for t in index.instructions]
        transitions = []
        pairs = zip(index.frames, index.frames[1:])
        for (time_ns, stamp, bag_id), (next_time, _, next_bag) in pairs:
            action = label_by_stamp.get(stamp) or by_stamp.get(stamp)
            if action is None:
                i = bisect_right(action_times, time_ns - 1)
                if i < len(action_times) and action_times[i] < next_time:
                    action = index.actions[i]
            if action is None:
                continue
            action_index, names, values, duration = action[2:6]
            if not action_matches(self.action_filter, action_index, names, values):
                continue
            i = bisect_right(telemetry_times, time_ns) - 1
            telemetry = index.telemetry[i][1:] if i >= 0 else ((), np.zeros(0, np.float32))
            i = bisect_right(instruction_times, time_ns) - 1
            instruction = index.instructions[i][1] if i >= 0 else ''
            transitions.append(_Transition(bag_id, time_ns, next_bag, next_time,
                                           (action_index, names, values, duration),
                                           telemetry, instruction))
        return transitions

    # -- access --------------------------------------------------------------------------
    def __len__(self) -> int:
        """Return the number of samples indexed so far."""
        return len(self._transitions)

    def timeline(self) -> List[Tuple[float, int]]:
        """Return (log time s, action index) of every sample, without reading an image."""
        return [(t.frame_time * 1e-9, t.action[0]) for t in self._transitions]

    def _image(self, bag_id: int, time_ns: int) -> np.ndarray:
        key = (bag_id, time_ns)
        if key in self._images:
            self._images.move_to_end(key)
            return self._images[key]
        bag = self.bags[bag_id]
        msg = bag.decode(bag.read_at(self._image_topics[bag_id], time_ns))
        image = to_rgb(image_to_numpy(msg), msg.encoding)
        self._images[key] = image
        if len(self._images) > IMAGE_CACHE_SIZE:
            self._images.popitem(last=False)
        return image

    def __getitem__(self, i: int) -> Sample:
        """Return sample `i` (negative indices count from the end)."""
        t = self._transitions[i]
        index, names, values, duration = t.action
        return Sample(
            observation=self._image(t.bag, t.frame_time), action_index=index,
            action_values=values.copy(), action_names=names, action_duration=duration,
            next_observation=self._image(t.next_bag, t.next_frame_time),
            telemetry=t.telemetry[1].copy(), telemetry_names=t.telemetry[0],
            instruction=t.instruction, stamp=t.frame_time * 1e-9,
            bag=str(self.bags[t.bag].path), next_stamp=t.next_frame_time * 1e-9,
            next_bag=str(self.bags[t.next_bag].path))

    def stop(self) -> None:
        """End a continual iteration at its next look for new splits."""
        self._stopped = True

    def __iter__(self):
        """Yield samples in order; in continual mode wait for new splits as they are finished."""
        i = 0
        idle_since = time.monotonic()
        while True:
            while i < len(self._transitions):
                yield self[i]
                i += 1
                idle_since = time.monotonic()
            if not self.continual or self._stopped:
                return
            if self.refresh():
                continue
            if self.idle_timeout is not None and \
                    time.monotonic() - idle_since > self.idle_timeout:
                return
            time.sleep(self.poll_interval)
