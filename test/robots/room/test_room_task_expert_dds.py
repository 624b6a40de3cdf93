"""The room node's scripted expert drives its task over DDS: every episode succeeds, in order.

The room node (task: room, expert) answers each frame on teacher/action; the test relays each
answer to robot/action (as the learn stack's arbiter does), once the first instruction is here
so that no episode runs ahead of the test's subscriptions. The instructions on /instruction
are each episode's, and, in a two-step episode, what is left once the first object is
collected, as the task in one process says them.
"""
from nanobot_ros.contract import ACTION, TEACHER_ACTION
from nanobot_ros.robots.room.task import RoomTask, RoomTaskConfig
from node_status import node_status, relay_once_instructed, watch_task

EPISODES = 4
SEED = 1000


def played_instructions(config: RoomTaskConfig) -> list:
    """Return every instruction the expert's episodes show, in order, played in this process."""
    task, shown = RoomTask(config), []
    for seed in range(SEED, SEED + EPISODES):
        shown.append(task.reset(seed))
        while not task.done:
            task.step(task.expert())
            if not task.done and task.instruction != shown[-1]:
                shown.append(task.instruction)
        assert task.reached
    task.close()
    return shown


def test_the_room_nodes_expert_solves_its_episodes_over_dds(ros, nodes):
    expected = played_instructions(RoomTaskConfig(phrasings='heldout'))
    assert len(expected) > EPISODES  # a two-step episode among them
    reports, instructions = watch_task(ros, 20)
    relay_once_instructed(ros, instructions, TEACHER_ACTION, ACTION)
    room = nodes.start('room', params={
        'task': 'room', 'phrasings': 'heldout', 'seed': SEED, 'episode_limit': EPISODES,
        'expert': True, 'frame_rate': 0.0, 'action_timeout': 2.0})
    assert ros.spin_until(lambda: node_status(reports, 'room')[0].startswith(
        'episode limit reached') and len(instructions) >= len(expected), timeout=120), \
        (node_status(reports, 'room'), instructions)
    message, values = node_status(reports, 'room')
    assert message == f'episode limit reached: {EPISODES}/{EPISODES}'
    assert (values['episodes'], values['successes'], values['actions_rejected']) == (
        EPISODES, EPISODES, 0)
    assert instructions == expected
    assert nodes.stop(room) == 0
