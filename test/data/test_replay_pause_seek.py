"""replay ~/pause, ~/resume, start_paused and seek_s: paused publishes nothing; a seek lands."""
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from std_msgs.msg import String
from std_srvs.srv import Trigger

from bag_fixtures import Diagnostics, write_count_bag
from nanobot_ros.contract import COMMAND
from nanobot_ros.nodes.common import qos_profile


def _call(ros, service_type, service, request):
    client = ros.node.create_client(service_type, service)
    assert client.wait_for_service(timeout_sec=20.0), service
    future = client.call_async(request)
    assert ros.spin_until(future.done, 10.0)
    return future.result()


def _trigger(ros, name):
    return _call(ros, Trigger, f'/replay/{name}', Trigger.Request())


def _seek(ros, seconds):
    value = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=seconds)
    answer = _call(ros, SetParameters, '/replay/set_parameters', SetParameters.Request(
        parameters=[Parameter(name='seek_s', value=value)]))
    return answer.results[0]


def test_paused_publishes_nothing_and_a_seek_lands_on_its_message(ros, nodes, tmp_path):
    bag = write_count_bag(tmp_path / 'count', 20)  # m0 ... m19, 0.1 s apart
    received = []
    ros.node.create_subscription(String, '/count', lambda m: received.append(m.data),
                                 qos_profile(COMMAND))
    diagnostics = Diagnostics(ros)
    replay = nodes.start('replay', params={'bags': f"['{bag}']", 'start_paused': True,
                                           'wait_for_subscribers': "['/count']"})
    assert ros.spin_until(lambda: diagnostics.values('replay').get('paused') is True, 20)
    ros.spin_for(0.5)  # an absence: nothing to poll for
    assert received == []
    refused = _seek(ros, 99.0)
    assert not refused.successful and 'seek_s must be a pass time in [0, 1.900]' in \
        refused.reason
    assert _seek(ros, 1.0).successful  # m10 is logged 1.0 s after m0
    ros.spin_for(0.3)
    assert received == []  # a seek does not resume
    assert _trigger(ros, 'resume').message == 'resumed'
    assert ros.spin_until(lambda: len(received) >= 3, 10)
    assert _trigger(ros, 'pause').message == 'paused'
    paused_at = len(received)
    ros.spin_for(0.5)
    assert len(received) == paused_at and paused_at < 10
    assert _trigger(ros, 'toggle_paused').message == 'resumed'
    assert ros.spin_until(lambda: diagnostics.values('replay').get('done'), 10)
    assert ros.spin_until(lambda: len(received) == 10, 5), received
    assert nodes.stop(replay) == 0, nodes.output(replay)
    assert received == [f'm{i}' for i in range(10, 20)]
