"""The live view over the Foxglove WebSocket protocol, with a client written against it.

While `./run.sh sim`'s stack runs (recorder, foxglove, sim, world model), the client:
subscribes; receives camera frames and world model status whose CDR bytes are exactly those
the recorder wrote for the same message (and decode to a 224x224 rgb8 frame); receives the
status' numbers as JSON equal to the decoded fields; publishes an instruction and an action
override, which the world model sends as its next action and the sim executes (an override
the sim could not execute in time is sent again with the next frame: it is executed once).
"""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from nanobot_ros.data.bags import Bag, find_bags, make_typestore
from nanobot_ros import contract
from nanobot_ros.live_view import message_numbers
from foxglove_client import FoxgloveClient, free_port
from repo_paths import ROOT

CAMERA, STATUS, ACTION = (contract.IMAGE.fqn(), contract.WORLD_MODEL_STATUS.fqn(),
                          contract.ACTION.fqn())
EXECUTED, OVERRIDE, INSTRUCTION = (contract.ACTION_EXECUTED.fqn(), contract.ACTION_OVERRIDE.fqn(),
                                   contract.INSTRUCTION.fqn())


def _cdr(store, msgtype: str, **fields) -> bytes:
    types = store.types
    header = types['std_msgs/msg/Header'](
        stamp=types['builtin_interfaces/msg/Time'](sec=0, nanosec=0), frame_id='')
    if 'header' in types[msgtype].__dataclass_fields__:
        fields['header'] = header
    return bytes(store.serialize_cdr(types[msgtype](**fields), msgtype))


def test_a_protocol_client_watches_and_steers_the_sim_stack(ros_domain, tmp_path):
    port = free_port()
    stack = subprocess.Popen(
        [sys.executable, '-m', 'nanobot_ros.stack', '--config', str(ROOT / 'config' / 'sim.yaml'),
         '--duration', '120', '--runs', str(tmp_path / 'runs'),
         '--set', f'foxglove.port={port}',
         '--set', f'world_model.checkpoint_dir={tmp_path / "checkpoints"}',
         '--set', 'world_model.reconstruction_threshold=1.0'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = make_typestore()
    received = {CAMERA: [], STATUS: [], ACTION: [], EXECUTED: [], f'{STATUS}/numbers': []}
    try:
        client = FoxgloveClient(f'ws://127.0.0.1:{port}', timeout=60)
        deadline = time.monotonic() + 90
        sent_override = None
        while time.monotonic() < deadline:
            event = client.receive(timeout=0.5)
            for topic in received:
                if client.channel(topic) and not client.subscribed(topic):
                    client.subscribe(topic)
            if event and event[0] == 'message':
                received[event[1]].append(event[3])
            if sent_override is None and len(received[STATUS]) >= 3 \
                    and len(received[CAMERA]) >= 3:
                client.advertise(INSTRUCTION, 'std_msgs/msg/String')
                client.publish(INSTRUCTION, _cdr(store, 'std_msgs/msg/String',
                                                 data='watch me'))
                client.advertise(OVERRIDE, 'nanobot_msgs/msg/Action')
                time.sleep(0.3)  # the server learns the channel before its data
                client.publish(OVERRIDE, _cdr(
                    store, 'nanobot_msgs/msg/Action', index=1, names=['action'],
                    values=np.array([1.0], np.float32), duration=0.0, source='foxglove'))
                sent_override = time.monotonic()
            overrides = [store.deserialize_cdr(d, 'nanobot_msgs/msg/Action')
                         for d in received[ACTION]]
            overrides = [a for a in overrides if a.source == 'override']
            executed = [store.deserialize_cdr(d, 'nanobot_msgs/msg/Action')
                        for d in received[EXECUTED]]
            done = [e for e in executed if e.source == 'override']
            # (the relay may hand on the sim's report before the action it answers)
            if done and any(a.header.stamp == done[0].header.stamp for a in overrides) \
                    and received[f'{STATUS}/numbers']:
                break
        client.close()
    finally:
        stack.send_signal(signal.SIGINT)
        stdout, stderr = stack.communicate(timeout=120)
    assert f'[stack] live view: ws://127.0.0.1:{port} ' in stderr, stderr[-3000:]
    assert stack.returncode == 0, stderr[-3000:]
    assert client.server_info['capabilities'] == ['clientPublish']
    camera = client.channel(CAMERA)
    assert (camera['encoding'], camera['schemaEncoding'], camera['schemaName']) == \
        ('cdr', 'ros2msg', 'sensor_msgs/msg/Image')
    assert camera['schema'] == store.generate_msgdef('sensor_msgs/msg/Image', ros_version=2)[0]

    # The override went out as the world model's next action (again for the next frame while
    # the sim reported doing something else) and the sim executed it once.
    assert sent_override is not None, {t: len(m) for t, m in received.items()}
    assert [e.index for e in done] == [1], executed
    assert [a.index for a in overrides] == [1] * len(overrides) and \
        overrides[-1].header.stamp == done[0].header.stamp, overrides

    # What the client received is byte for byte what the recorder recorded.
    run_dir = Path(stdout.strip().splitlines()[-1])
    summary = json.loads((run_dir / 'summary.json').read_text())
    recorded = {}
    for bag in find_bags(summary['session']):
        for record in Bag(bag).records():
            recorded.setdefault(record.topic, []).append(record.data)
    frames = [f for f in received[CAMERA] if f in set(recorded[CAMERA])]
    assert len(frames) == len(received[CAMERA]) >= 3
    image = store.deserialize_cdr(frames[0], 'sensor_msgs/msg/Image')
    assert (image.height, image.width, image.encoding, len(image.data)) == \
        (224, 224, 'rgb8', 224 * 224 * 3)
    # (the relay may have subscribed to the status before the recorder did: compare by stamp)

    def by_stamp(data):
        return {(s.header.stamp.sec, s.header.stamp.nanosec): d for d, s in (
            (d, store.deserialize_cdr(d, 'nanobot_msgs/msg/WorldModelStatus')) for d in data)}
    relayed, stored = by_stamp(received[STATUS]), by_stamp(recorded[STATUS])
    both = relayed.keys() & stored.keys()
    assert len(both) >= 3 and all(relayed[k] == stored[k] for k in both)
    # Plottable numbers: the JSON of a status is its decoded numeric fields, exactly.
    numbers = json.loads(received[f'{STATUS}/numbers'][-1])
    status = store.deserialize_cdr({**stored, **relayed}[
        (numbers['header']['stamp']['sec'], numbers['header']['stamp']['nanosec'])],
        'nanobot_msgs/msg/WorldModelStatus')
    assert numbers == message_numbers(status)
    assert numbers['reconstruction_threshold'] == 1.0 and len(numbers['uncertainty']) == 2
    assert numbers['frames'] == status.frames and numbers['gated'] == float(status.gated)
    # Recorded like any other action and instruction; counted by the world model.
    actions = [store.deserialize_cdr(d, 'nanobot_msgs/msg/Action') for d in recorded[ACTION]]
    sent = [a.index for a in actions if a.source == 'override']
    assert sent == [1] * len(sent) and len(sent) >= 1
    assert [store.deserialize_cdr(d, 'std_msgs/msg/String').data
            for d in recorded[INSTRUCTION]] == ['watch me']
    world_model = summary['nodes']['world_model']['values']
    assert (world_model['overrides'], world_model['overrides_rejected'],
            world_model['overrides_retried']) == (1, 0, len(sent) - 1)
    foxglove = summary['nodes']['foxglove']
    assert foxglove['status'] == 'ok' and foxglove['values']['client_messages'] == 2
    assert foxglove['values']['client_rejected'] == 0
