"""`nanobot report RUN_FOLDER`: (re)write report.md and report.html of a run folder."""
import argparse

from nanobot_ros.report import ReportError, write_report


def main(argv=None) -> int:
    """Write the report of each run folder named; exit 1 when one cannot be reported on."""
    parser = argparse.ArgumentParser(prog='nanobot report', description=__doc__.split('\n')[0])
    parser.add_argument('run_dirs', nargs='+', metavar='RUN_FOLDER',
                        help='a ./run.sh sim run folder or a nanobot train --run-dir')
    args = parser.parse_args(argv)
    status = 0
    for run_dir in args.run_dirs:
        try:
            markdown, page = write_report(run_dir)
        except ReportError as error:
            print(f'[ERROR] {error}')
            status = 1
            continue
        print(f'wrote {markdown} and {page}')
    return status
