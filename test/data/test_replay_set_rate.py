"""replay: setting `rate` while playing (like ~/set_rate) speeds up what is left of the pass."""
import time

from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from std_msgs.msg import String

from bag_fixtures import Diagnostics, write_count_bag
from nanobot_ros.contract import COMMAND
from nanobot_ros.nodes.common import qos_profile


def test_a_new_rate_applies_from_that_moment(ros, nodes, tmp_path):
    bag = write_count_bag(tmp_path / 'count', 10, spacing_ns=10**9)  # m0 ... m9, 1 s apart
    received = []
    ros.node.create_subscription(String, '/count', lambda m: received.append(m.data),
                                 qos_profile(COMMAND))
    diagnostics = Diagnostics(ros)
    replay = nodes.start('replay', params={'bags': f"['{bag}']",
                                           'wait_for_subscribers': "['/count']"})
    assert ros.spin_until(lambda: received, 20)  # m0; at rate 1 the rest takes 9 s
    client = ros.node.create_client(SetParameters, '/replay/set_parameters')
    assert client.wait_for_service(timeout_sec=10.0)

    def set_rate(rate):
        future = client.call_async(SetParameters.Request(parameters=[Parameter(
            name='rate', value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE,
                                              double_value=rate))]))
        assert ros.spin_until(future.done, 10.0)
        return future.result().results[0]
    refused = set_rate(0.0)
    assert not refused.successful and refused.reason == 'rate must be > 0, got 0.0'
    asked = time.monotonic()
    assert set_rate(20.0).successful
    assert ros.spin_until(lambda: len(received) == 10, 20), received
    # The 9 s left take 0.45 s at rate 20 (3 s: a loaded machine's slack, far below 9 s).
    assert time.monotonic() - asked < 3.0
    assert ros.spin_until(lambda: diagnostics.values('replay').get('done'), 5)
    assert nodes.stop(replay) == 0, nodes.output(replay)
    assert received == [f'm{i}' for i in range(10)]
