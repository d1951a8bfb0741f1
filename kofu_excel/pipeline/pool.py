"""Taking files in and reading them, on every core, with a crash costing one file.

Intake and reading are per-file work (zip checks, calamine, defined names): about two thirds
of a national merge on one core. Here they run in worker processes, a chunk of files per task,
and come back as items and books. Measured on 2 cores (benchmarks/results.md): the transfer
of a book (~15 KB pickled) costs ~0.35 ms against ~1.8 ms of work, so two workers pay; for
small batches the pool's start-up does not, and everything stays in this process.

A worker that dies (python-calamine aborts the process on some hostile bytes that the
pre-checks did not foresee) breaks only its pool: its files are taken again one per process,
and the one that kills its process is rejected with E119. The batch goes on.

The start method and the workers' dying with the parent are :mod:`kofu_excel.procs`'. A spawned
worker imports this module by name: it must stay free of pandas and pandera (validation stays in
the main process), so its start-up costs the reader's imports only.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from kofu_excel import intake
from kofu_excel.formats import DEFAULT_LIMITS, Limits
from kofu_excel.intake import Item
from kofu_excel.model import BatchOptions, Book
from kofu_excel.procs import cores, quiet_child, start_method
from kofu_excel.read import read_book

# Below this many files the pool's start-up costs more than it saves (measured ~60 ms).
MIN_FILES_FOR_POOL = 64
CHUNK = 8
CRASH_REASON = ("読み込み中に処理が異常終了しました（ファイルの内容が不正な可能性があります）。"
                "このファイルは取り込みません")

_passwords: Sequence[str] = ()
_limits: Limits = DEFAULT_LIMITS


def workers(asked: int | None = None) -> int:
    """Worker processes to use: as asked, else KOFU_WORKERS, else the cores (1 means no pool)."""
    if asked is not None and asked >= 1:
        return asked
    env = os.environ.get("KOFU_WORKERS", "")
    if env.isdigit() and int(env) >= 1:
        return int(env)
    return max(1, min(cores(), 8))


def _init(passwords: Sequence[str], limits: Limits) -> None:
    global _passwords, _limits
    quiet_child()  # Ctrl-C is the parent's to handle: it ends the workers (below)
    _passwords, _limits = passwords, limits


def take(found: Any, passwords: Sequence[str], limits: Limits) -> tuple[list[Item], list[Book]]:
    """One file found on disk → its items and the books read from its workbooks
    (``book.item_index`` counts within this file's items)."""
    items = intake.collect_file(found, passwords, limits)
    books = []
    for i, it in enumerate(items):
        if it.status != "candidate":
            continue
        book = read_book(it.data or b"", it.fmt, file=str(it.path), member=it.member)
        book.item_index = i
        # settle() compares decrypted workbooks by their plaintext: only those keep bytes.
        if not it.decrypted:
            it.data = None
        books.append(book)
    return items, books


def _take_chunk(chunk: Sequence[Any]) -> list[tuple[list[Item], list[Book]]]:
    return [take(f, _passwords, _limits) for f in chunk]


def _crashed(found: Any) -> tuple[list[Item], list[Book]]:
    name = os.path.basename(str(found.display))
    item = Item(path=str(found.display), member="", name=name, sha256="",
                fmt=Path(name).suffix.lstrip(".").lower(), status="rejected", code="E119",
                reason=CRASH_REASON)
    return [item], []


def take_all(paths: Sequence[str | Path],
             options: BatchOptions | None = None) -> Iterator[tuple[list[Item], list[Book]]]:
    """Every file under ``paths`` in intake order: (items, books) per file found.

    Uses ``options``' passwords, limits, workers and progress."""
    options = options if options is not None else BatchOptions()
    passwords = options.passwords
    limits = options.limits if options.limits is not None else DEFAULT_LIMITS
    progress = options.progress
    found = intake.discover(paths)
    n = workers(options.workers)
    if n < 2 or len(found) < MIN_FILES_FOR_POOL:
        for k, f in enumerate(found, start=1):
            yield take(f, passwords, limits)
            if progress is not None:
                progress(k, len(found))
        return
    chunks = [found[i:i + CHUNK] for i in range(0, len(found), CHUNK)]
    done = 0
    for chunk_result in _pooled(chunks, n, passwords, limits):
        for r in chunk_result:
            done += 1
            yield r
            if progress is not None:
                progress(done, len(found))


@contextlib.contextmanager
def _pool(n: int, passwords: Sequence[str], limits: Limits) -> Iterator[ProcessPoolExecutor]:
    """A pool whose workers are ended at once when the caller stops early (Ctrl-C, SIGTERM, an
    error, a consumer that stops reading): the executor's own shutdown would wait for every
    queued chunk first."""
    ctx = multiprocessing.get_context(start_method())
    ex = ProcessPoolExecutor(n, mp_context=ctx, initializer=_init, initargs=(tuple(passwords), limits))
    try:
        yield ex
    except BaseException:
        _kill_workers(ex)
        raise
    ex.shutdown(wait=True)


def _kill_workers(ex: ProcessPoolExecutor) -> None:
    procs = list((getattr(ex, "_processes", None) or {}).values())  # the executor has no API for it
    for p in procs:
        with contextlib.suppress(Exception):
            p.kill()
    ex.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            p.join()


def _pooled(chunks: list[list[Any]], n: int, passwords: Sequence[str],
            limits: Limits) -> Iterator[list[tuple[list[Item], list[Book]]]]:
    with _pool(n, passwords, limits) as ex:
        futures = [ex.submit(_take_chunk, c) for c in chunks]
        broken = -1
        for i, fut in enumerate(futures):
            try:
                yield fut.result()
            except BrokenProcessPool:
                broken = i
                break
        else:
            return
    # This chunk (or one running beside it) killed a worker: its files one process each, so
    # the culprit costs itself only; then a fresh pool for the rest (each round isolates at
    # least one chunk, so this ends).
    yield [_isolated(f, passwords, limits) for f in chunks[broken]]
    yield from _pooled(chunks[broken + 1:], n, passwords, limits)


def _isolated(found: Any, passwords: Sequence[str], limits: Limits) -> tuple[list[Item], list[Book]]:
    try:
        with _pool(1, passwords, limits) as ex:
            return ex.submit(_take_chunk, [found]).result()[0]
    except BrokenProcessPool:
        return _crashed(found)
