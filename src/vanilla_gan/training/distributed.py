"""Training on several processes under torchrun: DistributedDataParallel, gloo on CPU, NCCL on GPU.

    torchrun --standalone --nproc_per_node=2 -m vanilla_gan train --epochs 2 --out runs/ddp

`vanilla-gan train` (and `vanilla_gan.train`) run inside `session()`, which calls `setup()` when torchrun's
environment is present. Every rank holds the whole data
set and the same epoch permutation, and takes its own shard of each step's indices; gradients are averaged
by DDP, so the replicas stay identical. Rank 0 alone writes the run folder. Without torchrun every helper
here is a no-op for a single process (rank 0 of 1).
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from vanilla_gan.errors import TrainingError, UsageError, VanillaGanError

T = TypeVar("T")


def launched_by_torchrun() -> bool:
    return "TORCHELASTIC_RUN_ID" in os.environ or int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: str) -> str:
    """Join the process group; returns the device this rank trains on ("cpu" or "cuda:LOCAL_RANK")."""
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if device == "cuda" and not use_cuda:
        raise UsageError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    # One GPU per process: checked by every rank before joining, so that all of them stop, none waits.
    per_machine, gpus = int(os.environ.get("LOCAL_WORLD_SIZE", "1")), torch.cuda.device_count() if use_cuda else 0
    if use_cuda and per_machine > gpus:
        raise UsageError(f"torchrun starts {per_machine} processes on this machine but it has {gpus} GPU(s): "
                         f"use --nproc_per_node={gpus}, or --device cpu")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    if not use_cuda:
        return "cpu"
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    torch.cuda.set_device(local_rank)
    return f"cuda:{local_rank}"


@contextmanager
def session(device: str) -> Iterator[None]:
    """Under torchrun, join the process group for the duration (`setup` ... `teardown`); else nothing."""
    if not launched_by_torchrun():
        yield
        return
    setup(device)
    try:
        yield
    finally:
        teardown()


def teardown() -> None:
    """Leave the process group. DDP wrappers must be gone first: a reducer that outlives its group aborts
    the process at exit ("terminate called without an active exception"), hence the collection."""
    if dist.is_initialized():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    return rank() == 0


def any_rank(flag: bool) -> bool:
    """True on every rank if `flag` is true on any (a collective: every rank must call it)."""
    if world_size() == 1:
        return flag
    value = torch.tensor([int(flag)], device=_collective_device())
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def gather(obj: Any) -> list[Any]:
    """Every rank's `obj`, in rank order (a collective)."""
    if world_size() == 1:
        return [obj]
    objects: list[Any] = [None] * world_size()
    dist.all_gather_object(objects, obj)
    return objects


def on_main(decide: Callable[[], T]) -> T:
    """Run `decide` on rank 0 only and give every rank its result, or raise its error on every rank.

    For choices that must agree (a drawn seed, a default run folder) and checks of the file system that
    rank 0 is about to change.
    """
    if world_size() == 1:
        return decide()
    message: list[Any] = [None, None]
    if is_main():
        try:
            message = [decide(), None]
        except VanillaGanError as exc:
            message = [None, exc]
    dist.broadcast_object_list(message, src=0)
    if message[1] is not None:
        raise message[1]
    return message[0]


def wrap(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """`module` under DistributedDataParallel (gradients averaged across processes), or itself on one process."""
    if world_size() == 1:
        return module
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


def check_replicas(modules: list[torch.nn.Module]) -> str:
    """Every rank's weights of `modules` hash to the same SHA-256 (a collective); returns it, or raises."""
    digest = hashlib.sha256()
    for module in modules:
        for tensor in module.state_dict().values():
            digest.update(tensor.detach().cpu().numpy().tobytes())
    digests = gather(digest.hexdigest())
    if len(set(digests)) != 1:
        raise TrainingError(f"the {len(digests)} replicas' weights differ after training: {digests}")
    return digests[0]


def _collective_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
