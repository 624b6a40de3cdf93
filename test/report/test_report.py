"""Run reports: Markdown + self-contained HTML from a run folder, and `nanobot report`."""
import base64
import json
import re

import numpy as np
import pytest

from nanobot_ros.cli import main as nanobot
from nanobot_ros.learning.visualize import save_png
from nanobot_ros.policy.weights import save_policy
from nanobot_ros.report import build_report, ReportError, write_report
from policy_fixtures import tiny_policy

SUMMARY = {
    'run_dir': 'x', 'duration_s': 6.004, 'frames': 181, 'actions': 170, 'actions_applied': 168,
    'action_counts': {'0': 84, '1': 84}, 'publishing_s': 9.5, 'frames_per_s': 19.053,
    'session': '/r/sessions/toroidal_dot/s', 'bags': ['/r/sessions/toroidal_dot/s/s_000'],
    'messages_written': 521, 'messages_dropped': 0,
    'world_model': {'online_explained_variance': 0.93, 'actions_sent': 170},
    'nodes': {
        'recorder': {'status': 'ok', 'exit_code': 0, 'level': 'ok', 'message': 'not recording',
                     'values': {'messages_received': 521, 'messages_written': 521,
                                'messages_dropped': 0, 'splits': 1, 'bytes_written': 9000,
                                'topics': {'/camera/image_raw': {'received': 181,
                                                                 'written': 181,
                                                                 'dropped': 0}}}},
        'world_model': {'status': 'failed', 'exit_code': 1, 'level': 'error',
                        'message': 'a|b', 'values': {'frames': 181}}},
}


def _stack_run(folder):
    folder.mkdir()
    (folder / 'summary.json').write_text(json.dumps(SUMMARY))
    (folder / 'config.yaml').write_text('sim:\n  ros__parameters:\n    seed: 0\n')
    save_png(np.full((8, 12, 3), 200, np.uint8), folder / 'world_model_predictions.png')
    return folder


def test_a_stack_run_reports_its_figures_nodes_recorder_and_pictures(tmp_path):
    run = _stack_run(tmp_path / '20261201-120000')
    markdown_path, html_path = write_report(run)
    markdown = markdown_path.read_text()
    assert markdown.startswith('# nanobot_ros run 20261201-120000\n')
    assert 'failed: world_model' in markdown
    assert '| frames_per_s | 19.053 |' in markdown
    assert '| action_counts | {"0": 84, "1": 84} |' in markdown
    assert '| online_explained_variance | 0.93 |' in markdown
    assert '| world_model | failed | 1 | error | a\\|b |' in markdown
    assert '| /camera/image_raw | 181 | 181 | 0 |' in markdown
    assert '| total | 521 | 521 | 0 |' in markdown
    assert '![the world model\'s last prediction grid' in markdown
    assert '(world_model_predictions.png)' in markdown
    assert '    seed: 0' in markdown and '| python |' in markdown
    page = html_path.read_text()
    png = base64.b64encode((run / 'world_model_predictions.png').read_bytes()).decode()
    assert f'src="data:image/png;base64,{png}"' in page
    # Self-contained: nothing is fetched from anywhere.
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert '<td>a|b</td>' in page


def test_a_policy_run_reports_losses_plateau_and_measured_export_parity(tmp_path):
    run = tmp_path / 'policy'
    run.mkdir()
    checkpoint = save_policy(run / 'policy.safetensors', tiny_policy(head='diffusion'))
    (run / 'summary.json').write_text(json.dumps({
        'steps': 40, 'epochs': 2, 'samples': 100, 'epoch_losses': [0.5, 0.25],
        'final_loss': 0.25, 'plateau': 'no improvement for 8 epochs',
        'checkpoint': str(checkpoint)}))
    doc = build_report(run)
    markdown = doc.markdown(run)
    assert '| 2 | 0.25 |' in markdown and 'no improvement for 8 epochs' in markdown
    parity = next(b[2] for b in doc.blocks if b[0] == 'table' and b[1][0] == 'sampler')
    assert [row[:2] for row in parity] == [['ddim', '8'], ['ddpm', 'all']]
    assert all(float(row[2]) <= 1e-4 for row in parity), parity
    assert 'Closed-loop success' in markdown and 'not measured' in markdown


def test_nanobot_report_names_what_is_wrong_with_a_folder(tmp_path, capsys):
    assert nanobot(['report', str(tmp_path)]) == 1
    assert f'{tmp_path}: no summary.json' in capsys.readouterr().out
    (tmp_path / 'summary.json').write_text('{"broken')
    with pytest.raises(ReportError, match='unreadable'):
        build_report(tmp_path)
    run = _stack_run(tmp_path / 'run')
    assert nanobot(['report', str(run)]) == 0
    assert f'wrote {run / "report.md"} and {run / "report.html"}' in capsys.readouterr().out
