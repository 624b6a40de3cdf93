"""A node's newest status from /diagnostics reports, its values decoded."""
import json


def _decoded(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def node_status(reports, hardware_id: str):
    """Return (message, values) of `hardware_id`'s newest status in `reports`, ('', {}) if none.

    Values that are JSON (numbers, lists, objects) are decoded; the rest stay text.
    """
    for report in reversed(reports):
        for status in report.status:
            if status.hardware_id == hardware_id:
                return status.message, {kv.key: _decoded(kv.value) for kv in status.values}
    return '', {}
