"""Extraction in child processes the time limit can really stop.

A thread cannot be stopped: an extraction abandoned at the time limit used to run on
(CPU at 100 %, memory growing) while its slot took the next request.  Here each
request slot is a child process with the models loaded; a job is sent to an idle
child over a pipe, and a child that passes the time limit is killed — its work and
its memory go with it — and replaced by a fresh one.  A child whose memory grew past
a ceiling (a large document's heap is rarely given back) is replaced after it
answers.  Every extraction goes this way, short texts too: nothing runs on the
event loop.

Children are started with ``spawn``: a fresh interpreter that imports the package
and loads the models (about a second), never a copy of a threaded server process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import anyio

from service.budget import Budget
from service.types import ExtractionError

log = logging.getLogger("govreport.runner")

#: A child whose resident memory passes this many MB is replaced after its answer.
MEMORY_CEILING_MB = 1500
#: How long a new child may take to load the models.
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Job:
    """One extraction, as the child runs it (``pipeline.read_report``'s arguments)."""

    source: bytes | str | list[bytes]  # (a list: the page images of one scan)
    filename: str | None
    include_text: bool
    budget: Budget


class WorkerCrashed(RuntimeError):
    """The child died or failed outside the extraction's own errors (a bug)."""


def _child_main(conn: Connection, models_dir: str | None) -> None:
    """A child's life: load the models, then answer jobs until the pipe closes."""
    from service import pipeline

    try:
        models = pipeline.reload_models(models_dir) if models_dir else pipeline.get_models()
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails loudly
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    pipeline.freeze_loaded_heap()
    conn.send(("ready", models.version))
    while True:
        try:
            job: Job = conn.recv()
        except (EOFError, OSError):
            return
        try:
            extraction = pipeline.read_report(job.source, job.filename, include_text=job.include_text,
                                              models=models, budget=job.budget)
            answer = ("ok", extraction.model_dump_json(exclude=None if job.include_text else {"text"}))
        except ExtractionError as exc:
            answer = ("error", exc.code, exc.detail)
        except RecursionError:
            answer = ("error", "too_complex", "the document is nested too deeply to read")
        except MemoryError:
            answer = ("error", "too_complex", "the document needs more memory than a worker has")
        except Exception as exc:  # noqa: BLE001 - a bug: the parent answers 500 and logs it
            import traceback

            answer = ("crash", "".join(traceback.format_exception(exc)))
        del job
        conn.send(answer)


def _rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (0 where /proc is not there)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


class _Child:
    """One child process and the parent's end of its pipe."""

    def __init__(self, models_dir: str | None):
        context = multiprocessing.get_context("spawn")
        self.conn, child_end = context.Pipe()
        self.process = context.Process(target=_child_main, args=(child_end, models_dir),
                                       name="govreport-extract", daemon=True)
        self.process.start()
        child_end.close()
        self.ready = False

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        if self.ready:
            return
        if not self.conn.poll(timeout):
            self.kill()
            raise WorkerCrashed(f"an extraction worker did not start within {timeout:g} s")
        message = self.conn.recv()
        if message[0] != "ready":
            self.kill()
            raise WorkerCrashed(f"an extraction worker could not load the models: {message[1]}")
        self.ready = True

    def call(self, job: Job) -> tuple:
        """Send a job and wait for its answer (blocking: run in a thread).  The pipe is
        closed here, by its only reader, when the child is gone (killed at the time
        limit: the wait ends with the pipe's end of file) — never under a waiting
        reader, whose file descriptor could otherwise be reused by a new child's pipe."""
        try:
            self.wait_ready()
            self.conn.send(job)
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            self.conn.close()
            raise WorkerCrashed(f"the extraction worker stopped: {exc!r}") from exc

    def stop(self) -> None:
        """Kill the process (its work and memory end with it)."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)

    def kill(self) -> None:
        """Kill an idle child (no thread waits on its pipe) and close its pipe."""
        self.stop()
        self.conn.close()

    @property
    def rss_mb(self) -> float:
        return _rss_mb(self.process.pid) if self.process.pid else 0.0


class Runner:
    """``slots`` child processes answering extraction jobs, one job each at a time."""

    def __init__(self, slots: int = 1, models_dir: str | Path | None = None,
                 memory_ceiling_mb: float = MEMORY_CEILING_MB):
        self.slots = max(1, slots)
        self.models_dir = str(models_dir) if models_dir else None
        self.memory_ceiling_mb = memory_ceiling_mb
        self._idle: list[_Child] = []
        self._lock = threading.Lock()
        self._limiter: anyio.CapacityLimiter | None = None
        self.replaced = 0  # children killed at the limit or past the ceiling (for tests, logs)

    def start(self, wait: bool = True) -> None:
        """Start the children (and wait until their models are loaded)."""
        with self._lock:
            while len(self._idle) < self.slots:
                self._idle.append(_Child(self.models_dir))
            children = list(self._idle)
        if wait:
            for child in children:
                child.wait_ready()

    def restart(self) -> None:
        """Replace every idle child (after the models changed on disk)."""
        with self._lock:
            old, self._idle = self._idle, []
        for child in old:
            child.kill()
        self.start(wait=False)

    def close(self) -> None:
        with self._lock:
            old, self._idle = self._idle, []
        for child in old:
            child.kill()

    def _take(self) -> _Child:
        with self._lock:
            return self._idle.pop() if self._idle else _Child(self.models_dir)

    def _give_back(self, child: _Child) -> None:
        rss = child.rss_mb
        if rss > self.memory_ceiling_mb:
            log.info("extraction worker %s grew to %.0f MB; replaced", child.process.pid, rss)
            child.kill()
            self.replaced += 1
            child = _Child(self.models_dir)
        with self._lock:
            self._idle.append(child)

    async def run(self, job: Job, timeout_s: float) -> str:
        """The extraction's JSON; raises ``ExtractionError``, ``TimeoutError`` (the
        child was killed and replaced) or ``WorkerCrashed``."""
        if self._limiter is None:  # (a limiter belongs to the running event loop)
            self._limiter = anyio.CapacityLimiter(self.slots)
        async with self._limiter:
            child = self._take()
            try:
                with anyio.fail_after(timeout_s):
                    answer = await anyio.to_thread.run_sync(child.call, job, abandon_on_cancel=True)
            except TimeoutError:
                # killing the child ends the work and frees its memory; the abandoned
                # thread's wait ends with the pipe, and it closes it
                child.stop()
                self.replaced += 1
                self._give_back(_Child(self.models_dir))
                raise
            except WorkerCrashed:
                child.stop()
                self._give_back(_Child(self.models_dir))
                raise
            self._give_back(child)
        if answer[0] == "ok":
            return answer[1]
        if answer[0] == "error":
            raise ExtractionError(answer[1], answer[2])
        raise WorkerCrashed(answer[1])
