"""The camera node reads a JetBot's camera over RPyC and survives the robot going away."""
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from sensor_msgs.msg import Image

from camera_video import write_video
from jetbot_emulator import EmulatedJetBot
from nanobot_ros.contract import DIAGNOSTICS, IMAGE, SENSOR, STATUS
from nanobot_ros.data.convert import image_to_numpy
from nanobot_ros.nodes.common import qos_profile


def test_camera_over_rpyc_reconnects(ros, nodes, tmp_path):
    video = write_video(tmp_path / 'robot_view.avi', frames=20, fps=30.0)
    robot = EmulatedJetBot(tmp_path, camera=str(video)).start()
    try:
        images, reports = [], []
        ros.node.create_subscription(Image, IMAGE.fqn(), images.append, qos_profile(SENSOR))
        ros.node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(), reports.append,
                                     qos_profile(STATUS))
        camera = nodes.start('camera', params={
            'source': f'rpyc://127.0.0.1:{robot.port}', 'frame_rate': 20.0, 'width': 64,
            'height': 48, 'retry_initial': 0.1, 'retry_max': 0.4})
        assert ros.spin_until(lambda: len(images) >= 10, timeout=20), nodes.output(camera)
        rgb = image_to_numpy(images[-1])
        assert rgb.shape == (48, 64, 3)
        assert rgb[24, 2, 0] > 200 and rgb[24, 2, 2] < 50  # the robot's red, in RGB order

        def level():
            found = [s.level for r in reports for s in r.status if s.hardware_id == 'camera']
            return found[-1] if found else None

        # The robot disappears: an error status, retries, no crash.
        robot.kill()
        assert ros.spin_until(lambda: level() == DiagnosticStatus.ERROR,
                              timeout=10)
        assert ros.spin_until(lambda: 'cannot reach the JetBot camera' in nodes.output(camera),
                              timeout=5)
        assert camera.poll() is None

        # It comes back: frames flow again without restarting the node.
        robot.start()
        count = len(images)
        assert ros.spin_until(lambda: len(images) >= count + 10, timeout=15)
        assert ros.spin_until(lambda: level() == DiagnosticStatus.OK, timeout=5)
        assert nodes.stop(camera) == 0
    finally:
        robot.stop()
