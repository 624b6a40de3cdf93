"""torchrun's process group (gloo on CPU) for the policy trainers: joined and left here.

`nanobot train` and `nanobot grpo` under torchrun (WORLD_SIZE > 1) join the group when their
trainer is built and leave it before they return, so that the group's worker threads have
ended before the interpreter shuts down.
"""
import gc

import torch.distributed as dist


def join_process_group(world_size: int) -> None:
    """Join the gloo process group when torchrun started `world_size` > 1 processes.

    torch._dynamo is imported first. Imported while a group exists (an optimizer's first use
    imports it), it keeps that group alive past destroy_process_group (torch 2.13): the
    group's worker threads then outlive it, and one still releasing the last all-reduce's
    tensor when the interpreter shuts down aborts the process with `terminate called without
    an active exception` (a core dump of a 2-process GRPO run: the worker thread, in the
    all-reduce work's destructor, asking for the GIL of a finalizing interpreter).
    """
    if world_size > 1 and not dist.is_initialized():
        import torch._dynamo  # noqa: F401  (see above: before the group exists)
        dist.init_process_group('gloo')


def leave_process_group() -> None:
    """Destroy the process group, if one was joined; its worker threads end with it.

    Whatever else holds the group must be gone by then: a DistributedDataParallel model
    dropped by its caller can still sit in a reference cycle (the BC trainer's rank 0 kept the
    group's threads until a collection), so garbage is collected first.
    """
    if dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()
