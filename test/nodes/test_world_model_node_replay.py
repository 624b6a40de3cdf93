"""replay stands in for the robot: the world model learns the RECORDED actions, not its own.

The recorded transitions are all action 1 (replay's filter); the world model's own choice is
always action 0 (constant selector). Every transition it learns must say 1: it labels them
with what the robot (replay) reports on /robot/action_executed, not with what it sent.
"""
import math

from bag_fixtures import Diagnostics, write_session_bag
from nanobot_msgs.msg import Action, WorldModelStatus
from nanobot_ros.contract import (ACTION, ACTION_EXECUTED, COMMAND, IMAGE, STATUS,
                                  WORLD_MODEL_STATUS)
from nanobot_ros.nodes.common import qos_profile
from world_model_node_params import small_world_model

RECORDED_TRANSITIONS = 9  # steps 1, 3, ..., 17 of 20: action 1 with a next frame


def test_world_model_learns_the_recorded_actions_through_replay(ros, nodes, tmp_path):
    write_session_bag(tmp_path / 'bag', steps=20)  # 16 px frames, action i % 2 answers frame i
    commands, statuses = [], []
    ros.node.create_subscription(Action, ACTION.fqn(), commands.append, qos_profile(COMMAND))
    ros.node.create_subscription(WorldModelStatus, WORLD_MODEL_STATUS.fqn(), statuses.append,
                                 qos_profile(STATUS))
    diagnostics = Diagnostics(ros)
    world_model = nodes.start('world_model', params=small_world_model(
        img_size=16, patch_size=4, selector='constant', constant_action=0))
    replay = nodes.start('replay', params={
        'bags': f"['{tmp_path}']", 'mode': 'robot', 'action_filter': 'index=1',
        'wait_for_subscribers': f"['{IMAGE.fqn()}', '{ACTION_EXECUTED.fqn()}']",
        'delay_s': 1.0})

    def learned_all():
        assert world_model.poll() is None, nodes.output(world_model)[-3000:]
        values = diagnostics.values('world_model')
        return (diagnostics.values('replay').get('done')
                and sum(values.get('transition_actions', {}).values()) >= RECORDED_TRANSITIONS)
    ros.spin_until(learned_all, 90)
    ros.spin_for(1.5)  # one more diagnostics report after the last frame
    values = diagnostics.values('world_model')
    assert nodes.stop(replay) == 0, nodes.output(replay)
    assert nodes.stop(world_model, timeout=40) == 0, nodes.output(world_model)[-3000:]

    # All recorded transitions learned, each labelled with the recorded action 1; the steps
    # between them (the next transition's frame follows no recorded action) are not learned.
    assert values['transition_actions'] == {'1': RECORDED_TRANSITIONS}, values
    assert values['transitions'] == RECORDED_TRANSITIONS
    assert values['executed_reports'] == RECORDED_TRANSITIONS
    assert values['unreported_steps'] == RECORDED_TRANSITIONS - 1
    # Its own commands were action 0 and reached no robot: every step did something else.
    assert commands and {c.index for c in commands} == {0}
    assert all(c.source == 'world_model' for c in commands)
    assert values['answers_missed'] > 0
    # Only action 1's outcome was ever compared with a prediction.
    errors = statuses[-1].last_prediction_error
    assert math.isnan(errors[0]) and math.isfinite(errors[1]), list(errors)
