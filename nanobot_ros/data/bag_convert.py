"""`nanobot bag convert`: copy a bag into another storage or compression, message for message.

    convert_bag('in_bag', 'out_bag', storage='mcap', compression_mode='')           # plain
    convert_bag('in_bag', 'out_bag', chunk_compression='fast')                     # zstd chunks
    convert_bag('in_bag', 'out_bag', compression_mode='file')                      # .mcap.zstd

What `ros2 bag convert` does for one input and one output: every topic with its type, the
definition the bag carries and its offered QoS; every message with its log time and CDR bytes
(compressed input is read plain, see bags.py); session metadata (custom_data) kept. A topic
whose type is neither known nor defined in the bag cannot get a connection: it is left out and
listed in the result.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict

from rosbags.rosbag2.metadata import parse_qos

from nanobot_ros.data.bag_writer import BagWriter
from nanobot_ros.data.bags import Bag, BagError


@dataclass
class ConvertResult:
    """What a conversion wrote: messages per topic, and the topics left out with the reason."""

    counts: Dict[str, int] = field(default_factory=dict)
    skipped: Dict[str, str] = field(default_factory=dict)


def convert_bag(source, target, storage: str = '', chunk_compression: str = 'none',
                compression_mode: str = '') -> ConvertResult:
    """Write bag `source` as a new bag directory `target`; storage '' = the source's."""
    reader = Bag(source)
    target = Path(target)
    if target.exists():
        raise BagError(f'{target} exists; give a new folder for the converted bag')
    storage = storage or ('mcap' if reader.files[0].suffix == '.mcap' else 'sqlite3')
    result = ConvertResult(skipped=dict(reader.undecodable))
    with BagWriter(target, storage, reader.typestore, reader.custom_data,
                   chunk_compression=chunk_compression,
                   compression_mode=compression_mode) as writer:
        for topic, info in reader.topics.items():
            if topic in result.skipped:
                continue
            encoding, definition = reader.definitions.get(info.msgtype, ('', ''))
            writer.add_topic(topic, info.msgtype, definition=definition, encoding=encoding,
                             qos_objects=parse_qos(info.offered_qos or []))
            result.counts[topic] = 0
        for record in reader.records(list(result.counts)):
            writer.write(record.topic, record.timestamp, record.data)
            result.counts[record.topic] += 1
    return result
