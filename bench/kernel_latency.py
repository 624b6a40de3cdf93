"""Observation -> action latency over DDS: kernel (ONNX Runtime) vs policy node (PyTorch eager).

    ./run.sh python bench/kernel_latency.py runs/policy_diffusion/policy.safetensors

Exports the checkpoint (DDIM-k in the graph), starts the kernel on the .onnx and the policy
node on the .safetensors in the same run, then publishes one camera frame at a time and times
publish -> /robot/action received (matched by header.stamp and source) for both nodes, which
answer the same frames. Goal: kernel p99 <= 1/5 of eager p99, kernel p50 < 5 ms.
"""
import argparse
import os
from pathlib import Path
import sys
import tempfile
import time

import numpy as np
import rclpy

from nanobot_ros.data.convert import numpy_to_image
from nanobot_ros.learning.policy_export import export_policy
from nanobot_ros.models.policy_io import load_policy
from nanobot_ros.nodes.common import COMMAND_QOS, SENSOR_QOS
from nanobot_ros.nodes.sim import INSTRUCTION_QOS
from nanobot_ros.robots.target_task import instruction_for, TargetTask, TargetTaskConfig
from nanobot_msgs.msg import Action
from policy_success import start, stop
from sensor_msgs.msg import Image
from std_msgs.msg import String

SOURCES = ('kernel', 'policy')


def main() -> int:
    """Run both nodes, time every answered frame, print p50/p99 per node."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='policy .safetensors')
    parser.add_argument('--observations', type=int, default=1000)
    parser.add_argument('--ddim-steps', type=int, default=10)
    parser.add_argument('--out', default='')
    args = parser.parse_args()
    os.environ.setdefault('ROS_DOMAIN_ID', '205')
    out = Path(args.out or tempfile.mkdtemp(prefix='kernel_latency_'))
    out.mkdir(parents=True, exist_ok=True)
    policy, _ = load_policy(args.checkpoint)
    model = export_policy(policy, out / 'policy.onnx', 'ddim', args.ddim_steps)
    nodes = [start('kernel', {'model_path': str(model), 'control_period': 5.0},
                   out / 'kernel.log'),
             start('policy', {'model_path': str(model.with_suffix('.safetensors')),
                              'ddim_steps': args.ddim_steps, 'control_period': 5.0},
                   out / 'policy.log')]
    rclpy.init()
    node = rclpy.create_node('kernel_latency_bench')
    received = {}
    node.create_subscription(Action, '/robot/action', lambda msg: received.setdefault(
        (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.source), time.perf_counter()),
        COMMAND_QOS)
    images = node.create_publisher(Image, '/camera/image_raw', SENSOR_QOS)
    instruction = node.create_publisher(String, '/instruction', INSTRUCTION_QOS)
    task = TargetTask(TargetTaskConfig(seed=7))
    instruction.publish(String(data=instruction_for(task.target)))
    frames = [numpy_to_image(task.render())]
    for action in (1, 3, 2, 4):
        task.step(action)
        frames.append(numpy_to_image(task.render()))

    def publish_and_wait(i: int, timeout: float):
        msg = frames[i % len(frames)]
        msg.header.stamp = node.get_clock().now().to_msg()
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        sent = time.perf_counter()
        images.publish(msg)
        end = sent + timeout
        while time.perf_counter() < end and not all(key + (s,) in received for s in SOURCES):
            rclpy.spin_once(node, timeout_sec=0.001)
        return key, sent

    # Warm-up: both nodes loaded, subscribed and answering with the model (not safe stops).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        key, _ = publish_and_wait(0, 1.0)
        if all(key + (s,) in received for s in SOURCES):
            break
    else:
        print('the nodes never both answered; see the logs in', out, file=sys.stderr)
        for process in nodes:
            stop(process)
        return 1
    for _ in range(50):
        publish_and_wait(0, 0.5)

    latencies = {s: [] for s in SOURCES}
    for i in range(args.observations):
        key, sent = publish_and_wait(i, 0.5)
        for source in SOURCES:
            if key + (source,) in received:
                latencies[source].append((received[key + (source,)] - sent) * 1e3)
    for process in nodes:
        stop(process)
    node.destroy_node()
    rclpy.shutdown()

    print(f'\nobservation publish -> action received over DDS, {args.observations} frames, '
          f'DDIM-{args.ddim_steps}, same run:')
    print(f'{"node":<22} {"answered":>8} {"p50 ms":>8} {"p99 ms":>8}')
    stats = {}
    for source, label in (('kernel', 'kernel (ONNX Runtime)'), ('policy', 'policy (eager)')):
        values = np.asarray(latencies[source])
        stats[source] = (np.percentile(values, 50), np.percentile(values, 99))
        print(f'{label:<22} {len(values):>8} {stats[source][0]:>8.2f} {stats[source][1]:>8.2f}')
    ratio = stats['policy'][1] / stats['kernel'][1]
    print(f'eager p99 / kernel p99 = {ratio:.1f}x (goal >= 5x); kernel p50 '
          f'{stats["kernel"][0]:.2f} ms (goal < 5 ms)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
