"""`./run.sh nanobot bag <command>`: inspect, repair and convert rosbag2 bags (no ROS graph).

  info <bag>                       topics and service events: types, counts, QoS; duration,
                                   session metadata; topics that cannot be decoded and why
  repair <bag|folder> [--keep-original]
                                   recover bags cut off by a crash (SIGKILL, power loss);
                                   refuses (exit 1, nothing changed) a split being recorded
  convert <bag> <out_bag> [--storage mcap|sqlite3] [--compression file|message]
          [--chunk-compression fast|small]
                                   copy a bag into a new one: compressed -> plain (the
                                   default), plain -> compressed, sqlite3 <-> mcap
  export-parquet <bag> <out_dir>   non-image topics -> one Parquet file per topic
  import-parquet <chunks> <bag>    the reference collector's Parquet chunks -> a new bag

Exit codes: 0 done, 1 the bag could not be read or written (the message says why), 2 usage.
"""
import argparse
import sys

from nanobot_ros.data.bags import Bag, BagError, is_service_event, qos_summary


def _info(args) -> int:
    bag = Bag(args.bag)
    meta = bag.metadata
    duration = meta.get('duration', {}).get('nanoseconds', 0) * 1e-9
    print(f'bag:      {bag.path}')
    print(f'storage:  {", ".join(f.name for f in bag.stored_files)}')
    if bag.compression_mode:
        print(f'compression: {bag.compression_format}, {bag.compression_mode} mode')
    print(f'messages: {bag.message_count}' + (f' over {duration:.3f} s' if duration else ''))
    services = {t: i for t, i in bag.topics.items() if is_service_event(t, i.msgtype)}
    topics = {t: i for t, i in bag.topics.items() if t not in services}
    print(f'topics:   {len(topics)}')
    for topic, info in sorted(topics.items()):
        print(f'  Topic: {topic} | Type: {info.msgtype} | Count: {info.count} | '
              f'QoS: {qos_summary(info.offered_qos) or "not recorded"}')
    print(f'services: {len(services)}')
    for topic, info in sorted(services.items()):
        print(f'  Service: {topic[:-len("/_service_event")]} | Type: '
              f'{info.msgtype[:-len("_Event")]} | Event Count: {info.count} | '
              f'QoS: {qos_summary(info.offered_qos) or "not recorded"}')
    for topic, reason in sorted(bag.undecodable.items()):
        print(f'warning: {topic} cannot be decoded (its messages are skipped): {reason}')
    for key, value in sorted(bag.custom_data.items()):
        first_line = str(value).splitlines()[0] if str(value) else ''
        print(f'  {key}: {first_line}' + (' ...' if '\n' in str(value) else ''))
    return 0


def _repair(args) -> int:
    from nanobot_ros.data.repair import repair
    for result in repair(args.path, keep_original=args.keep_original):
        print(f'{result.path}: {result.note}')
    return 0


def _convert(args) -> int:
    from nanobot_ros.data.bag_convert import convert_bag
    result = convert_bag(args.bag, args.out_bag, storage=args.storage,
                         chunk_compression=args.chunk_compression,
                         compression_mode='' if args.compression == 'none' else args.compression)
    print(f'wrote {sum(result.counts.values())} messages to {args.out_bag}')
    for topic, count in sorted(result.counts.items()):
        print(f'  {topic}  {count}')
    for topic, reason in sorted(result.skipped.items()):
        print(f'warning: {topic} not converted: {reason}', file=sys.stderr)
    return 0


def _export(args) -> int:
    from nanobot_ros.data.parquet import export_parquet
    for topic, path in export_parquet(args.bag, args.out_dir).items():
        print(f'{topic} -> {path}')
    return 0


def _import(args) -> int:
    from nanobot_ros.data.parquet import import_parquet
    result = import_parquet(args.chunks, args.bag, storage=args.storage)
    print(f'wrote {result.messages} messages to {args.bag}')
    for topic, count in result.counts.items():
        print(f'  {topic}  {count}')
    for column, reason in result.skipped.items():
        print(f'warning: column {column!r} not imported: {reason}', file=sys.stderr)
    for chunk, reason in result.skipped_chunks.items():
        print(f'warning: chunk {chunk} not imported: {reason}', file=sys.stderr)
    if result.bad_images:
        print(f'warning: {result.bad_images} images are not decodable JPEG, left out',
              file=sys.stderr)
    return 0


def main(argv=None) -> int:
    """Run one bag command."""
    parser = argparse.ArgumentParser(prog='nanobot bag', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    info = sub.add_parser('info', help='show a bag\'s topics and metadata')
    info.add_argument('bag')
    info.set_defaults(run=_info)
    fix = sub.add_parser('repair', help='recover bags cut off by a crash')
    fix.add_argument('path', help='a bag directory, a session folder or a sessions folder')
    fix.add_argument('--keep-original', action='store_true',
                     help='keep the damaged bag beside the repaired one as <name>.damaged')
    fix.set_defaults(run=_repair)
    convert = sub.add_parser('convert', help='copy a bag into another storage or compression')
    convert.add_argument('bag')
    convert.add_argument('out_bag', help='the bag directory to create')
    convert.add_argument('--storage', choices=['mcap', 'sqlite3'], default='',
                         help='default: the input\'s')
    convert.add_argument('--compression', choices=['none', 'file', 'message'], default='none',
                         help='rosbag2 --compression-mode (zstd); default none: a plain bag')
    convert.add_argument('--chunk-compression', choices=['none', 'fast', 'small'],
                         default='none', help='MCAP zstd chunks (rosbag2 zstd_fast / zstd_small)')
    convert.set_defaults(run=_convert)
    export = sub.add_parser('export-parquet', help='non-image topics to Parquet')
    export.add_argument('bag')
    export.add_argument('out_dir')
    export.set_defaults(run=_export)
    chunks = sub.add_parser('import-parquet', help='collector Parquet chunks to a bag')
    chunks.add_argument('chunks', nargs='+', help='.parquet files or folders of them')
    chunks.add_argument('bag', help='the bag directory to create')
    chunks.add_argument('--storage', choices=['mcap', 'sqlite3'], default='mcap')
    chunks.set_defaults(run=_import)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (BagError, OSError) as error:  # a full disk, no permission: said, not a traceback
        print(f'error: {error}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
