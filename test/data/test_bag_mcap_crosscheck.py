"""A bag the recorder wrote, read by `mcap` + `mcap-ros2-support` (not this project's code).

The recorder's default: zstd-compressed chunks, which the mcap library reads as they are.
"""
from pathlib import Path

from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
import yaml

from bag_fixtures import (Diagnostics, frame, make_image, make_telemetry,
                          wait_for_subscribers)
from nanobot_ros.contract import ACTION, COMMAND, IMAGE, SENSOR, TELEMETRY
from nanobot_ros.data.bags import Bag, find_bags
from nanobot_ros.data.convert import make_action
from nanobot_ros.nodes.common import qos_profile
from nanobot_msgs.msg import Action, Telemetry
from sensor_msgs.msg import Image

COUNT = 30


def test_mcap_library_decodes_what_the_recorder_wrote(ros, nodes, tmp_path):
    diagnostics = Diagnostics(ros)
    recorder = nodes.start('recorder', params={
        'output_dir': str(tmp_path), 'robot_type': 'crosscheck',
        'topics': f"['{IMAGE.fqn()}', '{ACTION.fqn()}', '{TELEMETRY.fqn()}']"})
    images = ros.node.create_publisher(Image, IMAGE.fqn(), qos_profile(SENSOR))
    actions = ros.node.create_publisher(Action, ACTION.fqn(), qos_profile(COMMAND))
    telemetry = ros.node.create_publisher(Telemetry, TELEMETRY.fqn(), qos_profile(SENSOR))
    wait_for_subscribers(ros, [images, actions, telemetry])
    ros.spin_for(0.5)
    for i in range(COUNT):
        stamp = ros.node.get_clock().now().to_msg()
        images.publish(make_image(frame(i, 32), i, stamp))
        actions.publish(make_action(i % 2, ['motor_right'], [0.12 * (i % 2)], 0.2,
                                    source=f'test {i}', stamp=stamp))
        telemetry.publish(make_telemetry(i, stamp))
        ros.spin_for(0.02)

    def all_written():  # every action (reliable) arrived and nothing received is still queued
        values = diagnostics.recorder(tmp_path)
        return (values.get('topics', {}).get(ACTION.fqn(), {}).get('written') == COUNT
                and values['messages_written'] == values['messages_received'])
    assert ros.spin_until(all_written, 20), diagnostics.recorder(tmp_path)
    assert nodes.stop(recorder) == 0, nodes.output(recorder)

    [bag_dir] = find_bags(tmp_path)
    ours = Bag(bag_dir)
    assert ours.topics[ACTION.fqn()].count == COUNT  # reliable: every action arrives
    [storage] = list(Path(bag_dir).glob('*.mcap'))
    decoded = {}
    with open(storage, 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        chunks = reader.get_summary().chunk_indexes
        assert chunks and {c.compression for c in chunks} == {'zstd'}
        assert sum(c.compressed_size for c in chunks) < sum(c.uncompressed_size for c in chunks)
        for schema, channel, message, msg in reader.iter_decoded_messages():
            decoded.setdefault(channel.topic, []).append(msg)
        # The .mcap carries the session metadata itself (rosbag2's metadata record), so a lone
        # file opened in Foxglove or the mcap CLI still says what robot and config it holds.
        [record] = [m for m in reader.iter_metadata() if m.name == 'rosbag2']
        in_file = yaml.safe_load(record.metadata['serialized_metadata'])['custom_data']
    assert {t: len(m) for t, m in decoded.items()} == {t: i.count for t, i in ours.topics.items()}
    assert len(decoded[IMAGE.fqn()]) >= COUNT * 0.8  # best effort, same machine
    for msg in decoded[ACTION.fqn()]:
        i = int(msg.source.split()[1])
        assert msg.index == i % 2 and list(msg.names) == ['motor_right']
        assert abs(msg.values[0] - 0.12 * (i % 2)) < 1e-6 and abs(msg.duration - 0.2) < 1e-6
    for msg in decoded[IMAGE.fqn()]:
        i = int(msg.header.frame_id)
        assert (msg.width, msg.height, msg.encoding, msg.step) == (32, 32, 'rgb8', 96)
        assert bytes(msg.data) == frame(i, 32).tobytes()
    for msg in decoded[TELEMETRY.fqn()]:
        assert list(msg.names) == ['speed', 'angle']
        assert list(msg.values) == [float(msg.sequence), -0.5 * msg.sequence]
    custom = ours.custom_data
    assert custom['nanobot.robot_type'] == 'crosscheck'
    assert custom['nanobot.software_version'].startswith('nanobot_ros')
    assert 'nanobot.action_space' in custom and 'nanobot.config' in custom
    assert in_file == custom
