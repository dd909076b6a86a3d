"""Batch: every report of a folder tree into the archive (``service.archive``).

Files are found by walking the paths (every format the ingesters read), known by
their SHA-256: a file whose hash is stored is skipped (``force`` reads it again;
``reprocess_older`` reads again those a different models version read).  The
extraction runs on several cores (``jobs``, processes forked after the models are
loaded) or on a Dask cluster (``engine="dask"``: an existing scheduler, or a local
cluster of ``jobs`` workers); the results stream back to this process, the one
writer of the database, which stores each report whole, in a transaction of its own
when it arrives to an idle writer; reports that arrived while the writer was busy
are stored together in the next one (group commit), so the writer keeps up with
any number of workers and a kill loses none half-stored.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TypeVar

from service import archive

#: The most reports one transaction holds: those that arrived while the writer was
#: storing the last ones (a kill loses at most these, which a re-run redoes).
GROUP_REPORTS = 32
T = TypeVar("T")

#: File suffixes a batch reads (the format itself is sniffed from the content).
SUFFIXES = {".txt", ".text", ".htm", ".html", ".xhtml", ".docx", ".pdf"}


def find_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every report file under ``paths`` (a file is taken as given), sorted, hidden
    files and folders skipped."""
    found: set[Path] = set()
    for path in map(Path, paths):
        if path.is_file():
            found.add(path)
            continue
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: no such file or folder")
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in files:
                if not name.startswith(".") and Path(name).suffix.lower() in SUFFIXES:
                    found.add(Path(root) / name)
    return sorted(found)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def prepare_file(path: str) -> archive.Prepared:
    """One file's extraction as the archive's rows (runs in the worker: a process of
    the pool or of the Dask cluster, whose models are loaded once per process)."""
    from service.pipeline import extract_file

    return archive.prepare(extract_file(path))


@dataclass
class Summary:
    files: int = 0
    skipped: int = 0
    stored: int = 0
    failed: int = 0
    transactions: int = 0  # (fewer than ``stored`` where reports waited for the writer)
    errors: list[str] = field(default_factory=list)


class _Raised(NamedTuple):
    error: BaseException


def arrival_groups(results: Iterable[T], limit: int) -> Iterator[list[T]]:
    """``results`` in the groups they arrive in: each group is the first result not yet
    taken and those that arrived with it or since (at most ``limit``).  A consumer
    that takes a group as soon as it has stored the last one gets one result at a
    time while it keeps up, and everything that waited when it falls behind.

    The results are fetched on a thread of their own (the extraction workers run
    on while the consumer writes); an error raised fetching them is raised here,
    after the results that came before it."""
    arrived: queue.SimpleQueue = queue.SimpleQueue()
    end = object()
    stop = threading.Event()  # the consumer is gone: fetch no more

    def fetch() -> None:
        try:
            for result in results:
                if stop.is_set():
                    break
                arrived.put(result)
        except BaseException as exc:  # (raised again in the consumer's thread)
            arrived.put(_Raised(exc))
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()  # (a generator's pool shuts down, its unstarted work cancelled)
        arrived.put(end)

    threading.Thread(target=fetch, name="batch-results", daemon=True).start()
    try:
        while True:
            group = [arrived.get()]
            while len(group) < limit and group[-1] is not end and not isinstance(group[-1], _Raised):
                try:
                    group.append(arrived.get_nowait())
                except queue.Empty:
                    break
            last = group[-1]
            if last is end or isinstance(last, _Raised):
                group.pop()
            if group:
                yield group
            if isinstance(last, _Raised):
                raise last.error
            if last is end:
                return
    finally:
        stop.set()


def _local_results(todo: list[tuple[Path, str]], jobs: int) -> Iterator[tuple[Path, str, archive.Prepared]]:
    if jobs <= 1:
        for path, sha in todo:
            yield path, sha, prepare_file(str(path))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        # chunks: fewer round trips to the workers, small enough for the cores to finish together
        chunk = max(1, min(16, len(todo) // (jobs * 8)))
        results = pool.map(prepare_file, [str(path) for path, _ in todo], chunksize=chunk)
        for (path, sha), result in zip(todo, results):
            yield path, sha, result


def _dask_results(todo: list[tuple[Path, str]], jobs: int, scheduler: str | None,
                  ) -> Iterator[tuple[Path, str, archive.Prepared]]:
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        futures = client.map(prepare_file, [str(p) for p, _ in todo], pure=False)
        where = {f.key: item for f, item in zip(futures, todo)}
        for future in as_completed(futures):
            path, sha = where[future.key]
            yield path, sha, future.result()
            future.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run(paths: Iterable[str | Path], db: str | Path, *, jobs: int = 1, force: bool = False,
        reprocess_older: bool = False, engine: str = "local", scheduler: str | None = None,
        on_file: Callable[[Summary, int], None] | None = None,
        on_start: Callable[[int], None] | None = None) -> Summary:
    """Store every report file under ``paths`` in the archive ``db``."""
    from service.pipeline import get_models

    files = find_files(paths)
    con = archive.connect(db)
    # One DuckDB thread: a batch's statements are small appends, and DuckDB's own
    # threads only take the cores from the extraction (600 reports at 1 job: 6.5-6.9 s
    # with one thread, 9.9-10.6 s with one per core).
    con.execute("SET threads = 1")
    try:
        models_version = get_models().version
        known = archive.stored(con)
        summary = Summary(files=len(files))
        todo: list[tuple[Path, str]] = []
        seen: set[str] = set()
        for path in files:
            sha = sha256_of(path)
            old = known.get(sha)
            again = force or (reprocess_older and old is not None and old.models_version != models_version)
            if sha in seen or (old is not None and not again):
                summary.skipped += 1  # stored already (or the same file twice in this run)
                continue
            seen.add(sha)
            todo.append((path, sha))
        if on_start:
            on_start(len(todo))
        results = (_dask_results(todo, jobs, scheduler) if engine == "dask"
                   else _local_results(todo, jobs))
        for group in arrival_groups(results, GROUP_REPORTS):
            items = [archive.Item(str(path), sha, prepared, replace=sha in known) for path, sha, prepared in group]
            archive.store_many(con, items, models_version)  # each report whole, in one transaction
            summary.transactions += 1
            for item in items:
                summary.stored += 1
                if item.prepared.report["error_code"]:
                    summary.failed += 1
                    summary.errors.append(f"{item.source}: {item.prepared.report['error_detail']}")
                if on_file:
                    on_file(summary, len(todo))
        return summary
    finally:
        con.close()
