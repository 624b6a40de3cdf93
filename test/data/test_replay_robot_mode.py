"""replay mode robot: frames and the recorded actions answering them, filtered, restamped.

The actions go on /robot/action_executed (what the robot did), never on /robot/action.
"""
from bag_fixtures import Diagnostics, write_session_bag
from nanobot_ros.contract import ACTION, ACTION_EXECUTED, COMMAND, IMAGE, SENSOR
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Action
from sensor_msgs.msg import Image


def test_robot_mode_publishes_filtered_transitions(ros, nodes, tmp_path):
    write_session_bag(tmp_path / 'bag', steps=10)
    frames, actions, commands = [], [], []
    ros.node.create_subscription(Image, IMAGE.fqn(), frames.append, qos_profile(SENSOR))
    ros.node.create_subscription(Action, ACTION_EXECUTED.fqn(), actions.append,
                                 qos_profile(COMMAND))
    ros.node.create_subscription(Action, ACTION.fqn(), commands.append, qos_profile(COMMAND))
    diagnostics = Diagnostics(ros)
    replay = nodes.start('replay', params={
        'bags': f"['{tmp_path}']", 'mode': 'robot', 'action_filter': 'motor_right=0.12',
        'rate': 4.0, 'wait_for_subscribers': f"['{IMAGE.fqn()}', '{ACTION_EXECUTED.fqn()}']",
        'delay_s': 0.5})
    assert ros.spin_until(lambda: diagnostics.values('replay').get('done'), 30)
    ros.spin_for(0.5)
    assert nodes.stop(replay) == 0, nodes.output(replay)
    # 4 matching transitions (steps 1, 3, 5, 7), none contiguous: frame, action, next frame.
    assert [a.index for a in actions] == [1, 1, 1, 1]
    assert commands == []
    assert all(a.source == 'replay' and abs(a.values[0] - 0.12) < 1e-6 for a in actions)
    frame_stamps = [(f.header.stamp.sec, f.header.stamp.nanosec) for f in frames]
    for action in actions:
        assert (action.header.stamp.sec, action.header.stamp.nanosec) in frame_stamps
    columns = [int(f.data[0:48:3].tolist().index(255)) for f in frames]  # the white column
    assert columns == [1, 2, 3, 4, 5, 6, 7, 8]
