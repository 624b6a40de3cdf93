"""The explorer's JSON API on a small recorded bag: answers, errors and the introspection seam."""
import base64
import json
import threading
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest
import torch

from bag_fixtures import frame, write_session_bag
from nanobot_ros.explorer.server import Explorer, make_server
from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.persistence import WorldModelCheckpoints
from nanobot_ros.learning.world_model import WorldModel, WorldModelConfig

CONFIG = dict(img_size=16, patch_size=8, embed_dim=16, depth=1, predictor_depth=1)


@pytest.fixture
def served(tmp_path):
    sessions = tmp_path / 'sessions'
    write_session_bag(sessions / 'toroidal_dot' / 'lone', steps=12)
    (sessions / 'toroidal_dot' / 'cut').mkdir()
    (sessions / 'toroidal_dot' / 'cut' / 'cut_0.mcap').write_bytes(b'\x89MCAP0\r\n')
    checkpoints = tmp_path / 'checkpoints'
    WorldModelCheckpoints(checkpoints / 'toroidal_dot').save(AdaptiveWorldModelLoop(
        WorldModel(WorldModelConfig.small(**CONFIG)), LoopConfig()))
    explorer = Explorer(sessions, [checkpoints])
    server = make_server(explorer, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_address[1]}', explorer, checkpoints
    server.shutdown()
    server.server_close()


def call(url, body=None):
    data = None if body is None else (body if isinstance(body, bytes) else
                                      json.dumps(body).encode())
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_sessions_frames_predictions_and_training(served):
    url, explorer, checkpoints = served
    status, body = call(url + '/api/sessions')
    assert status == 200 and [s['id'] for s in json.loads(body)] == [
        'toroidal_dot/cut', 'toroidal_dot/lone']
    status, body = call(url + '/api/session?id=toroidal_dot/lone')
    info = json.loads(body)
    assert info['frames'] == 11 and info['actions'] == [i % 2 for i in range(11)]
    status, body = call(url + '/api/frame?id=toroidal_dot/lone&index=4&which=next')
    image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    assert status == 200 and np.array_equal(image, frame(5))
    path = str(checkpoints / 'toroidal_dot' / 'world_model.safetensors')
    assert json.loads(call(url + '/api/checkpoints?robot_type=toroidal_dot')[1])[0]['path'] \
        == path
    assert json.loads(call(url + '/api/load', {'path': path})[1])['actions'] == [0, 1]
    status, body = call(url + '/api/predict', {'id': 'toroidal_dot/lone', 'index': 4})
    prediction = json.loads(body)
    assert status == 200 and prediction['action'] == 0 and len(prediction['predictions']) == 2
    assert list(prediction['attention']) == ['last layer, future queries']
    assert prediction['levels'] == []
    # Training stops at the loss threshold (any loss is below 1.0: one step).
    status, body = call(url + '/api/train', {'id': 'toroidal_dot/lone', 'start': 0,
                                             'stop': 10, 'steps': 50, 'loss_threshold': 1.0})
    assert status == 200
    deadline = time.monotonic() + 60
    while json.loads(call(url + '/api/train')[1])['state'] != 'done':
        assert time.monotonic() < deadline
        time.sleep(0.1)
    progress = json.loads(call(url + '/api/train')[1])
    assert progress['step'] == 1 and progress['message'].endswith('<= threshold 1.0')
    assert progress['model']['autoencoder_training_step'] == 1


def test_bad_requests_get_clear_errors(served):
    url, explorer, _ = served
    assert call(url + '/api/session?id=toroidal_dot/nothing') == (
        422, json.dumps({'error': f'toroidal_dot/nothing: no such session in '
                                  f'{explorer.sessions.resolve()}'}).encode())
    status, body = call(url + '/session/toroidal_dot/cut')
    assert status == 422 and b'This session cannot be opened' in body
    assert b'toroidal_dot/cut: no frames answered by an action' in body
    assert call(url + '/api/session?id=../..')[0] == 422
    assert call(url + '/static/../server.py')[0] == 404
    assert call(url + '/api/predict', b'{not json')[0] == 400
    assert json.loads(call(url + '/api/predict', {'id': 'toroidal_dot/lone', 'index': 0})[1]) \
        == {'error': 'load a world model checkpoint first'}
    explorer.load(str(_ckpt(explorer)))
    assert json.loads(call(url + '/api/predict', {'id': 'toroidal_dot/lone', 'index': 99})[1]) \
        == {'error': 'frame 99 is not in 0..10'}
    assert json.loads(call(url + '/api/train', {'id': 'toroidal_dot/lone', 'start': 5,
                                                'stop': 20, 'steps': 5})[1]) == {
        'error': 'frame range 5..20 is not within 0..10'}


def _ckpt(explorer):
    return explorer.checkpoint_roots[0] / 'toroidal_dot' / 'world_model.safetensors'


def test_the_models_own_introspection_is_shown(served):
    url, explorer, checkpoints = served
    path = str(checkpoints / 'toroidal_dot' / 'world_model.safetensors')
    assert call(url + '/api/load', {'path': path})[0] == 200
    prediction = json.loads(call(url + '/api/predict', {'id': 'toroidal_dot/lone',
                                                        'index': 3})[1])
    # The world model's own diagnostics of the recorded transition, as the node logs them.
    session = explorer.session('toroidal_dot/lone')
    sample = session.sample(3)
    model = explorer.bench.model
    history, past = explorer.bench._history(session, 3)
    actions = torch.tensor([list(past) + [explorer.bench.loop.actions.index(sample.action_index)]])
    expected, heatmap = model.diagnostics(model.to_tensor(list(history))[None], actions,
                                          model.to_tensor([sample.next_observation]))
    _, disagreement = model.predict_all(history, past, [0, 1])
    expected.update({f'uncertainty/{a}': float(d) for a, d in zip([0, 1], disagreement)})
    assert prediction['metrics'] == pytest.approx(expected)
    assert {'attention/apa', 'attention/alf', 'attention/ttar', 'attention/ri@16',
            'attention/entropy', 'attention/uniform/apa', 'counterfactual/shuffled_loss',
            'counterfactual/zeroed_loss', 'action_sensitivity'} <= set(prediction['metrics'])
    picture = cv2.imdecode(np.frombuffer(base64.b64decode(
        prediction['attention']['last layer, future queries'].split(',')[1]), np.uint8),
        cv2.IMREAD_COLOR)
    assert picture.shape == heatmap.shape  # future queries x all tokens, 4 px per cell
    assert prediction['levels'] == [] and prediction['model']['introspection'] is True
