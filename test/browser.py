"""A headless Chromium driven over the DevTools protocol (CDP), for the explorer's test.

The browser is Debian's `chromium` (apt-get install -y chromium), started with a fresh
profile and everything that would reach the network off; this module speaks CDP over its
WebSocket with the `websockets` package: navigate, evaluate JavaScript, take screenshots.
"""
import base64
import itertools
import json
from pathlib import Path
import shutil
import subprocess
import time
import urllib.request

from websockets.sync.client import connect

FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run',
         '--remote-debugging-port=0', '--window-size=1280,1800']


class BrowserError(RuntimeError):
    pass


class Browser:
    """One Chromium process with one page."""

    def __init__(self, profile: Path, url: str = 'about:blank', timeout: float = 30.0):
        executable = shutil.which('chromium')
        if executable is None:
            raise BrowserError('chromium is not installed: apt-get install -y chromium')
        profile.mkdir(parents=True, exist_ok=True)
        active = profile / 'DevToolsActivePort'
        active.unlink(missing_ok=True)  # a reused profile's file names a dead browser
        self.process = subprocess.Popen(
            [executable, *FLAGS, f'--user-data-dir={profile}', url],
            stdout=subprocess.DEVNULL, stderr=open(profile / 'chromium.log', 'wb'))
        deadline = time.monotonic() + timeout
        while not (active.is_file() and active.read_text().count('\n') >= 1):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise BrowserError(f'chromium did not start; see {profile / "chromium.log"}')
            time.sleep(0.1)
        port = int(active.read_text().split()[0])
        with urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list', timeout=10) as r:
            page = next(t for t in json.load(r) if t['type'] == 'page')
        self.ws = connect(page['webSocketDebuggerUrl'], max_size=None, open_timeout=10)
        self.ids = itertools.count(1)

    def send(self, method: str, **params):
        message_id = next(self.ids)
        self.ws.send(json.dumps({'id': message_id, 'method': method, 'params': params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get('id') == message_id:
                if 'error' in reply:
                    raise BrowserError(f'{method}: {reply["error"]}')
                return reply['result']

    def evaluate(self, expression: str):
        result = self.send('Runtime.evaluate', expression=expression, awaitPromise=True,
                           returnByValue=True)
        if 'exceptionDetails' in result:
            raise BrowserError(f'{expression}: {result["exceptionDetails"]}')
        return result['result'].get('value')

    def wait_for(self, expression: str, timeout: float = 30.0):
        """Evaluate `expression` until it is truthy; return its value.

        An expression that throws (the page is still loading) counts as not yet true.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except BrowserError:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f'timed out waiting for {expression}; page text: '
                                   + str(self.evaluate('document.body.innerText'))[:2000])
            time.sleep(0.2)

    def navigate(self, url: str) -> None:
        self.send('Page.navigate', url=url)
        time.sleep(0.3)
        self.wait_for('document.readyState === "complete"')

    def screenshot(self, path: Path) -> Path:
        data = self.send('Page.captureScreenshot', format='png', captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data['data']))
        return path

    def close(self) -> None:
        if getattr(self, 'ws', None) is not None:
            self.ws.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
