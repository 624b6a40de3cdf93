"""Run reports: report.md and a self-contained report.html in a run folder (nanochat-style).

    from nanobot_ros.report import write_report
    write_report('runs/20261201-153000')     # a `./run.sh sim` run or a `nanobot train` run

`./run.sh sim` and `nanobot train` write one when they finish; `./run.sh nanobot report <run
folder>` writes it again (e.g. after a newer version of this module). The kind of run is told
by its summary.json: a stack run has `nodes`, a policy training run `epoch_losses`.
"""
import json
from pathlib import Path
from typing import Tuple

from nanobot_ros.report.document import Document
from nanobot_ros.report.policy_run import policy_report
from nanobot_ros.report.stack_run import stack_report


class ReportError(ValueError):
    """The folder is no run folder this module knows how to report on."""


def build_report(run_dir) -> Document:
    """Return the report Document of the run in `run_dir`."""
    run_dir = Path(run_dir)
    summary_path = run_dir / 'summary.json'
    try:
        summary = json.loads(summary_path.read_text())
    except FileNotFoundError:
        raise ReportError(f'{run_dir}: no summary.json, so no finished run to report on') \
            from None
    except (OSError, ValueError) as error:
        raise ReportError(f'{summary_path}: unreadable ({error})') from None
    if not isinstance(summary, dict):
        raise ReportError(f'{summary_path}: expected a JSON object')
    if 'nodes' in summary:
        return stack_report(run_dir, summary)
    if 'epoch_losses' in summary:
        return policy_report(run_dir, summary)
    raise ReportError(f'{summary_path}: neither a stack run (nodes) nor a policy training '
                      'run (epoch_losses)')


def write_report(run_dir) -> Tuple[Path, Path]:
    """Write report.md and report.html into `run_dir`; return their paths."""
    return build_report(run_dir).write(Path(run_dir))
