"""Demonstrations for the policy: bag samples (or expert rollouts) as compact training arrays.

`DemoBuffer` keeps what the trainer needs per sample, preprocessed once: the image resized to
the model's size (uint8, so thousands fit in memory), the instruction's byte ids, sensor /
surface vectors and the action values. `BagSource` feeds it from a bag or a folder of bags,
and in continual mode picks up splits that appear while training (`BagDataset.refresh`).
`write_demonstration_bag` records the scripted expert into real rosbag2 bags without a ROS
graph (same topics and messages as recording the sim + expert nodes), which is how tests and
the quick start get demonstrations in seconds; given a policy, it records DAgger's data.
"""
from collections import Counter
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

import numpy as np
import torch

from nanobot_ros.contract import ACTION, IMAGE, INSTRUCTION, TEACHER_ACTION
from nanobot_ros.data.bag_writer import BagWriter
from nanobot_ros.data.bags import make_typestore
from nanobot_ros.data.dataset import BagDataset
from nanobot_ros.policy.grpo import policy_chooser
from nanobot_ros.policy.processing import PolicyProcessor, resize_image
from nanobot_ros.robots.sim.target_task import TargetTaskConfig
from nanobot_ros.robots.tasks import dagger_rollouts, expert_rollouts, task_actions

DEMO_TOPICS = (IMAGE, ACTION, INSTRUCTION)
FRAME_NS = 33_000_000


class DemoBuffer:
    """Growing arrays of (image, text ids, sensors, surface, action)."""

    def __init__(self, processor: PolicyProcessor, action_dim: int):
        self.processor = processor
        self.action_dim = action_dim
        self.images: List[np.ndarray] = []
        self.text: List[np.ndarray] = []
        self.sensors: List[np.ndarray] = []
        self.surface: List[np.ndarray] = []
        self.actions: List[np.ndarray] = []
        self.rejected = 0

    def __len__(self) -> int:
        """Return the number of samples held."""
        return len(self.actions)

    def add(self, image: np.ndarray, instruction: str, action: Sequence[float],
            sensors: Sequence[float] = (), surface: Sequence[float] = ()) -> bool:
        """Add one sample; a malformed one is counted in `rejected` and skipped."""
        p = self.processor
        action = np.asarray(action, np.float32).reshape(-1)
        try:
            obs = {'sensors': sensors, 'surface': surface}
            sensor_values = p._vector(obs, 'sensors', p.sensor_dim)
            surface_values = p._vector(obs, 'surface', p.surface_dim)
            if action.shape != (self.action_dim,) or not np.all(np.isfinite(action)):
                raise ValueError(f'action must be {self.action_dim} finite values')
            image = resize_image(image, p.image_size).transpose(2, 0, 1).copy()
        except ValueError:
            self.rejected += 1
            return False
        self.images.append(image)
        self.text.append(p.tokenizer.encode(instruction))
        self.sensors.append(sensor_values)
        self.surface.append(surface_values)
        self.actions.append(action)
        return True

    def add_samples(self, samples: Iterable) -> int:
        """Add dataset Samples (BagDataset items); return how many were accepted."""
        return sum(self.add(s.observation, s.instruction, s.action_values,
                            s.telemetry if self.processor.sensor_dim else ())
                   for s in samples)

    def batch(self, indices: Sequence[int]) -> dict:
        """Return a training batch of tensors for `indices`."""
        batch = {
            'images': torch.from_numpy(np.stack([self.images[i] for i in indices])).float()
            / 255.0,
            'text': torch.from_numpy(np.stack([self.text[i] for i in indices])),
            'actions': torch.from_numpy(np.stack([self.actions[i] for i in indices]))}
        if self.processor.sensor_dim:
            batch['sensors'] = torch.from_numpy(np.stack([self.sensors[i] for i in indices]))
        if self.processor.surface_dim:
            batch['surface'] = torch.from_numpy(np.stack([self.surface[i] for i in indices]))
        return batch

    def stacked(self, name: str) -> torch.Tensor:
        """Return every sample's `name` ('actions', 'sensors', 'surface') as one tensor."""
        return torch.from_numpy(np.stack(getattr(self, name)))


class BagSource:
    """Feeds a DemoBuffer from bags; `poll()` adds samples of bags finished since last time."""

    def __init__(self, paths: Sequence, buffer: DemoBuffer):
        # A teacher's label, where the bags have one, is the action learned (DAgger).
        self.dataset = BagDataset([Path(p) for p in paths], label_topic=TEACHER_ACTION.name)
        self.buffer = buffer
        self.consumed = 0

    def poll(self, limit: Optional[int] = None) -> int:
        """Index new bags and add their samples (at most up to `limit` in total)."""
        self.dataset.refresh()
        end = len(self.dataset) if limit is None else min(limit, len(self.dataset))
        added = self.buffer.add_samples(self.dataset[i] for i in range(self.consumed, end))
        self.consumed = max(self.consumed, end)
        return added

    @property
    def skipped(self) -> dict:
        """Bags that could not be read, with the reason."""
        return self.dataset.skipped


def _header(types, t_ns: int, frame_id: str = ''):
    stamp = types['builtin_interfaces/msg/Time'](sec=t_ns // 10**9, nanosec=t_ns % 10**9)
    return types['std_msgs/msg/Header'](stamp=stamp, frame_id=frame_id)


def write_demonstration_bag(path, config: TargetTaskConfig, seeds: Sequence[int],
                            start_ns: int = 1_700_000_000 * 10**9, policy=None,
                            tally: Optional[Counter] = None, temperature: float = 0.0) -> Path:
    """Record the expert solving the episodes of `seeds` into one MCAP bag at `path`.

    `config` is a TargetTaskConfig, a TaskFamilyConfig (robots/sim/task_family.py) or a
    RoomTaskConfig (robots/room/task.py: actions as the JetBot's motor values).
    `policy` (a Policy): DAgger instead. The policy drives (its most likely action, or at
    `temperature` > 0 a draw as the kernels serve it; on robot/action, source 'policy') and
    the expert's action for every frame goes on teacher/action, the label the trainer learns
    (as the learn stack's arbiter records it);
    `tally` (DAgger only) counts each (action taken, expert's label) pair of the recorded frames.
    """
    store = make_typestore()
    types = store.types
    t = start_ns
    instruction = None
    robot_type, names, vectors = task_actions(config)
    if policy is None:
        steps = ((image, text, action, None) for image, text, action
                 in expert_rollouts(config, seeds))
        topics, source = DEMO_TOPICS, 'scripted expert'
    else:
        steps = dagger_rollouts(config, seeds,
                                policy_chooser(policy, temperature, seed=int(seeds[0])))
        topics, source = DEMO_TOPICS + (TEACHER_ACTION,), 'policy, labelled by the expert'

    def action_message(index, stamp_ns, who):
        return types['nanobot_msgs/msg/Action'](
            header=_header(types, stamp_ns), index=index, names=list(names),
            values=np.asarray(vectors[index], np.float32), duration=0.0, source=who)

    with BagWriter(path, typestore=store,
                   custom_data={'nanobot.robot_type': robot_type,
                                'nanobot.source': source}) as bag:
        for topic in topics:
            bag.add_topic(topic.fqn(), topic.msgtype)
        for image, text, action, label in steps:
            if text != instruction:
                bag.write_message(INSTRUCTION.fqn(), t - 1000, types['std_msgs/msg/String'](
                    data=text))
                instruction = text
            bag.write_message(IMAGE.fqn(), t, types['sensor_msgs/msg/Image'](
                header=_header(types, t, 'camera'), height=image.shape[0],
                width=image.shape[1], encoding='rgb8', is_bigendian=0,
                step=image.shape[1] * 3, data=image.reshape(-1)))
            if label is not None:
                bag.write_message(TEACHER_ACTION.fqn(), t + 500_000,
                                  action_message(label, t, 'expert'))
                if tally is not None:
                    tally[action, label] += 1
            bag.write_message(ACTION.fqn(), t + 1_000_000, action_message(
                action, t, 'expert' if label is None else 'policy'))
            t += FRAME_NS
    return Path(path)


def dagger_summary(tally: Counter, names: Sequence[str], most: int = 3) -> str:
    """Say how often the policy did what the expert would have, and where it most often did not.

    What the next round of DAgger will teach: e.g. a one-frame room policy that takes `stop`
    where the expert searches by turning left loops on `stop` until its step budget ends.
    """
    steps = sum(tally.values())
    agreed = sum(n for (taken, label), n in tally.items() if taken == label)
    text = f'the policy took the expert\'s action on {agreed} of {steps} frames'
    if steps:
        text += f' ({100 * agreed / steps:.1f} %)'
    wrong = sorted(((n, taken, label) for (taken, label), n in tally.items() if taken != label),
                   key=lambda row: (-row[0], row[1], row[2]))[:most]
    if wrong:
        text += '; most often instead: ' + ', '.join(
            f'{names[taken]} for {names[label]} ({n})' for n, taken, label in wrong)
    return text
