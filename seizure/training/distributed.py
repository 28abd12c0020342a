"""Data-parallel training with PyTorch DistributedDataParallel, launched by ``torchrun``.

``torchrun --nproc-per-node N -m seizure train STORE OUT ...`` starts N processes; each reads
its rank from the environment torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``/``MASTER_PORT``) and joins one process group: ``gloo`` on CPU, ``nccl`` on
CUDA (``train.device = "auto"`` gives each rank the GPU of its local rank). Without those
variables training runs in one process, exactly as before.

What stays the same whatever N is: every rank draws the same epoch plan (it depends only on
the seed and the epoch) and takes its share of each batch, seizure and background crops
dealt separately so each rank keeps the batch's balance (:func:`rank_share`); the loss is
normalised by the global count of labelled seconds (:func:`global_loss`), so N processes on
B/N crops each take the step one process takes on B. Rank 0 alone writes files; the dev
probabilities are gathered from all ranks and the operating point is chosen once, on rank 0,
and broadcast.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from seizure.errors import ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job: ``rank`` of ``world`` processes, ``local_rank`` on its node."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """The process that writes checkpoints, logs and plots."""
        return self.rank == 0


SINGLE = Ranks()


def from_env(env: dict[str, str] | None = None) -> Ranks:
    """The ranks torchrun set in the environment (one process when it set none)."""
    env = os.environ if env is None else env
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise ConfigError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (as torchrun sets them)") from None
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"RANK {rank} is not in 0..WORLD_SIZE-1 (WORLD_SIZE {world})")
    return Ranks(rank, world, local)


def device_for(name: str, ranks: Ranks) -> torch.device:
    """``train.device`` for this rank: ``auto`` is the rank's GPU (``cuda:LOCAL_RANK``) when CUDA
    is present, else the CPU."""
    if name == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        return torch.device("cuda", ranks.local_rank % torch.cuda.device_count()) if ranks.enabled else \
            torch.device("cuda")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device is {name!r} but no CUDA device is available")
    return torch.device(name)


@contextlib.contextmanager
def process_group(ranks: Ranks, device: torch.device) -> Iterator[None]:
    """Join the job's process group (gloo on CPU, NCCL on CUDA) for the block; nothing for one process."""
    import torch.distributed as dist

    if not ranks.enabled or dist.is_initialized():
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    timeout = datetime.timedelta(minutes=30)
    store, _, _ = next(dist.rendezvous("env://", ranks.rank, ranks.world, timeout=timeout))
    # torchrun keeps its store across restarts: a restarted round must not read the addresses
    # its killed predecessors published (gloo would try to connect to dead ranks)
    store = dist.PrefixStore(f"seizure-round{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/", store)
    dist.init_process_group(backend, store=store, rank=ranks.rank, world_size=ranks.world, timeout=timeout)
    log.info("rank %d of %d joined the %s process group", ranks.rank, ranks.world, backend)
    try:
        yield
    finally:
        dist.destroy_process_group()


def rank_share(batch: Sequence[T], seizure: Sequence[bool], ranks: Ranks) -> list[T]:
    """This rank's crops of a batch: every ``world``-th seizure crop and every ``world``-th
    background crop from ``rank`` on, in batch order (the shares differ by at most one crop
    of each kind; one process keeps the whole batch)."""
    if not ranks.enabled:
        return list(batch)
    seiz = [i for i, s in enumerate(seizure) if s][ranks.rank::ranks.world]
    back = [i for i, s in enumerate(seizure) if not s][ranks.rank::ranks.world]
    return [batch[i] for i in sorted(seiz + back)]


def global_loss(weighted_sum: torch.Tensor, weights: torch.Tensor, ranks: Ranks) -> tuple[torch.Tensor, float]:
    """The loss to back-propagate and the batch's mean loss (for the log).

    One process: ``sum / count``. N processes: the sums and counts of all ranks are added up
    first, and the rank's loss is ``N * sum_rank / count_all``: DDP averages the gradients over
    the ranks, which gives the gradient of ``sum_all / count_all``, the one-process loss."""
    count = weights.sum()
    if not ranks.enabled:
        loss = weighted_sum / count.clamp_min(1.0)
        return loss, float(loss.detach())
    import torch.distributed as dist

    totals = torch.stack([weighted_sum.detach(), count.detach()]).to(torch.float64)
    dist.all_reduce(totals)
    count_all = totals[1].clamp_min(1.0)
    loss = weighted_sum * ranks.world / count_all.to(weighted_sum.dtype)
    return loss, float(totals[0] / count_all)


def any_rank(flag: bool, ranks: Ranks) -> bool:
    """True on every rank when it is True on any (a stop request, a time budget): all ranks stop
    at the same step."""
    if not ranks.enabled:
        return flag
    import torch.distributed as dist

    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def gather(local: list[Any], ranks: Ranks) -> list[Any]:
    """Items computed as ``items[rank::world]`` on each rank, reassembled in order on every rank."""
    if not ranks.enabled:
        return local
    import torch.distributed as dist

    parts: list[list[Any]] = [[] for _ in range(ranks.world)]
    dist.all_gather_object(parts, local)
    out: list[Any] = [None] * sum(len(p) for p in parts)
    for r, part in enumerate(parts):
        out[r::ranks.world] = part
    return out


def all_objects(obj: Any, ranks: Ranks) -> list[Any]:
    """``obj`` of every rank, in rank order (a one-item list for one process)."""
    if not ranks.enabled:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * ranks.world
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj: T, ranks: Ranks) -> T:
    """Rank 0's ``obj`` on every rank."""
    if not ranks.enabled:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(ranks: Ranks) -> None:
    if ranks.enabled:
        import torch.distributed as dist

        dist.barrier()


def wrap(model: torch.nn.Module, device: torch.device, ranks: Ranks) -> torch.nn.Module:
    """The module the training step calls: ``model`` itself, or DDP around it."""
    if not ranks.enabled:
        return model
    import warnings

    from torch.nn.parallel import DistributedDataParallel

    # a (C, 1, 1, K) kernel's size-1 dims make torch see different strides in its buckets: harmless
    warnings.filterwarnings("ignore", message=".*Grad strides do not match bucket view strides")

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                   gradient_as_bucket_view=True)  # the gradients live in the all-reduce buffers
