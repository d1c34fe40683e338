"""One computation at a time per model, superseded requests cancelled, results cached.

The explorer asks for the LAM of a window for every selected model each time the
user clicks. Each model has a lane: one worker thread that runs the newest
request; a new request for the same model cancels the one in flight (at its next
forward/backward pass) and replaces the one waiting. Finished results are kept in
a least-recently-used cache keyed by (model, image, window, settings).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

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


class _Lane:
    def __init__(self) -> None:
        self.pending: Optional[Job] = None
        self.current: Optional[Job] = None
        self.thread: Optional[threading.Thread] = None


class JobRunner:
    """Runs :class:`Request` s through ``compute``, one at a time per model.

    Parameters
    ----------
    compute : callable
        ``compute(request, progress) -> result``; it calls ``progress(done, total)``
        after each pass, which raises :class:`Cancelled` once the job is superseded.
    cache_size : int
        Finished results kept (least recently used dropped first).
    """

    def __init__(self, compute: Compute, cache_size: int = 64) -> None:
        self._compute = compute
        self._cache_size = cache_size
        self._lock = threading.Condition()
        self._lanes: dict[str, _Lane] = {}
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._closed = False

    def submit(self, request: Request) -> Job:
        """The job for ``request``: cached, already running, or newly queued.

        A new job cancels the model's running and waiting jobs.
        """
        with self._lock:
            job = self._jobs.get(request.key)
            if job is not None and job.state in (DONE, QUEUED, RUNNING):
                self._jobs.move_to_end(request.key)
                return job
            lane = self._lanes.setdefault(request.model, _Lane())
            for old in (lane.current, lane.pending):
                if old is not None and not old.finished:
                    old.cancel.set()
            if lane.pending is not None and lane.pending.state == QUEUED:
                lane.pending.state = CANCELLED
            job = Job(request)
            lane.pending = job
            self._remember(job)
            if lane.thread is None:
                lane.thread = threading.Thread(
                    target=self._work,
                    args=(lane,),
                    name=f"lam-{request.model}",
                    daemon=True,
                )
                lane.thread.start()
            self._lock.notify_all()
            return job

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
        while len(self._jobs) > self._cache_size:
            oldest = next(iter(self._jobs))
            if not self._jobs[oldest].finished:
                break
            del self._jobs[oldest]

    def _work(self, lane: _Lane) -> None:
        while True:
            with self._lock:
                while lane.pending is None and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
                job, lane.pending = lane.pending, None
                if job.state != QUEUED:  # cancelled while waiting
                    continue
                job.state = RUNNING
                lane.current = job

            def progress(done: int, total: int, job: Job = job) -> None:
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
