"""The report of a `./run.sh sim` run folder (summary.json, config.yaml, the pictures)."""
import datetime
import json
from pathlib import Path

from nanobot_ros.report.document import Document
from nanobot_ros.report.environment import environment_rows
from nanobot_ros.report.room_path import PICTURE as ROOM_PATH, room_path_picture

# The run-level figures of summary.json, in the order people read them.
RUN_FIGURES = ('duration_s', 'frames', 'actions', 'actions_applied', 'action_counts',
               'publishing_s', 'frames_per_s', 'messages_written', 'messages_dropped',
               'session')
PICTURES = {'world_model_learning_curve.png': 'world model learning curves',
            'world_model_predictions.png': 'the world model\'s last prediction grid: current '
            'frame, decoded frame, predicted next frame per action (* = chosen)',
            ROOM_PATH: 'the room robot\'s path (odom) over the room, top down',
            'learn_success.png': 'the learn stack: success over wall time of whoever drove, and '
            'each export\'s held-out evaluation (nodes/arbiter.py)'}


def _value(value) -> str:
    if isinstance(value, float):
        return f'{value:.6g}'
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return '' if value is None else str(value)


def stack_report(run_dir: Path, summary: dict) -> Document:
    """Return the report of the stack run in `run_dir` whose summary.json is `summary`."""
    nodes = summary.get('nodes', {})
    failed = sorted(n for n, node in nodes.items() if node.get('status') != 'ok')
    doc = Document(f'nanobot_ros run {run_dir.name}')
    doc.paragraph(f'{len(nodes)} nodes ({", ".join(nodes)}); '
                  + (f'failed: {", ".join(failed)}' if failed else 'every node ended well')
                  + f'. Report written {datetime.datetime.now().isoformat(timespec="seconds")}'
                  f' from {run_dir}.')
    for warning in summary.get('warnings', []):
        doc.paragraph(f'Warning: {warning}')
    doc.heading('Run')
    doc.table(['figure', 'value'], [(k, _value(summary[k])) for k in RUN_FIGURES
                                    if k in summary])
    if summary.get('world_model'):
        doc.heading('World model')
        doc.table(['figure', 'value'], [(k, _value(v))
                                        for k, v in summary['world_model'].items()])
    doc.heading('Nodes (final status)')
    doc.table(['node', 'status', 'exit', 'level', 'message'],
              [(n, node.get('status'), node.get('exit_code'), node.get('level'),
                node.get('message')) for n, node in nodes.items()])
    recorder = nodes.get('recorder', {}).get('values', {})
    if recorder:
        doc.heading('Recorder')
        doc.table(['topic', 'received', 'written', 'dropped'],
                  [(t, c.get('received'), c.get('written'), c.get('dropped'))
                   for t, c in (recorder.get('topics') or {}).items()]
                  + [('total', recorder.get('messages_received'),
                      recorder.get('messages_written'), recorder.get('messages_dropped'))])
        doc.paragraph(f'{recorder.get("splits", 0)} split(s), '
                      f'{recorder.get("bytes_written", 0)} bytes; bags: '
                      + (', '.join(summary.get('bags', [])) or 'none'))
    room_path_picture(summary.get('session'), run_dir)  # a room session: its path
    pictures = [(run_dir / name, caption) for name, caption in PICTURES.items()
                if (run_dir / name).is_file()]
    if pictures:
        doc.heading('Pictures')
        for path, caption in pictures:
            doc.image(path, caption)
    doc.heading('Environment')
    doc.table(['what', 'value'], environment_rows())
    for name, node in nodes.items():
        if node.get('values'):
            doc.heading(f'{name}: last /diagnostics values')
            doc.table(['key', 'value'], [(k, _value(v)) for k, v in node['values'].items()])
    config = run_dir / 'config.yaml'
    if config.is_file():
        doc.heading('Stack config (config.yaml)')
        doc.code(config.read_text())
    return doc
