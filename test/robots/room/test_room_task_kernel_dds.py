"""The room task driven by the Rust kernel over DDS: its actions move the robot, episodes count.

A room-sized export (64 px, patch 16, categorical head over the room's five table rows, named
motor_left / motor_right as the JetBot driver reads them) whose head always prefers `left`:
the Rust kernel (ort) answers every frame of the room node (task: room, lockstep) with that
row (on kernel/action; the test relays it to robot/action once the first instruction is here,
as the learn stack's arbiter does, so no episode runs ahead of the test's subscriptions, and
none of the kernel's safe stops), the robot turns on the spot, never stops in front of
anything, and each episode fails when its 100-step budget runs out; the next starts from the
next seed with its instruction.
"""
import math

from nav_msgs.msg import Odometry
import torch

from kernel_harness import KERNELS
from nanobot_ros.contract import ACTION, KERNEL_ACTION, ODOM
from nanobot_ros.nodes.common import OK, qos_profile
from nanobot_ros.policy.export import export_policy
from nanobot_ros.policy.modeling import Policy
from nanobot_ros.robots.jetbot.motors import MOTOR_NAMES
from nanobot_ros.robots.room.task import LEFT, RoomTask, RoomTaskConfig
from nanobot_ros.robots.room.world import ROOM_LEFT, ROOM_RIGHT
from node_status import node_status, relay_once_instructed, watch_task
from policy_fixtures import tiny_config

EPISODES = 2
SEED = 500
TABLE = tuple(zip(ROOM_LEFT, ROOM_RIGHT))


def always_left_export(folder):
    """Export a room-sized categorical policy whose answer is always `left`."""
    torch.manual_seed(0)
    policy = Policy(tiny_config(head='categorical', image_size=64, patch_size=16,
                                max_text_len=48), TABLE).eval()
    with torch.no_grad():
        policy.head[-1].weight.zero_()
        policy.head[-1].bias.copy_(torch.nn.functional.one_hot(torch.tensor(LEFT), 5) * 5.0)
    return export_policy(policy, folder / 'room_policy.onnx', action_names=MOTOR_NAMES,
                         discrete_actions=TABLE)


def test_the_rust_kernel_drives_the_room_task(ros, nodes, tmp_path):
    task = RoomTask(RoomTaskConfig())
    expected = [task.reset(SEED + i) for i in range(EPISODES + 1)]
    task.close()
    reports, instructions = watch_task(ros, 10)
    yaws = []
    ros.node.create_subscription(
        Odometry, ODOM.fqn(),
        lambda m: yaws.append(2 * math.atan2(m.pose.pose.orientation.z,
                                             m.pose.pose.orientation.w)), qos_profile(ODOM))
    # The model's answers only: the kernel's safe stops (its watchdog's while the room starts, a
    # frame before its instruction came) would reach the room as `stop`s.
    relay_once_instructed(ros, instructions, KERNEL_ACTION, ACTION,
                          accept=lambda action: ':safe:' not in action.source)
    executable, backend, _ = KERNELS['rust-ort']
    kernel = nodes.start('kernel', '--ros-args', '-r', 'robot/action:=kernel/action',
                         executable=executable, params={
                             'model_path': str(always_left_export(tmp_path)), 'stale_after': 2.0,
                             'control_period': 2.0, **backend})
    # The room steps on every answer, a safe stop too: start it once the model is loaded.
    assert ros.spin_until(lambda: any(s.hardware_id == 'kernel' and s.level == OK
                                      for r in reports for s in r.status), timeout=60)
    room = nodes.start('room', params={'task': 'room', 'seed': SEED, 'episode_limit': EPISODES,
                                       'frame_rate': 0.0, 'action_timeout': 2.0})
    assert ros.spin_until(lambda: node_status(reports, 'room')[0].startswith(
        'episode limit reached'), timeout=120), node_status(reports, 'room')
    message, values = node_status(reports, 'room')
    assert message == f'episode limit reached: 0/{EPISODES}'
    budget = RoomTaskConfig().step_budget
    assert (values['episodes'], values['failures'], values['episode_seed']) == (
        EPISODES, EPISODES, SEED + EPISODES - 1)
    # every step the kernel's `left`, through the driver's intake, none rejected
    assert values['action_counts'] == {str(LEFT): EPISODES * budget}, values
    assert values['actions_rejected'] == 0
    assert instructions[:EPISODES] == expected[:EPISODES]
    # the robot turned left (counter-clockwise) on the spot, step after step
    turns = [(b - a + math.pi) % (2 * math.pi) - math.pi for a, b in zip(yaws, yaws[1:])]
    assert sum(t > 0.05 for t in turns[:20]) >= 15, turns[:20]
    assert nodes.stop(room) == 0 and nodes.stop(kernel) == 0
