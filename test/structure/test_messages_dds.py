"""nanobot_msgs cross a process boundary over DDS with every field intact."""
import subprocess
import sys
import textwrap

PUBLISHER = textwrap.dedent('''
    import time
    import rclpy
    from nanobot_msgs.msg import Action, SurfaceVector, Telemetry
    rclpy.init()
    node = rclpy.create_node('message_publisher')
    pubs = {t: node.create_publisher(t, '/test/' + t.__name__, 10)
            for t in (Action, Telemetry, SurfaceVector)}
    action = Action(index=1, names=['motor_left', 'motor_right'], values=[0.0, 0.12],
                    duration=0.2, source='pytest')
    action.header.stamp.sec, action.header.frame_id = 42, 'base_link'
    telemetry = Telemetry(sequence=4000000000, names=['joint0', 'accel_x'], values=[0.5, -9.81])
    surface = SurfaceVector(sequence=7, source='hebbian', data=[float(i) for i in range(64)])
    for _ in range(600):
        pubs[Action].publish(action)
        pubs[Telemetry].publish(telemetry)
        pubs[SurfaceVector].publish(surface)
        time.sleep(0.05)
''')


def test_custom_messages_round_trip_between_processes(ros):
    from nanobot_msgs.msg import Action, SurfaceVector, Telemetry
    received = {}
    for msg_type in (Action, Telemetry, SurfaceVector):
        ros.node.create_subscription(msg_type, '/test/' + msg_type.__name__,
                                     lambda m, t=msg_type: received.setdefault(t, m), 10)
    publisher = subprocess.Popen([sys.executable, '-c', PUBLISHER])
    try:
        assert ros.spin_until(lambda: len(received) == 3, timeout=20), received
    finally:
        publisher.kill()
        publisher.wait()
    action = received[Action]
    assert (action.index, list(action.names), action.source) == (
        1, ['motor_left', 'motor_right'], 'pytest')
    assert list(action.values) == [0.0, 0.11999999731779099]  # float32 on the wire
    assert abs(action.duration - 0.2) < 1e-6
    assert (action.header.stamp.sec, action.header.frame_id) == (42, 'base_link')
    telemetry = received[Telemetry]
    assert telemetry.sequence == 4000000000
    assert list(telemetry.names) == ['joint0', 'accel_x']
    assert [round(v, 4) for v in telemetry.values] == [0.5, -9.81]
    surface = received[SurfaceVector]
    assert (surface.sequence, surface.source) == (7, 'hebbian')
    assert list(surface.data) == [float(i) for i in range(64)]
