"""Data-parallel training across processes with torch.distributed.

When ``fit`` runs inside an initialized process group (or under ``torchrun``,
whose environment variables let sklstm initialize one), training is data
parallel: every process builds the same batches from the same data and seed,
computes its share of each batch, and DistributedDataParallel averages the
gradients, so the result equals single-process training on the same global
batches up to floating-point rounding.
"""

import atexit
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

__all__ = [
    "all_finite",
    "broadcast_seed",
    "ensure_process_group",
    "mean_over_processes",
    "process_device",
    "shard",
    "unwrap",
    "world",
    "wrap",
]


def world():
    """``(rank, world_size)`` when training across several processes, else None."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist.get_rank(), dist.get_world_size()
    return None


def ensure_process_group(device):
    """Join the process group ``torchrun`` describes, if it is not joined yet."""
    if not dist.is_available() or dist.is_initialized():
        return
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and "MASTER_ADDR" in os.environ:
        dist.init_process_group(backend="nccl" if "cuda" in str(device) else "gloo")
        # A group still alive when the interpreter finalizes can abort the
        # process ("terminate called without an active exception") while its
        # communication threads are torn down, turning a finished run into a
        # failed one; the group sklstm opened, sklstm closes.
        atexit.register(_leave_process_group)


def _leave_process_group():
    if dist.is_initialized():
        dist.destroy_process_group()


def process_device(device):
    """Each process of a multi-GPU run uses the GPU of its local rank."""
    if world() is not None and device == "cuda":
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return device


def broadcast_seed(seed):
    """Rank 0's seed, so that all processes draw the same batches."""
    if world() is None:
        return seed
    holder = [seed]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def shard(indices):
    """This process's share of a global batch (None if it would be empty)."""
    rank, size = world()
    if len(indices) < size:
        return None  # every process must take part in every step
    return indices[rank::size]


def wrap(module, device):
    """Wrap ``module`` in DistributedDataParallel when training across processes."""
    if world() is None:
        return module
    device = torch.device(device)
    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids)


def unwrap(module):
    """The module inside a DistributedDataParallel wrapper (or the module itself)."""
    return module.module if isinstance(module, DistributedDataParallel) else module


def mean_over_processes(value, count):
    """The ``count``-weighted mean of ``value`` over all processes."""
    if world() is None:
        return value
    totals = torch.tensor([value * count, count], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        totals = totals.cuda()
    dist.all_reduce(totals)
    return float(totals[0] / totals[1])


def all_finite(loss):
    """Whether the loss is finite in every process (all must stop together)."""
    finite = torch.isfinite(loss.detach()).to(torch.int32).reshape(1)
    if world() is not None:
        if dist.get_backend() != "nccl":
            finite = finite.cpu()
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    return bool(finite.item())
