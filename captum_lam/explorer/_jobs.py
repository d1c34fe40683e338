"""One bounded pool of workers, one computation at a time per model, results cached.

The explorer asks for the LAM of a window for every selected model each time the
user clicks. Every computation runs on one pool of workers sized to the CPUs,
whatever the number of models, with a bounded queue (`QueueFull`: HTTP 429).
Each model has a lane that runs its newest request: a new request for the same
model cancels the one in flight (before its next layer runs, see
`cancellable_passes`) and replaces the one waiting. Finished results are kept in
a least-recently-used cache keyed by (model, image, window, settings).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict, deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

from torch import nn

#: ``compute(request, progress)``: progress(done, total) raises to cancel.
Compute = Callable[["Request", Callable[[int, int], None]], Any]

QUEUED, RUNNING, DONE, ERROR, CANCELLED = (
    "queued",
    "running",
    "done",
    "error",
    "cancelled",
)


@dataclass(frozen=True)
class Request:
    """What to compute: a model's LAM of one window of one image."""

    model: str
    image: str
    window: tuple[int, int, int]
    settings: tuple[tuple[str, Any], ...]

    @property
    def key(self) -> str:
        text = json.dumps(
            [self.model, self.image, list(self.window), list(self.settings)]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:20]


class Cancelled(Exception):
    """Raised inside a computation that a newer request superseded."""


@dataclass
class Job:
    request: Request
    state: str = QUEUED
    done_steps: int = 0
    total_steps: int = 0
    result: Any = None
    error: Optional[str] = None
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def key(self) -> str:
        return self.request.key

    @property
    def finished(self) -> bool:
        return self.state in (DONE, ERROR, CANCELLED)


class QueueFull(Exception):
    """Raised by `JobRunner.submit` when every queue place is taken (HTTP 429)."""


def default_workers() -> int:
    """Computations run at once: half the CPUs this process may use, 1 to 4.

    Each computation already uses several threads (torch's intra-op pool), so
    running more at once than this only shares the same cores more thinly.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus // 2))


class _Lane:
    def __init__(self) -> None:
        self.pending: Optional[Job] = None
        self.current: Optional[Job] = None


class JobRunner:
    """Runs `Request` s through ``compute`` on one bounded pool of workers.

    At most ``workers`` computations run at once, whatever the number of
    models; each model runs one at a time (a new request for a model cancels its
    running job and replaces its waiting one); at most ``max_queued`` jobs wait
    (`QueueFull` past that). Finished jobs are kept in a least-recently-used
    cache of ``cache_size``; jobs still running or waiting are never evicted,
    and never stop the eviction of finished ones.

    Parameters
    ----------
    compute : callable
        ``compute(request, progress) -> result``; it calls ``progress(done, total)``
        after each pass, and may call ``progress()`` at any time (e.g. between
        layers): both raise `Cancelled` once the job is cancelled.
    cache_size : int
        Finished results kept (least recently used dropped first).
    workers : int, optional
        Computations at once (default `default_workers`).
    max_queued : int, optional
        Jobs waiting for a worker at most (default ``4 * workers``).
    """

    def __init__(
        self,
        compute: Compute,
        cache_size: int = 64,
        workers: Optional[int] = None,
        max_queued: Optional[int] = None,
    ) -> None:
        self._compute = compute
        self._cache_size = cache_size
        self.workers = workers or default_workers()
        self.max_queued = max_queued or 4 * self.workers
        self._lock = threading.Condition()
        self._lanes: dict[str, _Lane] = {}
        self._ready: deque[str] = deque()  # models with a job waiting, none running
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._threads: list[threading.Thread] = []
        self._closed = False

    def submit(self, request: Request) -> Job:
        """The job for ``request``: cached, already running, or newly queued.

        A new job cancels the model's running and waiting jobs.

        Raises
        ------
        QueueFull
            When ``max_queued`` jobs of other models wait already.
        """
        with self._lock:
            job = self._jobs.get(request.key)
            if job is not None and job.state in (DONE, QUEUED, RUNNING):
                self._jobs.move_to_end(request.key)
                return job
            lane = self._lanes.setdefault(request.model, _Lane())
            replaces = lane.pending is not None and lane.pending.state == QUEUED
            if not replaces and self.queued() >= self.max_queued:
                raise QueueFull(
                    f"{self.queued()} computations are waiting already (the limit "
                    f"is {self.max_queued}); try again when one has finished"
                )
            for old in (lane.current, lane.pending):
                if old is not None and not old.finished:
                    old.cancel.set()
            if replaces:
                lane.pending.state = CANCELLED  # type: ignore[union-attr]
            job = Job(request)
            lane.pending = job
            self._remember(job)
            if lane.current is None and request.model not in self._ready:
                self._ready.append(request.model)
            if len(self._threads) < self.workers:
                thread = threading.Thread(
                    target=self._work, name=f"lam-worker-{len(self._threads)}"
                )
                thread.daemon = True
                self._threads.append(thread)
                thread.start()
            self._lock.notify_all()
            return job

    def queued(self) -> int:
        """Jobs waiting for a worker."""
        with self._lock:
            return sum(
                1
                for lane in self._lanes.values()
                if lane.pending is not None and lane.pending.state == QUEUED
            )

    def running(self) -> int:
        """Jobs computing now (at most ``workers``)."""
        with self._lock:
            return sum(1 for lane in self._lanes.values() if lane.current is not None)

    def get(self, key: str) -> Optional[Job]:
        """The job with this key, or None if unknown (or dropped from the cache)."""
        with self._lock:
            return self._jobs.get(key)

    def cancel(self, key: str) -> Optional[Job]:
        """Cancel the job with this key if it has not finished."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and not job.finished:
                job.cancel.set()
                if job.state == QUEUED:
                    job.state = CANCELLED
            return job

    def close(self) -> None:
        """Cancel everything and let the worker threads end."""
        with self._lock:
            self._closed = True
            for job in self._jobs.values():
                job.cancel.set()
            self._lock.notify_all()

    def _remember(self, job: Job) -> None:
        self._jobs[job.key] = job
        self._jobs.move_to_end(job.key)
        self._evict()

    def _evict(self) -> None:
        """Drop the least recently used finished jobs past ``cache_size``."""
        excess = len(self._jobs) - self._cache_size
        if excess > 0:
            for key in [k for k, j in self._jobs.items() if j.finished][:excess]:
                del self._jobs[key]

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._ready and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
                model = self._ready.popleft()
                lane = self._lanes[model]
                job, lane.pending = lane.pending, None
                if job is None or job.state != QUEUED:  # cancelled while waiting
                    continue
                job.state = RUNNING
                lane.current = job

            def progress(
                done: Optional[int] = None,
                total: Optional[int] = None,
                job: Job = job,
            ) -> None:
                if done is not None and total is not None:
                    job.done_steps, job.total_steps = done, total
                if job.cancel.is_set():
                    raise Cancelled

            try:
                if job.cancel.is_set():
                    raise Cancelled
                result = self._compute(job.request, progress)
            except Cancelled:
                state, result, error = CANCELLED, None, None
            except Exception as exc:  # reported to the page, the server goes on
                text = str(exc).strip()
                message = text.splitlines()[0] if text else type(exc).__name__
                state, result, error = ERROR, None, message
            else:
                state, error = DONE, None
            with self._lock:
                job.result, job.error, job.state = result, error, state
                lane.current = None
                if lane.pending is not None and model not in self._ready:
                    self._ready.append(model)
                self._evict()
                self._lock.notify_all()


@contextmanager
def cancellable_passes(model: Any, check: Callable[[], None]) -> Iterator[None]:
    """Call ``check()`` before every layer of ``model`` runs inside the block.

    ``check`` raises `Cancelled` once the job is cancelled, so a cancel stops a
    computation within its forward pass instead of at the end of it. Modules
    that take no hooks (TorchScript) are skipped.
    """
    handles = []
    modules = model.modules() if isinstance(model, nn.Module) else ()
    for module in modules:
        try:
            handles.append(module.register_forward_pre_hook(lambda *_: check()))
        except (AttributeError, RuntimeError):
            continue
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
