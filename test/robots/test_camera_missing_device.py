"""A missing camera: a clear error, retries with a growing delay, no crash, a clean stop."""
import re

import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

from nanobot_ros.contract import DIAGNOSTICS, STATUS
from nanobot_ros.nodes.common import qos_profile


@pytest.mark.parametrize('source,reason', [
    ('/dev/video77', 'camera device /dev/video77 does not exist'),
    ('9', "OpenCV cannot open device '9'"),
])
def test_missing_camera_is_retried_with_backoff(ros, nodes, source, reason):
    reports = []
    ros.node.create_subscription(DiagnosticArray, DIAGNOSTICS.fqn(), reports.append,
                                 qos_profile(STATUS))
    camera = nodes.start('camera', params={'source': source, 'retry_initial': 0.1,
                                           'retry_max': 0.4})

    def failures():
        values = [{kv.key: kv.value for kv in s.values} for r in reports for s in r.status
                  if s.hardware_id == 'camera']
        return int(values[-1]['open_failures']) if values else 0

    assert ros.spin_until(lambda: failures() >= 5, timeout=20), nodes.output(camera)
    status = [s for r in reports for s in r.status if s.hardware_id == 'camera'][-1]
    assert status.level == DiagnosticStatus.ERROR
    assert reason in status.message
    assert camera.poll() is None  # still running: no crash, no restart loop
    delays = re.findall(r'retrying in ([0-9.]+) s', nodes.output(camera))
    assert delays[:5] == ['0.10', '0.20', '0.40', '0.40', '0.40'], delays
    assert nodes.stop(camera) == 0
