"""`nanobot docs`: regenerate docs/nodes.md, the node reference, from the running nodes."""
import argparse
from pathlib import Path
import sys
import tempfile

REFERENCE = Path(__file__).resolve().parents[2] / 'docs' / 'nodes.md'


def main(argv=None) -> int:
    """Start every node with its defaults, read topics and parameters, write the reference."""
    parser = argparse.ArgumentParser(prog='nanobot docs', description=__doc__)
    parser.add_argument('--out', type=Path, default=REFERENCE, help='file to write')
    parser.add_argument('--domain', type=int, default=150,
                        help='ROS domain the nodes run in (keep it free of other nodes)')
    args = parser.parse_args(argv)
    from nanobot_ros.introspection import introspect, node_names, render
    with tempfile.TemporaryDirectory(prefix='nanobot_docs_') as workdir:
        try:
            reports = introspect(args.domain, Path(workdir), node_names())
        except (RuntimeError, TimeoutError) as error:
            print(f'[ERROR] {error}', file=sys.stderr)
            return 1
    args.out.write_text(render(reports))
    print(f'wrote {args.out} ({len(reports)} nodes)')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
