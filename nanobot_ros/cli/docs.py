"""`nanobot docs`: regenerate docs/nodes.md and the tables of docs/graph.md and defaults.md.

The node reference and who publishes and subscribes each topic come from the running nodes; the
topics, types and QoS from nanobot_ros/contract.py; the node dataclasses from NODE_CONFIGS.
"""
import argparse
from pathlib import Path
import sys
import tempfile

DOCS = Path(__file__).resolve().parents[2] / 'docs'


def main(argv=None) -> int:
    """Start every node with its defaults, read topics and parameters, write the three docs."""
    parser = argparse.ArgumentParser(prog='nanobot docs', description=__doc__)
    parser.add_argument('--docs', type=Path, default=DOCS,
                        help='folder holding nodes.md, graph.md and defaults.md')
    parser.add_argument('--domain', type=int, default=150,
                        help='ROS domain the nodes run in (keep it free of other nodes)')
    args = parser.parse_args(argv)
    from nanobot_ros.node_reference import (fill, introspect, node_names, render,
                                            render_defaults, render_graph)
    with tempfile.TemporaryDirectory(prefix='nanobot_docs_') as workdir:
        try:
            reports = introspect(args.domain, Path(workdir), node_names())
        except (RuntimeError, TimeoutError) as error:
            print(f'[ERROR] {error}', file=sys.stderr)
            return 1
    (args.docs / 'nodes.md').write_text(render(reports))
    for name, generated in (('graph.md', render_graph(reports)),
                            ('defaults.md', (render_defaults(),))):
        path = args.docs / name
        path.write_text(fill(path.read_text(), *generated))
    print(f'wrote {args.docs}/nodes.md, graph.md, defaults.md ({len(reports)} nodes)')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
