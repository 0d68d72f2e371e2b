"""Several training processes (and machines), RecBole-style: the launch settings, the spawned ranks, rank helpers.

As RecBole 1.2.1's ``quick_start.run`` / ``run_recboles``: ``--nproc`` processes on this machine are
spawned with ``torch.multiprocessing`` (start method ``spawn``); each gets ``local_rank``, ``world_size``,
``ip``, ``port``, ``nproc`` and ``offset`` (``--group_offset``: the global rank of this machine's first
process) as settings, and the plug-in's :class:`~recbole_poserec.config.Config` joins the process group
(``tcp://ip:port``; NCCL on GPUs, gloo on CPU). Global rank 0 logs, saves checkpoints and returns the
result; the launching process waits for all ranks.

Each rank runs ``torch.set_num_threads(max(1, cores // nproc))`` first. A one-line error of any rank
(a :class:`~dataset_conversion.errors.DataError`) ends the run as that one line; the port of rank 0 is
checked before anything is spawned.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from dataset_conversion.errors import DataError

DEFAULT_IP = "localhost"
DEFAULT_PORT = 5678  # RecBole's run_recbole.py default
MAX_PORT = 65535


@dataclass(frozen=True)
class Launch:
    """RecBole's launch arguments: ``nproc`` processes here, ``world_size`` in all (-1: ``nproc``), rank 0's
    ``ip`` and ``port``, ``group_offset`` = the global rank of this machine's first process."""

    nproc: int = 1
    world_size: int = -1
    ip: str = DEFAULT_IP
    port: int = DEFAULT_PORT
    group_offset: int = 0

    @property
    def distributed(self) -> bool:
        """False for RecBole's single-process run (``nproc`` 1, no ``world_size``)."""
        return not (self.nproc == 1 and self.world_size <= 0)

    @property
    def size(self) -> int:
        return self.nproc if self.world_size == -1 else self.world_size

    def check(self) -> None:
        """One-line :class:`DataError` naming the argument for a launch that cannot work."""
        if self.nproc < 1:
            raise DataError("--nproc", f"must be an integer >= 1, got {self.nproc}")
        if self.world_size != -1 and self.world_size < 1:
            raise DataError("--world_size", f"must be -1 (= nproc) or an integer >= 1, got {self.world_size}")
        if self.group_offset < 0:
            raise DataError("--group_offset", f"must be an integer >= 0, got {self.group_offset}")
        if self.group_offset + self.nproc > self.size:
            raise DataError("--world_size", f"{self.size} processes in all cannot hold ranks {self.group_offset}.."
                                            f"{self.group_offset + self.nproc - 1} (--group_offset "
                                            f"{self.group_offset}, --nproc {self.nproc})")
        if not 1 <= self.port <= MAX_PORT:
            raise DataError("--port", f"must be an integer in 1..{MAX_PORT}, got {self.port}")
        if not self.ip:
            raise DataError("--ip", "must name rank 0's machine, got ''")

    def settings(self) -> dict:
        """The settings every rank gets (RecBole's names), ``local_rank`` aside."""
        return {"world_size": self.size, "ip": self.ip, "port": self.port, "nproc": self.nproc,
                "offset": self.group_offset}


def check_port_free(launch: Launch) -> None:
    """On the machine of rank 0 (``group_offset`` 0): ``ip:port`` must be free to listen on."""
    if launch.group_offset != 0:
        return
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((launch.ip, launch.port))
    except OSError as err:
        raise DataError("--port", f"rank 0 cannot listen on {launch.ip}:{launch.port} "
                                  f"({err.strerror or type(err).__name__}); choose another --port") from None


def cores() -> int:
    """The CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def threads_per_rank(nproc: int) -> int:
    return max(1, cores() // nproc)


# ------------------------------------------------------------------------------------ inside a rank


def is_distributed(config) -> bool:
    return not config["single_spec"]


def is_main_process(config) -> bool:
    """Whether this process logs, saves and returns: a single process, or global rank 0."""
    return config["single_spec"] or torch.distributed.get_rank() == 0


@contextmanager
def local_leader_first(config):
    """Under DDP, the body runs in local rank 0 of every machine first, then in the other ranks (e.g. building
    the pose store beside the dataset files once per machine); a single process just runs it."""
    leader = config["single_spec"] or config["local_rank"] == 0
    if not leader:
        torch.distributed.barrier()
    yield
    if leader and not config["single_spec"]:
        torch.distributed.barrier()


def broadcast_model_from_rank0(model: torch.nn.Module) -> None:
    """Every rank's ``model`` becomes rank 0's: each ``state_dict`` tensor (parameters and the persistent
    buffers, e.g. batch-norm statistics, which DDP does not keep equal here) and ``other_parameter``."""
    for tensor in model.state_dict().values():
        if isinstance(tensor, torch.Tensor):
            torch.distributed.broadcast(tensor, src=0)
    other = [model.other_parameter()]
    torch.distributed.broadcast_object_list(other, src=0)
    if torch.distributed.get_rank() != 0 and other[0] is not None:
        model.load_other_parameter(other[0])


# ------------------------------------------------------------------------------------------ launching


def _rank_main(local_rank: int, run, launch: Launch, kwargs: dict, queue) -> None:
    """One spawned rank: threads capped, the launch settings added, ``run(**kwargs)``; global rank 0 puts
    ``("result", value)`` into ``queue``, a :class:`DataError` of any rank ``("error", line)``."""
    torch.set_num_threads(threads_per_rank(launch.nproc))
    config_dict = dict(kwargs.get("config_dict") or {}, **launch.settings(), local_rank=local_rank)
    try:
        result = run(**dict(kwargs, config_dict=config_dict))
        if local_rank + launch.group_offset == 0:
            queue.put(("result", result))
    except DataError as err:
        queue.put(("error", (err.file, err.message, err.row, err.field)))
        raise SystemExit(2) from None
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def spawn_ranks(run, launch: Launch, **kwargs):
    """Run ``run(**kwargs)`` in ``launch.nproc`` spawned processes (RecBole's ``run``); returns global rank 0's
    result (None on a machine without rank 0). A rank's one-line error is raised here as that DataError."""
    import torch.multiprocessing as mp

    launch.check()
    check_port_free(launch)
    queue = mp.get_context("spawn").SimpleQueue()
    try:
        mp.spawn(_rank_main, args=(run, launch, kwargs, queue), nprocs=launch.nproc, join=True)
    except mp.ProcessException:
        messages = []
        while not queue.empty():
            kind, value = queue.get()
            if kind == "error":
                messages.append(value)
        if messages:
            file, message, row, field = messages[0]
            raise DataError(file, message, row=row, field=field) from None
        raise
    result = None
    while not queue.empty():
        kind, value = queue.get()
        if kind == "result":
            result = value
    return result
