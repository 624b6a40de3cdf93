"""`nanobot explore [SESSIONS]`: the session explorer, a local web app (docs/seeing.md)."""
import argparse
from pathlib import Path
import sys

from nanobot_ros.explorer.server import Explorer, make_server


def main(argv=None) -> int:
    """Serve the explorer until Ctrl-C; print the address to open first."""
    parser = argparse.ArgumentParser(prog='nanobot explore', description=__doc__.split('\n')[0])
    parser.add_argument('sessions', nargs='?', default='runs',
                        help='folder of recorded sessions, searched recursively (default: runs, '
                        'every ./run.sh sim run)')
    parser.add_argument('--checkpoints', action='append', default=None, metavar='DIR',
                        help='folder of world model checkpoints (repeatable; default '
                        'saved/checkpoints)')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to bind (default this machine only; 0.0.0.0 = every '
                        'interface: anyone who reaches it can read the sessions)')
    parser.add_argument('--port', type=int, default=8790, help='0 = any free port')
    args = parser.parse_args(argv)
    sessions = Path(args.sessions)
    if not sessions.is_dir():
        print(f'[ERROR] {sessions}: no such folder of sessions', file=sys.stderr)
        return 2
    explorer = Explorer(sessions, args.checkpoints or ['saved/checkpoints'])
    try:
        server = make_server(explorer, args.host, args.port)
    except OSError as error:
        print(f'[ERROR] cannot serve on {args.host}:{args.port}: {error}', file=sys.stderr)
        return 2
    host, port = server.server_address[:2]
    print(f'session explorer on http://{host}:{port}/ (sessions in {sessions.resolve()}; '
          'Ctrl-C stops it)', flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if explorer.bench is not None:
            explorer.bench.cancel()
    return 0
