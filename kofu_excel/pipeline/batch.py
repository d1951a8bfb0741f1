"""A batch: every file under the inputs taken in, read, validated and settled.

:func:`load_batch` chains intake → read (both in :mod:`.pool`) → validate → settle, then
compares each accepted monthly report with the report it replaced (W402).
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from kofu_excel import forms, stamp
from kofu_excel.intake import Item
from kofu_excel.model import BatchOptions, Book, muni_code_of
from kofu_excel.refdata import Master, check_digit, load_master
from kofu_excel.settle import settle

from .pool import take_all

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["E_NOTHING", "Batch", "gc_paused", "load_batch"]

E_NOTHING = "E109"  # nothing usable among the inputs: no output (exit 2)


@dataclass
class Batch:
    items: list[Item]  # every file found, in order, with its final status
    books: list[Book]  # one per candidate item that was read (book.item_index points back)


def _revision(value: Any) -> int:
    """plan_revision as an index: 当初 = 0, 改訂1 = 1 … (0 when absent or unknown)."""
    return forms.REVISION_CHOICES.index(value) if value in forms.REVISION_CHOICES else 0


def _rejection(book: Book) -> tuple[str, str]:
    """(code, Japanese reason) of an unreadable or invalid book: its first error and the count."""
    errors = book.errors
    if not errors:
        return "E101", "ブックとして読み込めません"
    first = errors[0]
    more = f"（ほか {len(errors) - 1} 件のエラー）" if len(errors) > 1 else ""
    return first.code, f"{first.message}{more}"


def gc_paused(fn: F) -> F:
    """Run a batch with Python's cyclic garbage collector paused.

    A batch allocates millions of small acyclic objects (cells, values, rows), and each
    generation-2 pass re-walks all of them: measured ~0.7 s of a 4.5 s national merge. Nothing
    here builds reference cycles that need collecting before the batch ends.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return wrapper  # type: ignore[return-value]


# Books validated together. Validation is per book (vectorised over a chunk, the same findings
# whatever the chunk), so a chunk bounds the frames and the raw cells held at once; pandera's
# fixed cost per call (~10 ms a table) is paid per chunk.
VALIDATE_CHUNK = 512


def _validate(books: list[Book], items: list[Item], master: Master, options: BatchOptions) -> None:
    """Validate the books read so far and empty the list. The toolkit's own outputs, unchanged
    (stamp.py), are listed and set aside, never validated nor counted; a prefectural summary
    is left to the caller (the national merge reads it)."""
    from kofu_excel.validate import validate_books

    for book in books:
        if book.own and book.own != "summary":
            it = items[book.item_index]
            it.kind, it.status, it.code, it.reason = book.kind, "ignored", stamp.E_OWN, stamp.reason(book.own)
            it.data = None
    validate_books([b for b in books if not b.own or b.own == "summary"], master, pref=options.pref,
                   today=options.today)
    if not options.keep_cells:
        for book in books:
            if book.kind != "monthly":  # a monthly report's cells may yet be quoted by W402
                book.cells = {}
    books.clear()


@gc_paused
def load_batch(paths: Iterable[str | Path], options: BatchOptions | None = None) -> Batch:
    """Find every file under ``paths``, read and validate each workbook, settle resubmissions.

    Unreadable and invalid workbooks become ``rejected`` items (code and reason of their first
    error); prefectural summaries pass through unvalidated. ``options.progress(done, total)``
    is called after each workbook read.
    """
    options = options if options is not None else BatchOptions()
    master = options.master if options.master is not None else load_master(None)
    items: list[Item] = []
    books: list[Book] = []
    waiting: list[Book] = []  # read, not yet validated
    prepare: Callable[[Book], Any] | None = None
    # Intake and reading per file, on every core (pool.py); bytes are freed as each file is
    # read, and books are validated a chunk at a time while the workers read on, so memory
    # holds the values, not the files or (for the merge) their cells.
    for file_items, file_books in take_all(list(paths), options):
        if prepare is None:
            # Validation's libraries (pandas, pandera: ~0.5 s) load only now, while the
            # workers read on, and the workers were started without them.
            from kofu_excel.validate import prepare
        base = len(items)
        items.extend(file_items)
        for book in file_books:
            book.item_index += base
            prepare(book)  # per-cell normalising while the workers read the next files
            books.append(book)
            waiting.append(book)
        if len(waiting) >= VALIDATE_CHUNK:
            _validate(waiting, items, master, options)
    _validate(waiting, items, master, options)
    for book in books:
        it = items[book.item_index]
        if it.status == "ignored":
            continue
        it.kind = book.kind
        # One summary per prefecture is kept when settling (not one for the whole batch).
        it.muni_code = _summary_code(book, master) if book.kind == "summary" else muni_code_of(book)
        it.revision = _revision(book.values.get("basic.plan_revision"))
        submitted = book.values.get("basic.submitted_on")
        it.submitted_on = submitted if isinstance(submitted, date) else None
        if book.status in ("unreadable", "invalid"):
            it.status = "rejected"
            it.code, it.reason = _rejection(book)
    settle(items)
    for it in items:
        it.data = None
    batch = Batch(items, books)
    _resubmissions(batch)
    if not options.keep_cells:
        for book in books:
            book.cells = {}
    return batch


def _summary_code(book: Book, master: Master) -> str:
    """A prefectural summary stands for its prefecture: the prefecture's own code (鳥取県 310000)."""
    pp = book.meta.get("pref", "")
    if not pp:
        prefs = {str(row[0])[:2] for row in book.tidy if row[0]}
        pp = prefs.pop() if len(prefs) == 1 else ""
    if pp not in master.prefectures:
        return ""
    return f"{pp}000{check_digit(f'{pp}000')}"


def _resubmissions(batch: Batch) -> None:
    """W402: the accepted monthly report of a municipality changed a month that its latest
    superseded report (in the same batch) already gave."""
    latest: dict[str, Book] = {}
    accepted: dict[str, Book] = {}
    for book in batch.books:
        it = batch.items[book.item_index]
        if book.kind != "monthly" or book.status != "valid" or not it.muni_code:
            continue
        if it.status == "accepted":
            accepted[it.muni_code] = book
        elif it.status == "superseded":
            prev = latest.get(it.muni_code)
            if prev is None or _when(batch, book) >= _when(batch, prev):
                latest[it.muni_code] = book
    from kofu_excel.validate import compare_resubmission

    for code, book in accepted.items():
        if code in latest:
            compare_resubmission(book, latest[code])


def _when(batch: Batch, book: Book) -> tuple[date, date]:
    it = batch.items[book.item_index]
    rm = book.values.get("basic.report_month")
    return (it.submitted_on or date.min, rm if isinstance(rm, date) else date.min)
