"""Every node declares its config dataclasses' defaults; the generated docs are current.

docs/nodes.md, and the generated tables of docs/graph.md and docs/defaults.md.

All nodes run for real (one process each, with their defaults but START_PARAMETERS, in one
private domain); their parameters are read through the ROS parameter services and their topics
from the graph (nanobot_ros.node_reference.py, the same code `./run.sh nanobot docs` runs).
"""
import contextlib
import socket

import pytest

from nanobot_ros.defaults import config_defaults
from nanobot_ros.live_view import LiveViewConfig
from nanobot_ros.node_reference import (fill, introspect, NODE_CONFIGS, node_names, render,
                                        render_defaults, render_graph, START_PARAMETERS)
from repo_paths import ROOT

DOCS = ROOT / 'docs'
STALE = 'regenerate it with `./run.sh nanobot docs` and commit it'


def _plain(value):
    """Return a sequence as a list, and None (declared unset) as the empty sequence it is."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else value


@contextlib.contextmanager
def default_live_view_port_taken():
    """Hold the live view's default port on 127.0.0.1 while the block runs, unless it is taken.

    Any program may hold it on the machine that makes the reference; the reference must not
    need it.
    """
    with socket.socket() as held:
        with contextlib.suppress(OSError):  # taken already: the condition holds anyway
            held.bind((LiveViewConfig.host, LiveViewConfig.port))
            held.listen()
        yield


@pytest.fixture(scope='module')
def reports(module_ros_domain, tmp_path_factory):
    """Start every node once for the module; return what it declares."""
    with default_live_view_port_taken():
        return introspect(module_ros_domain, tmp_path_factory.mktemp('nodes'), node_names())


def test_each_declared_default_is_its_dataclass_default(reports):
    assert sorted(NODE_CONFIGS) == node_names()
    for node, configs in NODE_CONFIGS.items():
        expected = {}
        for config, skip in configs:
            expected.update({k: _plain(v) for k, v in config_defaults(config, skip).items()})
        given = START_PARAMETERS.get(node, {})
        declared = {name: _plain(p.value) for name, p in reports[node].parameters.items()
                    if name not in given}
        assert declared == {k: v for k, v in expected.items() if k not in given}, node
        # The nodes ran with what they were given (the live view on a free port, not 8765).
        assert {name: _plain(reports[node].parameters[name].value) for name in given} == \
            {name: _plain(value) for name, value in given.items()}, node


def test_committed_node_reference_is_current(reports):
    assert (DOCS / 'nodes.md').read_text() == render(reports), \
        f'docs/nodes.md is not what the nodes declare: {STALE}'


def test_committed_graph_is_current(reports):
    graph = (DOCS / 'graph.md').read_text()
    assert graph == fill(graph, *render_graph(reports)), \
        f'docs/graph.md is not the contract and what the nodes declare: {STALE}'


def test_committed_defaults_are_current():
    defaults = (DOCS / 'defaults.md').read_text()
    assert defaults == fill(defaults, render_defaults()), \
        f'docs/defaults.md is not NODE_CONFIGS: {STALE}'
