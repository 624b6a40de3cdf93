"""Leaving torchrun's process group ends its worker threads, an optimizer built or not.

Were they left running, one still releasing the last all-reduce's tensor while the interpreter
shuts down aborts the process (policy/process_group.py): a 2-process GRPO run did, now and
then, under load.
"""

from policy_fixtures import TORCHRUN_2
from trainer_fixtures import run

RANK = '''
import os

import torch
import torch.distributed as dist

from nanobot_ros.policy.process_group import join_process_group, leave_process_group

join_process_group(int(os.environ['WORLD_SIZE']))
parameter = torch.nn.Parameter(torch.ones(3))
optimizer = torch.optim.AdamW([parameter])  # its first use imports torch._dynamo
total = torch.ones(3)
dist.all_reduce(total)
parameter.grad = total
optimizer.step()
leave_process_group()
threads = sorted(open(f'/proc/self/task/{task}/comm').read().strip()
                 for task in os.listdir('/proc/self/task'))
print('rank', os.environ['RANK'], 'sum', total.tolist(), 'threads', threads, flush=True)
'''


def test_no_gloo_thread_outlives_the_group(tmp_path):
    script = tmp_path / 'rank.py'
    script.write_text(RANK)
    result = run([*TORCHRUN_2, str(script)])
    assert result.returncode == 0, result.stdout + result.stderr
    lines = sorted(line for line in result.stdout.splitlines() if line.startswith('rank'))
    assert [line.split(' threads ')[0] for line in lines] == [
        'rank 0 sum [2.0, 2.0, 2.0]', 'rank 1 sum [2.0, 2.0, 2.0]']
    for line in lines:
        assert 'gloo' not in line, line  # gloo_tcp_loop, pt_gloo_runloop
