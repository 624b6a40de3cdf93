"""DAgger: where a bag holds the teacher's labels, the trainer learns them, not the actions run.

The learn stack records the kernel's executed action on robot/action and the teacher's answer
to the same frame (same header.stamp) on teacher/action, each with its source. The trainer's
data (BagSource -> DemoBuffer) must hold the teacher's action for every frame.
"""
import numpy as np

from nanobot_ros.contract import ACTION, IMAGE, INSTRUCTION, PERSON_SOURCE, TEACHER_ACTION
from nanobot_ros.data.bag_writer import BagWriter
from nanobot_ros.data.bags import make_typestore
from nanobot_ros.data.dataset import BagDataset
from nanobot_ros.policy.demonstrations import BagSource, DemoBuffer
from nanobot_ros.policy.processing import processor_for
from nanobot_ros.robots.sim.toroidal_dot import ACTION_VECTORS
from policy_fixtures import tiny_config

FRAMES = 8
PERSON_UP = 3
FRAME_NS = 100_000_000
START_NS = 1_700_000_000 * 10**9


def teacher_index(frame: int) -> int:
    return 1 + frame % 4  # right, left, up, down in turn; the kernel always stayed (0)


def write_learn_bag(path, person_frames=()):
    """Write a bag as the learn stack records it: frames, executed actions, teacher labels.

    In `person_frames` a person overrode the action (index 3, "up", source override): the
    arbiter executed it and published it as a label too, before the expert's label (even
    frames) or after it (odd frames).
    """
    store = make_typestore()
    types = store.types

    def header(t):
        return types['std_msgs/msg/Header'](stamp=types['builtin_interfaces/msg/Time'](
            sec=t // 10**9, nanosec=t % 10**9), frame_id='camera')

    def action(t, index, source):
        return types['nanobot_msgs/msg/Action'](
            header=header(t), index=index, names=['dx', 'dy'],
            values=np.asarray(ACTION_VECTORS[index], np.float32), duration=0.0, source=source)

    with BagWriter(path, typestore=store) as bag:
        for topic in (IMAGE, ACTION, TEACHER_ACTION, INSTRUCTION):
            bag.add_topic(topic.fqn(), topic.msgtype)
        bag.write_message(INSTRUCTION.fqn(), START_NS - 1000,
                          types['std_msgs/msg/String'](data='go to the red marker'))
        for frame in range(FRAMES):
            t = START_NS + frame * FRAME_NS
            image = np.full((40, 40, 3), 10 * frame, np.uint8)
            bag.write_message(IMAGE.fqn(), t, types['sensor_msgs/msg/Image'](
                header=header(t), height=40, width=40, encoding='rgb8', is_bigendian=0,
                step=120, data=image.reshape(-1)))
            # The label may be logged before or after the executed action.
            labels_first = frame % 2 == 0
            if labels_first:
                bag.write_message(TEACHER_ACTION.fqn(), t + 1_000_000,
                                  action(t, teacher_index(frame), 'expert'))
            bag.write_message(ACTION.fqn(), t + 2_000_000, action(t, 0, 'kernel'))
            if not labels_first:
                bag.write_message(TEACHER_ACTION.fqn(), t + 3_000_000,
                                  action(t, teacher_index(frame), 'expert'))
            if frame in person_frames:
                bag.write_message(TEACHER_ACTION.fqn(), t + (4_000_000 if frame % 2 else 500_000),
                                  action(t, PERSON_UP, PERSON_SOURCE))
    return path


def test_the_trainer_learns_the_teachers_label_not_the_executed_action(tmp_path):
    bag = write_learn_bag(tmp_path / 'learn_bag')
    executed = BagDataset(bag)
    assert [executed[i].action_index for i in range(len(executed))] == [0] * (FRAMES - 1)

    labelled = BagDataset(bag, label_topic=TEACHER_ACTION.name)
    assert [labelled[i].action_index for i in range(len(labelled))] == \
        [teacher_index(f) for f in range(FRAMES - 1)]

    buffer = DemoBuffer(processor_for(tiny_config()), 2)
    assert BagSource([tmp_path], buffer).poll() == FRAMES - 1
    np.testing.assert_array_equal(
        np.stack(buffer.actions),
        np.asarray([ACTION_VECTORS[teacher_index(f)] for f in range(FRAMES - 1)], np.float32))


def test_a_persons_label_overrules_the_scripted_teachers(tmp_path):
    person_frames = (1, 4)  # logged after the expert's label (odd), before it (even)
    bag = write_learn_bag(tmp_path / 'learn_bag', person_frames)
    labelled = BagDataset(bag, label_topic=TEACHER_ACTION.name)
    assert [labelled[i].action_index for i in range(len(labelled))] == \
        [PERSON_UP if f in person_frames else teacher_index(f) for f in range(FRAMES - 1)]
