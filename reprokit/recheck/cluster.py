"""Where the checks run: Dask. By default a ``LocalCluster`` sized to this machine (a
process per worker, one check at a time in each, a memory limit per worker); or a running
Dask cluster's scheduler (``--scheduler tcp://HOST:8786``: Slurm through dask-jobqueue,
Kubernetes through dask-kubernetes, or ``dask scheduler`` and ``dask worker`` by hand).

Each bundle is one task. A worker that dies mid-check loses nothing: the scheduler runs
the task again on another worker, and a bundle whose workers died twice is recorded as
such (:data:`reprokit.recheck.task.MAX_STARTS`), not tried again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask
import distributed
import psutil
from distributed import KilledWorker

from reprokit.errors import ClusterError
from reprokit.recheck import task
from reprokit.recheck.task import MAX_STARTS, host, now

log = logging.getLogger(__name__)

MIN_MEMORY = 2 << 30  # a worker gets at least this much unless told otherwise
POLL = 0.5  # seconds between two looks at what runs, for the progress bar


@dataclass(frozen=True, kw_only=True, slots=True)
class Size:
    """A LocalCluster's shape: workers, and the memory each may use (its checks too)."""

    workers: int
    memory: int


def local_size(workers: int | None = None, memory: int | None = None) -> Size:
    """As many workers as cores, but no more than three quarters of the memory allows at
    ``memory`` (default: that share of it per core, at least 2 GiB) each."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    budget = psutil.virtual_memory().total * 3 // 4
    per = memory or max(MIN_MEMORY, budget // max(1, cores))
    n = workers or max(1, min(cores, budget // per))
    return Size(workers=n, memory=memory or max(MIN_MEMORY, budget // n))


@contextlib.contextmanager
def connect(scheduler: str | None, size: Size) -> Iterator[tuple[distributed.Client, str]]:
    """A client of ``scheduler``, or of a new LocalCluster of ``size``; and what it is."""
    # A check's scan may use a process pool: a daemonic worker could not start one.
    config = {"distributed.worker.daemon": False, "distributed.scheduler.allowed-failures": MAX_STARTS - 1}
    with dask.config.set(config), contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(distributed.Client(scheduler, timeout="30s"))
            except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
                raise ClusterError(f"--scheduler {scheduler}: no Dask scheduler answered there ({exc.__class__.__name__}: {exc})") from None
            workers = len(client.scheduler_info().get("workers", {}))
            yield client, f"{scheduler} ({workers} workers when it started)"
            return
        cluster = stack.enter_context(distributed.LocalCluster(
            n_workers=size.workers, threads_per_worker=1, processes=True, memory_limit=size.memory, dashboard_address=":0",
            silence_logs=logging.ERROR))
        client = stack.enter_context(distributed.Client(cluster))
        yield client, f"LocalCluster ({size.workers} workers of {size.memory / (1 << 30):.1f} GiB)"


def lost(spec: Mapping[str, Any], why: str) -> dict[str, Any]:
    """The result of a check whose task could not finish: its workers died (KilledWorker)."""
    return {"bundle_id": spec["bundle_id"], "name": spec.get("name"), "source": spec.get("source"), "doi": spec.get("doi"),
            "fetch": spec.get("fetch"), "clock_ahead": spec["settings"].get("clock_ahead"), "status": "killed-workers",
            "detail": why, "checked_at": now(), "duration": 0.0, "peak_memory": 0, "attempts": MAX_STARTS, **host()}


def run_checks(client: distributed.Client, specs: Sequence[Mapping[str, Any]], *, on_result: Callable[[dict[str, Any]], None],
               on_poll: Callable[[int], None] | None = None) -> None:
    """Each spec checked as a task on ``client``'s cluster; ``on_result`` gets each result
    as it comes (in this process: the history's one writer), ``on_poll`` the number of
    checks running, about twice a second."""
    futures = {client.submit(task.check, dict(spec), key=f"reprokit-recheck-{spec['run']}-{i}-{os.getpid()}-{time.time_ns()}",
                             pure=False): spec for i, spec in enumerate(specs)}
    keys = {f.key for f in futures}
    pending = set(futures)
    while pending:
        try:
            done, pending = distributed.wait(pending, timeout=POLL, return_when="FIRST_COMPLETED")
        except (TimeoutError, asyncio.TimeoutError):
            done = set()
        except distributed.client.FuturesCancelledError as exc:
            raise ClusterError(f"the Dask scheduler cancelled the checks ({exc}); run the same command again to resume") from None
        for fut in done:
            spec = futures[fut]
            try:
                data = fut.result()
            except KilledWorker as exc:
                data = lost(spec, f"the workers checking it died (killed, or out of memory) and the scheduler gave up on it ({exc})")
            except Exception as exc:  # the task itself never raises: this is Dask's
                raise ClusterError(f"the check of {spec['bundle_id']} was lost ({exc.__class__.__name__}: {exc}); "
                                   "run the same command again to resume") from None
            on_result(data)
            fut.release()
        if on_poll is not None:
            try:
                # A worker may hold the next task ready beside the one it runs: at most a
                # check per thread runs.
                held = sum(k in keys for ks in client.processing().values() for k in ks)
                running = min(held, sum(client.nthreads().values()))
            except (OSError, TimeoutError, asyncio.TimeoutError):
                running = 0
            on_poll(running)
