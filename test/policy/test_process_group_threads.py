"""Leaving torchrun's process group ends its worker threads, an optimizer built or not.

Were they left running, one still releasing the last all-reduce's tensor while the interpreter
shuts down aborts the process (policy/process_group.py): a 2-process GRPO run did, now and
then, under load.
"""

import json

from policy_fixtures import TORCHRUN_2
from trainer_fixtures import run

RANK = '''
import json
import os
import sys

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
with open(f"{sys.argv[1]}/rank{os.environ['RANK']}.json", 'w') as report:
    json.dump({'sum': total.tolist(), 'threads': threads}, report)
'''


def test_no_gloo_thread_outlives_the_group(tmp_path):
    script = tmp_path / 'rank.py'
    script.write_text(RANK)
    result = run([*TORCHRUN_2, str(script), str(tmp_path)])
    assert result.returncode == 0, result.stdout + result.stderr
    # one file per rank: the two ranks' prints into one pipe interleave
    for rank in (0, 1):
        report = json.loads((tmp_path / f'rank{rank}.json').read_text())
        assert report['sum'] == [2.0, 2.0, 2.0]
        gloo = [name for name in report['threads'] if 'gloo' in name]
        assert gloo == [], (rank, report['threads'])  # gloo_tcp_loop, pt_gloo_runloop
