"""The session explorer end to end in headless Chromium, on a session the sim stack recorded.

The sim stack records a session, a world model checkpoint sits beside it, `nanobot explore`
serves them; the browser lists the session, opens it, scrubs to a frame, runs the checkpoint's
predictions (errors equal to the Workbench's own for that frame), trains 20 steps with a pause
and a resume, saves, and the saved checkpoint loads into the world model's loop with exactly 20
more autoencoder steps. An unreadable session gets an error page saying why. Screenshots are
kept in log/explorer_test/ (and the test's tmp_path).
"""
import json
from pathlib import Path
import shutil
import subprocess
import sys
import time

import pytest

from nanobot_ros.explorer.sessions import Session
from nanobot_ros.explorer.workbench import Workbench
from nanobot_ros.learning.adaptive_loop import AdaptiveWorldModelLoop, LoopConfig
from nanobot_ros.learning.persistence import WorldModelCheckpoints
from nanobot_ros.learning.world_model import WorldModel, WorldModelConfig
from nanobot_ros.models.checkpoint import load_checkpoint
from browser import Browser
from repo_paths import ROOT

ARTIFACTS = ROOT / 'log' / 'explorer_test'
FRAME = 3


@pytest.fixture
def recorded(ros_domain, tmp_path):
    """Record a session with the sim (learning-free runner stack); save a world model beside.

    The checkpoint is a fresh model of sim.yaml's sizes saved by the node's own persistence
    code (what a first `./run.sh sim` leaves in saved/checkpoints/toroidal_dot/).
    """
    result = subprocess.run(
        [sys.executable, '-m', 'nanobot_ros.stack', '--config',
         str(ROOT / 'config' / 'sim_runner.yaml'), '--duration', '6',
         '--runs', str(tmp_path / 'runs'), '--set', 'runner.selector=alternate'],
        capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoints = tmp_path / 'checkpoints'
    config = WorldModelConfig.small(patch_size=32, embed_dim=64)
    WorldModelCheckpoints(checkpoints / 'toroidal_dot').save(
        AdaptiveWorldModelLoop(WorldModel(config), LoopConfig()))
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    sessions = run_dir / 'sessions'
    broken = sessions / 'toroidal_dot' / 'broken'
    (broken / 'broken_000').mkdir(parents=True)
    (broken / 'session.yaml').write_text('nanobot.robot_type: toroidal_dot\n')
    (broken / 'broken_000' / 'metadata.yaml').write_text('rosbag2_bagfile_information: [\n')
    return sessions, checkpoints


@pytest.fixture
def explorer(recorded):
    sessions, checkpoints = recorded
    server = subprocess.Popen(
        [sys.executable, '-m', 'nanobot_ros.cli', 'explore', str(sessions), '--checkpoints',
         str(checkpoints), '--port', '0'], stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    assert line.startswith('session explorer on http://127.0.0.1:'), line
    yield line.split()[3], sessions, checkpoints
    server.terminate()
    server.wait(timeout=30)


def test_the_explorer_in_a_headless_browser(explorer, tmp_path):
    url, sessions, checkpoints = explorer
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    browser = Browser(tmp_path / 'profile', url)
    shots = []

    def shot(name):
        shots.append(browser.screenshot(tmp_path / f'{name}.png'))

    try:
        browser.wait_for('document.readyState === "complete" && '
                         'document.querySelectorAll("#sessions tbody tr").length >= 2')
        rows = browser.evaluate('[...document.querySelectorAll("#sessions tbody tr")]'
                                '.map(r => [...r.cells].map(c => c.innerText))')
        session_id = next(r[0] for r in rows if 'broken' not in r[0])
        assert next(r for r in rows if r[0] == session_id)[1:] == [
            'toroidal_dot', 'discrete: 0 = stay, 1 = move right', '1']
        shot('sessions')
        browser.evaluate(f'[...document.querySelectorAll("#sessions a")].find('
                         f'a => a.textContent === {json.dumps(session_id)}).click()')
        browser.wait_for('document.getElementById("frame-label").textContent.startsWith("frame")'
                         ' && document.getElementById("checkpoint").options.length > 0')
        # Scrub to FRAME: the slider drives the label and the frame images.
        browser.evaluate(f'(() => {{ const f = document.getElementById("frame"); f.value = '
                         f'{FRAME}; f.dispatchEvent(new Event("input")); }})()')
        label = browser.evaluate('document.getElementById("frame-label").textContent')
        session = Session(sessions, session_id)
        assert label.startswith(f'frame {FRAME} / {len(session) - 1}, action '
                                f'{session.sample(FRAME).action_index}, t = ')
        browser.wait_for('document.getElementById("current").complete && '
                         'document.getElementById("current").naturalWidth === 224')
        # The checkpoint of this robot type comes first; load it and run predictions.
        checkpoint = checkpoints / 'toroidal_dot' / 'world_model.safetensors'
        assert browser.evaluate('document.getElementById("checkpoint").value') == \
            str(checkpoint)
        browser.evaluate('document.getElementById("load").click()')
        browser.wait_for('!document.getElementById("predict").disabled')
        browser.evaluate('document.getElementById("predict").click()')
        browser.wait_for('document.querySelectorAll("#predictions figure").length === 4 && '
                         '[...document.querySelectorAll("#predictions img")].every('
                         'i => i.complete && i.naturalWidth === 224)')
        errors = browser.evaluate('[...document.querySelectorAll("#errors tbody tr")]'
                                  '.map(r => [r.cells[0].innerText, r.cells[1].innerText])')
        expected = Workbench.load(checkpoint).predict(session, FRAME)
        # The errors, then the world model's introspection figures of this transition.
        assert [name for name, _ in errors] == [
            'decoded vs. current', 'predicted (action 0) vs. recorded next',
            'predicted (action 1) vs. recorded next', *expected['metrics']]
        assert [float(v) for _, v in errors] == pytest.approx(
            [expected['decoded_error'], *expected['prediction_errors'],
             *expected['metrics'].values()], rel=1e-5)
        assert browser.evaluate('[...document.querySelectorAll("#attention figcaption")]'
                                '.map(c => c.innerText)') == ['last layer, future queries']
        shot('predictions')
        # Train 20 steps on frames 0..10, pausing once on the way.
        before = load_checkpoint(checkpoint).metadata['autoencoder_training_step']
        browser.evaluate('document.getElementById("train-stop").value = 10; '
                         'document.getElementById("train-steps").value = 20; '
                         'document.getElementById("train").click()')
        browser.wait_for('!document.getElementById("pause").disabled')
        browser.evaluate('document.getElementById("pause").click()')
        browser.wait_for('document.getElementById("train-state").textContent === "paused"')
        held = browser.evaluate('document.getElementById("train-step").textContent')
        time.sleep(1.5)
        assert browser.evaluate('document.getElementById("train-step").textContent') == held
        browser.evaluate('document.getElementById("resume").click()')
        browser.wait_for('document.getElementById("train-state").textContent === "done"',
                         timeout=300)
        assert browser.evaluate('document.getElementById("train-step").textContent') == '20'
        saved = tmp_path / 'saved' / 'toroidal_dot'
        browser.evaluate(f'document.getElementById("save-dir").value = '
                         f'{json.dumps(str(saved))}; document.getElementById("save").click()')
        result = browser.wait_for('document.getElementById("save-result").textContent')
        assert result == f'saved {saved / "world_model.safetensors"}'
        shot('trained')
        # An unreadable session: an error page that says why.
        browser.navigate(url + 'session/toroidal_dot/broken')
        reason = browser.wait_for('document.getElementById("error") && '
                                  'document.getElementById("error").textContent')
        assert reason.startswith('toroidal_dot/broken: no frames answered by an action '
                                 '(skipped broken_000: ')
        shot('error_page')
    finally:
        browser.close()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for path in shots:
            shutil.copy(path, ARTIFACTS / path.name)

    # What was saved is what the world_model node resumes from.
    metadata = load_checkpoint(saved / 'world_model.safetensors').metadata
    loop = AdaptiveWorldModelLoop(WorldModel(WorldModelConfig.from_dict(metadata['config'])),
                                  LoopConfig())
    restored = WorldModelCheckpoints(saved, 'world_model').restore(loop)
    assert restored is not None and restored[0] == str(saved / 'world_model.safetensors')
    assert loop.learner.autoencoder_training_step == before + 20
