"""The one place the stages are chained: intake → read → validate → settle.

``kofu-validate`` and ``kofu-merge`` both start from :func:`load_batch`; ``kofu-validate`` then
goes through :func:`validate_paths`, which also writes the report workbook and the annotated
copies when asked. The library never prints or exits: the CLI renders what comes back.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from . import forms, intake
from .findings import Finding, HasFindings, KofuError, jsonable
from .intake import DEFAULT_LIMITS, Item, Limits
from .model import Book
from .parallel import take_all
from .refdata import Master, check_digit, load_master
from .validate import compare_resubmission, prepare, validate_books
from .write.annotate import write_annotated
from .write.report import write_report

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["Batch", "FileResult", "ValidationRun", "load_batch", "validate_paths"]

E_NOTHING = "E109"  # nothing to validate among the inputs (exit 2)
E_MISSING = "E101"  # a path given on the command line does not exist (as intake says it)
E_OUTPUT_IS_INPUT = "E903"


@dataclass
class Batch:
    items: list[Item]  # every file found, in order, with its final status
    books: list[Book]  # one per candidate item that was read (book.item_index points back)

    def book_of(self, item_index: int) -> Book | None:
        for b in self.books:
            if b.item_index == item_index:
                return b
        return None


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


@gc_paused
def load_batch(
    paths: Iterable[str | Path],
    passwords: Sequence[str] = (),
    master: Master | None = None,
    pref: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    today: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Batch:
    """Find every file under ``paths``, read and validate each workbook, settle resubmissions.

    Unreadable and invalid workbooks become ``rejected`` items (code and reason of their first
    error); prefectural summaries pass through unvalidated. ``progress(done, total)`` is called
    after each workbook read.
    """
    master = master if master is not None else load_master(None)
    items: list[Item] = []
    books: list[Book] = []
    # Intake and reading per file, on every core (parallel.py); bytes are freed as each file is
    # read, so memory stays bounded by the values, not the files.
    for file_items, file_books in take_all(list(paths), passwords, limits, progress):
        base = len(items)
        items.extend(file_items)
        for book in file_books:
            book.item_index += base
            prepare(book)  # per-cell normalising while the workers read the next files
            books.append(book)
    validate_books(books, master, pref=pref, today=today)
    for book in books:
        it = items[book.item_index]
        it.kind = book.kind
        code = book.values.get("basic.muni_code")
        it.muni_code = code if isinstance(code, str) else book.muni_code
        if book.kind == "summary":
            # One summary per prefecture is kept when settling (not one for the whole batch).
            it.muni_code = _summary_code(book, master)
        it.revision = _revision(book.values.get("basic.plan_revision"))
        submitted = book.values.get("basic.submitted_on")
        it.submitted_on = submitted if isinstance(submitted, date) else None
        if book.status in ("unreadable", "invalid"):
            it.status = "rejected"
            it.code, it.reason = _rejection(book)
    intake.settle(items)
    for it in items:
        it.data = None
    batch = Batch(items, books)
    _resubmissions(batch)
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
    for code, book in accepted.items():
        if code in latest:
            compare_resubmission(book, latest[code])


def _when(batch: Batch, book: Book) -> tuple[date, date]:
    it = batch.items[book.item_index]
    rm = book.values.get("basic.report_month")
    return (it.submitted_on or date.min, rm if isinstance(rm, date) else date.min)


# --- kofu-validate ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FileResult(HasFindings):
    """One file as kofu-validate reports it (cli.md's ``--json`` entry)."""

    path: str
    member: str
    kind: str
    muni_code: str
    status: str  # valid | invalid | unreadable | ignored
    findings: tuple[Finding, ...]

    @property
    def label(self) -> str:
        return f"{self.path} > {self.member}" if self.member else self.path

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path, "member": self.member, "kind": self.kind,
            "muni_code": self.muni_code, "status": self.status,
            "errors": [{"code": f.code, "severity": f.severity, "sheet": f.sheet, "cell": f.cell,
                        "field": f.field, "value": jsonable(f.value), "message": f.message}
                       for f in self.findings],
        }


@dataclass
class ValidationRun:
    batch: Batch
    files: list[FileResult]
    report: Path | None = None
    annotated: list[Path] = field(default_factory=list)

    @property
    def nothing_found(self) -> bool:
        """No workbook at all among the inputs (exit 2)."""
        return not any(fr.status != "ignored" for fr in self.files)

    @property
    def all_valid(self) -> bool:
        return all(fr.status in ("valid", "ignored") for fr in self.files)

    def to_json(self) -> dict[str, Any]:
        return {"files": [fr.to_json() for fr in self.files]}


def _item_result(it: Item, status: str, severity: str) -> FileResult:
    reason = Finding(code=it.code or "E117", severity=severity, message=it.reason or "",
                     file=str(it.path), member=it.member, muni_code=it.muni_code or "")
    return FileResult(str(it.path), it.member, it.kind or "", it.muni_code or "", status, (reason,))


def file_results(batch: Batch) -> list[FileResult]:
    """Every file found, in intake order. Containers that opened are left out (their members
    are listed); containers and workbooks that could not be opened are ``unreadable``."""
    books = {b.item_index: b for b in batch.books}
    out: list[FileResult] = []
    for i, it in enumerate(batch.items):
        book = books.get(i)
        if book is not None:
            status = book.status if book.status in ("valid", "invalid", "unreadable") else "valid"
            out.append(FileResult(book.file, book.member, book.kind, book.muni_code, status,
                                  tuple(book.findings)))
        elif it.status == "ignored":
            out.append(_item_result(it, "ignored", "warning"))
        elif it.status == "rejected":
            out.append(_item_result(it, "unreadable", "error"))
    return out


@gc_paused
def validate_paths(
    paths: Sequence[str | Path],
    passwords: Sequence[str] = (),
    master: Master | None = None,
    pref: str | None = None,
    report: str | Path | None = None,
    annotate: str | Path | None = None,
    limits: Limits = DEFAULT_LIMITS,
    today: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ValidationRun:
    """kofu-validate as a library call: validate everything under ``paths`` and, when asked,
    write the report workbook and an annotated copy of each invalid workbook.

    Nothing is written when no workbook was found. An output path that is one of the inputs
    is refused (KofuError) before anything is read.
    """
    master = master if master is not None else load_master(None)
    inputs = [Path(p).resolve() for p in paths]
    if report is not None and Path(report).resolve() in inputs:
        raise KofuError(E_OUTPUT_IS_INPUT, f"出力先 {report} は入力ファイルです。別の名前を指定してください")
    batch = load_batch(paths, passwords=passwords, master=master, pref=pref, limits=limits,
                       today=today, progress=progress)
    run = ValidationRun(batch, file_results(batch))
    if run.nothing_found:
        return run
    found = {Path(it.path).resolve() for it in batch.items}
    if report is not None:
        if Path(report).resolve() in found:
            raise KofuError(E_OUTPUT_IS_INPUT, f"出力先 {report} は入力ファイルです。別の名前を指定してください")
        run.report = write_report(report, run.files, master)
    if annotate is not None:
        run.annotated = write_annotated(batch.books, annotate, master, inputs=sorted(found))
    return run
