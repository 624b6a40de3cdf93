"""The explorer's HTTP server: the page, its static files and a small JSON API.

Python's own http.server (ThreadingHTTPServer): one request per thread, nothing to install.
Bound to 127.0.0.1 unless told otherwise. Everything served comes from this package.

  GET  /                                 the session list (the app)
  GET  /session/<id>                     the app on one session, or an error page saying why
                                         the session cannot be read (HTTP 422)
  GET  /static/<file>                    the app's JavaScript and CSS
  GET  /api/sessions                     [{id, robot_type, action_space, session, bags}]
  GET  /api/session?id=                  frames, action timeline, metadata
  GET  /api/frame?id=&index=&which=      a recorded frame as PNG (which = current | next)
  GET  /api/checkpoints?robot_type=      world model checkpoints, that robot type's first
  POST /api/load {path}                  load a checkpoint
  POST /api/predict {id, index}          images (PNG data URIs) and errors for one frame
  POST /api/train {id, start, stop, steps, loss_threshold}   start a training run
  POST /api/train/pause, /api/train/resume
  GET  /api/train                        the run's progress
  POST /api/save {directory}             save the model (the world_model node's format)

Errors are JSON {error: message} with status 400 (bad request) or 422 (unusable data).
"""
import base64
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import html
import json
from pathlib import Path
import threading
from urllib.parse import parse_qs, unquote, urlparse

import cv2
import numpy as np

from nanobot_ros.explorer.sessions import list_sessions, Session, SessionError
from nanobot_ros.explorer.workbench import list_checkpoints, Workbench
from nanobot_ros.models.checkpoint import CheckpointError

STATIC = Path(__file__).resolve().parent / 'static'
CONTENT_TYPES = {'.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
                 '.css': 'text/css; charset=utf-8'}
ERROR_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>cannot open {title}</title><link rel="stylesheet" href="/static/explorer.css"></head>
<body><main class="error-page"><h1>This session cannot be opened</h1>
<p class="reason" id="error">{reason}</p><p>Nothing was changed. <a href="/">Back to the
sessions</a>. A session cut short by a crash can often be recovered with
<code>./run.sh nanobot bag repair &lt;session folder&gt;</code>.</p></main></body></html>"""


def png(image) -> bytes:
    ok, data = cv2.imencode('.png', image[:, :, ::-1])
    if not ok:
        raise ValueError('could not encode the image')
    return data.tobytes()


def data_uri(image) -> str:
    return 'data:image/png;base64,' + base64.b64encode(png(image)).decode('ascii')


class ApiError(Exception):
    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


class Explorer:
    """The state behind the API: sessions folder, open sessions, the loaded workbench."""

    def __init__(self, sessions: Path, checkpoint_roots):
        self.sessions = Path(sessions)
        self.checkpoint_roots = [Path(r) for r in checkpoint_roots]
        self.open_sessions = {}
        self.bench = None
        self.lock = threading.Lock()

    def session(self, session_id: str) -> Session:
        with self.lock:
            if session_id not in self.open_sessions:
                try:
                    self.open_sessions[session_id] = Session(self.sessions, session_id)
                except SessionError as error:
                    raise ApiError(HTTPStatus.UNPROCESSABLE_ENTITY, str(error)) from None
            return self.open_sessions[session_id]

    def checkpoints(self, robot_type: str = ''):
        found = list_checkpoints(self.checkpoint_roots)
        return sorted(found, key=lambda c: (c['robot_type'] != robot_type, c['path']))

    def workbench(self) -> Workbench:
        if self.bench is None:
            raise ApiError(HTTPStatus.BAD_REQUEST, 'load a world model checkpoint first')
        return self.bench

    def load(self, path: str) -> dict:
        if self.bench is not None and self.bench.training:
            self.bench.cancel()
        try:
            self.bench = Workbench.load(Path(path))
        except (ValueError, CheckpointError, KeyError) as error:
            raise ApiError(HTTPStatus.UNPROCESSABLE_ENTITY, f'cannot load {path}: {error}') \
                from None
        return self.bench.describe()

    def predict(self, body: dict) -> dict:
        session = self.session(_field(body, 'id', str))
        try:
            result = self.workbench().predict(session, _field(body, 'index', int))
        except SessionError as error:
            raise ApiError(HTTPStatus.BAD_REQUEST, str(error)) from None
        images = ('current', 'decoded', 'recorded_next')
        out = {k: v for k, v in result.items()
               if k not in images + ('predictions', 'attention', 'levels')}
        out.update({k: data_uri(result[k]) for k in images})
        out['predictions'] = [data_uri(p) for p in result['predictions']]
        out['attention'] = {name: data_uri(_heatmap(a)) for name, a in
                            result['attention'].items()}
        out['levels'] = [{'name': level['name'], 'labels': level['labels'],
                          'predictions': [data_uri(p) for p in level['predictions']]}
                         for level in result['levels']]
        out['model'] = self.workbench().describe()
        return out

    def train(self, body: dict) -> dict:
        session = self.session(_field(body, 'id', str))
        threshold = body.get('loss_threshold')
        try:
            job = self.workbench().start_training(
                session, _field(body, 'start', int), _field(body, 'stop', int),
                _field(body, 'steps', int), float(threshold) if threshold not in (None, '')
                else None)
        except ValueError as error:
            raise ApiError(HTTPStatus.BAD_REQUEST, str(error)) from None
        return job.to_dict()

    def progress(self) -> dict:
        bench = self.workbench()
        return dict(bench.job.to_dict() if bench.job else {'state': 'idle'},
                    model=bench.describe())

    def save(self, body: dict) -> dict:
        bench = self.workbench()
        directory = body.get('directory') or str(Path(bench.source).parent)
        try:
            path = bench.save(Path(directory))
        except (ValueError, OSError) as error:
            raise ApiError(HTTPStatus.BAD_REQUEST, f'not saved: {error}') from None
        return {'path': str(path), 'model': bench.describe()}


def _field(body: dict, name: str, kind):
    try:
        return kind(body[name])
    except (KeyError, TypeError, ValueError):
        raise ApiError(HTTPStatus.BAD_REQUEST, f'{name} ({kind.__name__}) is required') \
            from None


def _heatmap(values):
    """(H, W) values in [0, 1] -> an rgb8 picture (OpenCV's inferno colour map)."""
    gray = (np.clip(values, 0, 1) * 255).astype(np.uint8)
    return cv2.applyColorMap(gray, cv2.COLORMAP_INFERNO)[:, :, ::-1]


class Handler(BaseHTTPRequestHandler):
    """Routes requests to the Explorer."""

    explorer: Explorer = None
    quiet = True

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        if not self.quiet:
            super().log_message(format, *args)

    def _send(self, status, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Cache-Control', 'no-store')
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value, status=HTTPStatus.OK) -> None:
        self._send(status, json.dumps(value).encode(), 'application/json')

    def do_GET(self):  # noqa: N802 - http.server's name
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        e = self.explorer
        try:
            if url.path in ('/', '/index.html'):
                return self._static('index.html')
            if url.path.startswith('/session/'):
                session_id = unquote(url.path[len('/session/'):])
                try:
                    e.session(session_id)
                except ApiError as error:
                    page = ERROR_PAGE.format(title=html.escape(session_id),
                                             reason=html.escape(str(error)))
                    return self._send(error.status, page.encode(), CONTENT_TYPES['.html'])
                return self._static('index.html')
            if url.path.startswith('/static/'):
                return self._static(url.path[len('/static/'):])
            if url.path == '/api/sessions':
                return self._json(list_sessions(e.sessions))
            if url.path == '/api/session':
                return self._json(e.session(_field(query, 'id', str)).describe())
            if url.path == '/api/frame':
                sample = e.session(_field(query, 'id', str)).sample(_field(query, 'index', int))
                image = sample.next_observation if query.get('which') == 'next' \
                    else sample.observation
                return self._send(HTTPStatus.OK, png(image), 'image/png')
            if url.path == '/api/checkpoints':
                return self._json(e.checkpoints(query.get('robot_type', '')))
            if url.path == '/api/train':
                return self._json(e.progress())
            return self._json({'error': f'no such page {url.path}'}, HTTPStatus.NOT_FOUND)
        except ApiError as error:
            return self._json({'error': str(error)}, error.status)
        except SessionError as error:
            return self._json({'error': str(error)}, HTTPStatus.BAD_REQUEST)

    def do_POST(self):  # noqa: N802 - http.server's name
        url = urlparse(self.path)
        e = self.explorer
        try:
            length = int(self.headers.get('Content-Length', 0))
            try:
                body = json.loads(self.rfile.read(length) or b'{}')
            except ValueError:
                raise ApiError(HTTPStatus.BAD_REQUEST, 'the body is not JSON') from None
            if not isinstance(body, dict):
                raise ApiError(HTTPStatus.BAD_REQUEST, 'the body must be a JSON object')
            routes = {'/api/load': lambda: e.load(_field(body, 'path', str)),
                      '/api/predict': lambda: e.predict(body),
                      '/api/train': lambda: e.train(body),
                      '/api/train/pause': lambda: (e.workbench().pause(), e.progress())[1],
                      '/api/train/resume': lambda: (e.workbench().resume(), e.progress())[1],
                      '/api/save': lambda: e.save(body)}
            if url.path not in routes:
                raise ApiError(HTTPStatus.NOT_FOUND, f'no such call {url.path}')
            return self._json(routes[url.path]())
        except ApiError as error:
            return self._json({'error': str(error)}, error.status)

    def _static(self, name: str) -> None:
        path = (STATIC / name).resolve()
        if STATIC not in path.parents or not path.is_file() or \
                path.suffix not in CONTENT_TYPES:
            return self._json({'error': f'no such file {name}'}, HTTPStatus.NOT_FOUND)
        self._send(HTTPStatus.OK, path.read_bytes(), CONTENT_TYPES[path.suffix])


def make_server(explorer: Explorer, host: str = '127.0.0.1', port: int = 8790,
                quiet: bool = True) -> ThreadingHTTPServer:
    """Return a server (not yet serving) for `explorer` on host:port (0 = any free port)."""
    handler = type('ExplorerHandler', (Handler,), {'explorer': explorer, 'quiet': quiet})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
