"""The one parallel seam: ``run(tasks, fn, jobs, progress=..., executor=...)``.

Corpus preprocessing, folder scoring and study runs hand their independent tasks here and
get back each task's result (in task order) and the tasks that failed. Two backends:

* ``local`` (default): ``jobs`` spawned worker processes of this machine (no extra
  install), or the tasks in this process when ``jobs`` is 1;
* ``dask``: a Dask ``distributed`` cluster, the one at ``scheduler`` (``tcp://host:8786``,
  e.g. a SLURM cluster started with ``dask-jobqueue``) or a ``LocalCluster`` of ``jobs``
  single-threaded worker processes. Needs ``pip install 'seizure[dask]'``.

Tasks carry paths and small parameters; ``fn`` builds its heavy state (recipe plan,
model) lazily once per worker process and returns small results. The caller's
``on_result(index, result)`` runs here, in the driver, as each task completes (in
completion order): it is where the driver commits results (the store's records and
manifest are written only by the driver). It may return ``False`` to count the result as a
failure on the progress bar; an exception it raises stops the run (pending tasks are
cancelled) and propagates.

A task whose ``fn`` raises is a failure (its reason: the exception in one line). A task
whose worker process dies (killed, out of memory) is run again on a fresh worker, at most
``retries`` more times, and is then a failure ("worker process died ..."). Worker
processes start with one BLAS/OpenMP thread; ``setup`` (a picklable callable) runs once in
each worker process before its first task.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from seizure.errors import ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("local", "dask")
RETRIES = 2  # a task whose worker died is run at most this many more times
DASK_INSTALL = "pip install 'seizure[dask]'"
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Executor:
    """Where tasks run: ``local`` processes or a ``dask`` cluster (``scheduler`` address, or
    ``None`` for a ``LocalCluster`` sized by ``jobs``)."""

    kind: str = "local"
    scheduler: str | None = None
    retries: int = RETRIES

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise ConfigError(f"unknown executor {self.kind!r}; valid executors: {', '.join(EXECUTORS)}")
        if self.scheduler is not None and self.kind != "dask":
            raise ConfigError("a scheduler address needs the dask executor (--executor dask)")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise ConfigError(f"retries must be an integer >= 0, got {self.retries!r}")


LOCAL = Executor()


@dataclass(frozen=True)
class TaskFailure:
    """A task that produced no result: its index, the task and a one-line reason."""

    index: int
    task: Any
    reason: str
    lost: bool = False  # its worker process died on every attempt


@dataclass
class Results(Generic[R]):
    """Per-task results in task order (``None`` where the task failed) and the failures."""

    results: list[R | None]
    failures: list[TaskFailure] = field(default_factory=list)


def executor_for(kind: str | None = None, scheduler: str | None = None) -> Executor:
    """The executor named on a command line (``--executor``, ``--scheduler``)."""
    return Executor(kind or ("dask" if scheduler else "local"), scheduler)


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` -> ``(2, 8)``: the 2nd of 8 shards (a :class:`ConfigError` otherwise)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ConfigError(f"shard must be i/N with 1 <= i <= N (e.g. 2/8), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def check_jobs(jobs: int) -> None:
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs must be a positive integer, got {jobs!r}")


def run(tasks: Sequence[T], fn: Callable[[T], R], jobs: int = 1, *, progress: bool = False,
        executor: Executor | None = None, on_result: Callable[[int, R], bool | None] | None = None,
        setup: Callable[[], None] | None = None, name: Callable[[T], str] | None = None,
        desc: str = "", unit: str = "task") -> Results[R]:
    """Run ``fn(task)`` for every task; see the module docstring.

    ``name(task)`` labels a task in failure reasons and on the Dask dashboard.
    """
    from tqdm import tqdm

    check_jobs(jobs)
    executor = executor or LOCAL
    tasks = list(tasks)
    out: Results[R] = Results([None] * len(tasks))
    bar = tqdm(total=len(tasks), desc=desc or None, unit=unit, disable=not progress)
    failed = 0

    def done(index: int, outcome: Any) -> None:
        nonlocal failed
        if isinstance(outcome, TaskFailure):
            out.failures.append(outcome)
            ok: bool | None = False
            log.error("%s: %s", name(tasks[index]) if name else f"task {index}", outcome.reason)
        else:
            out.results[index] = outcome
            ok = on_result(index, outcome) if on_result is not None else None
        failed += ok is False
        bar.update(1)
        if failed:
            bar.set_postfix(failed=failed, refresh=False)

    try:
        if executor.kind == "dask":
            _run_dask(tasks, fn, jobs, executor, setup, name, desc or "task", done)
        elif jobs == 1 or len(tasks) <= 1:
            for i, task in enumerate(tasks):
                done(i, _call_here(fn, task, i))
        else:
            _run_local(tasks, fn, jobs, executor.retries, setup, done)
    finally:
        bar.close()
    out.failures.sort(key=lambda f: f.index)
    return out


def _reason(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _call_here(fn: Callable[[T], R], task: T, index: int) -> R | TaskFailure:
    try:
        return fn(task)
    except Exception as exc:  # noqa: BLE001 - one task's bug must not stop the others
        log.debug("task %d failed", index, exc_info=True)
        return TaskFailure(index, task, _reason(exc))


# --------------------------------------------------------------------------- local processes


@contextlib.contextmanager
def single_threaded_children() -> Iterator[None]:
    """Worker processes started inside start their math libraries with one thread each: a
    worker is one of ``jobs`` processes, and idle BLAS threads spin at start-up and after each
    call, taking cycles from the other workers (about 2 % of a two-worker run on two cores)."""
    saved = {name: os.environ.get(name) for name in _THREAD_VARS}
    os.environ.update({name: "1" for name in _THREAD_VARS})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _start_local_worker(setup: Callable[[], None] | None) -> None:
    """Pool worker start: die with the driver (no orphan goes on working after a killed run),
    warnings to stderr, then the caller's set-up."""
    _die_with_parent()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    if setup is not None:
        setup()
        _SET_UP.add(_setup_key(setup))


def _run_local(tasks: list, fn: Callable, jobs: int, retries: int, setup: Callable[[], None] | None,
               done: Callable[[int, Any], None]) -> None:
    """At most ``jobs`` tasks in flight, so that the tasks lost with a dead worker are exactly the
    ones the pool was running. They go to a fresh pool, one at a time (a suspect runs alone, so
    a second death is its own), and the other tasks carry on."""
    deaths = [0] * len(tasks)
    suspects: set[int] = set()
    queue = list(range(len(tasks)))
    ctx = multiprocessing.get_context("spawn")  # no inherited locks, threads or file handles
    while queue:
        lost: list[int] = []
        with single_threaded_children():
            pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_start_local_worker, initargs=(setup,))
        running: dict[Any, int] = {}

        def refill() -> None:
            while queue and not lost and len(running) < jobs:
                if running and (queue[0] in suspects or any(j in suspects for j in running.values())):
                    return  # a suspect runs alone
                i = queue.pop(0)
                running[pool.submit(fn, tasks[i])] = i

        try:
            refill()
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                outcomes = []
                for fut in finished:
                    i = running.pop(fut)
                    try:
                        outcomes.append((i, fut.result()))
                    except BrokenProcessPool:
                        lost.append(i)
                    except Exception as exc:  # noqa: BLE001 - fn raised in the worker
                        outcomes.append((i, TaskFailure(i, tasks[i], _reason(exc))))
                refill()  # the workers go on while the driver commits
                for i, result in outcomes:
                    done(i, result)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        retry = []
        for i in sorted(lost):
            deaths[i] += 1
            if deaths[i] > retries:
                done(i, TaskFailure(i, tasks[i], f"worker process died (killed or out of memory?) on each of "
                                    f"{deaths[i]} attempts", lost=True))
            else:
                log.warning("a worker process died (killed or out of memory?); its task is run again")
                suspects.add(i)
                retry.append(i)
        queue = retry + queue


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (no orphan keeps writing)."""
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # parent already gone
            os._exit(1)


# --------------------------------------------------------------------------- Dask

_SET_UP: set[bytes] = set()
_SET_UP_LOCK = threading.Lock()


def _setup_key(setup: Callable[[], None]) -> bytes:
    return pickle.dumps(setup)


@dataclass(frozen=True)
class _WithSetup:
    """``fn(task)`` after ``setup()`` has run once in this worker process."""

    fn: Callable
    setup: Callable[[], None] | None

    def __call__(self, task: Any) -> Any:
        if self.setup is not None:
            key = _setup_key(self.setup)
            with _SET_UP_LOCK:
                if key not in _SET_UP:
                    self.setup()
                    _SET_UP.add(key)
        return self.fn(task)


def import_distributed():
    """The ``distributed`` module, or a one-line :class:`ConfigError` saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise ConfigError(f"--executor dask needs Dask distributed: {DASK_INSTALL}") from None
    return distributed


@contextlib.contextmanager
def dask_client(jobs: int, executor: Executor) -> Iterator[Any]:
    """A client of the executor's scheduler, or of a ``LocalCluster`` of ``jobs`` single-threaded
    worker processes (closed at the end); the dashboard link is logged."""
    distributed = import_distributed()
    import dask

    chatty = logging.getLogger("distributed")  # its INFO lines (every connection) would drown ours
    level = chatty.level
    chatty.setLevel(max(level, logging.WARNING))
    try:
        with _client(distributed, dask, jobs, executor) as client:
            yield client
    finally:
        chatty.setLevel(level)


@contextlib.contextmanager
def _client(distributed: Any, dask: Any, jobs: int, executor: Executor) -> Iterator[Any]:
    if executor.scheduler:
        try:
            client = distributed.Client(executor.scheduler, timeout="30s")
        except OSError as exc:
            raise ConfigError(f"cannot reach the Dask scheduler {executor.scheduler}: {exc}") from None
        with client:
            log.info("Dask scheduler %s: %d worker(s); dashboard %s", executor.scheduler,
                     len(client.scheduler_info().get("workers", {})), client.dashboard_link)
            yield client
        return
    # one task at a time per one-thread worker: a worker that dies takes only its own task's
    # retry budget (Dask counts every task assigned to a dead worker, queued ones too)
    settings = {"distributed.scheduler.allowed-failures": executor.retries,
                "distributed.scheduler.worker-saturation": 1.0}
    with dask.config.set(settings), single_threaded_children():
        cluster = distributed.LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                           dashboard_address=":0", silence_logs=logging.ERROR)
    with cluster, distributed.Client(cluster) as client:
        log.info("Dask LocalCluster of %d worker process(es); dashboard %s", jobs, client.dashboard_link)
        yield client


def _run_dask(tasks: list, fn: Callable, jobs: int, executor: Executor, setup: Callable[[], None] | None,
              name: Callable[[Any], str] | None, prefix: str, done: Callable[[int, Any], None]) -> None:
    distributed = import_distributed()
    from distributed.scheduler import KilledWorker

    call = _WithSetup(fn, setup)
    token = uuid.uuid4().hex[:8]
    with dask_client(jobs, executor) as client:
        futures = {}
        for i, task in enumerate(tasks):
            label = name(task) if name else str(i)
            futures[client.submit(call, task, key=f"{prefix}-{label}-{i}-{token}", pure=False)] = i
        try:
            for fut in distributed.as_completed(futures):
                i = futures[fut]
                try:
                    result = fut.result()
                except KilledWorker:
                    attempts = "every attempt the scheduler allows (distributed.scheduler.allowed-failures + 1)" \
                        if executor.scheduler else f"each of {executor.retries + 1} attempts"
                    result = TaskFailure(i, tasks[i], f"worker process died (killed or out of memory?) on {attempts}",
                                         lost=True)
                except Exception as exc:  # noqa: BLE001 - fn raised on the worker
                    result = TaskFailure(i, tasks[i], _reason(exc))
                done(i, result)
                fut.release()
        except BaseException:
            client.cancel(list(futures))
            raise
