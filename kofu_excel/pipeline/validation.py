"""kofu-validate as a library call: a batch → one :class:`FileResult` per file found, and the
report workbook and the annotated copies when asked. The library never prints or exits: the
CLI renders what comes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kofu_excel import stamp
from kofu_excel.findings import Finding
from kofu_excel.intake import Item
from kofu_excel.model import BatchOptions, FileResult
from kofu_excel.refdata import load_master
from kofu_excel.write.atomic import staged
from kofu_excel.write.guard import InputFiles, refuse_not_regular

from .batch import E_NOTHING, Batch, gc_paused, load_batch

__all__ = ["E_NOTHING", "ValidationRun", "file_results", "validate_paths"]

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
        """Every workbook valid, or settled by a later accepted resubmission."""
        return all(fr.status in ("valid", "ignored") or fr.settled for fr in self.files)

    def to_json(self) -> dict[str, Any]:
        return {"files": [fr.to_json() for fr in self.files]}


E_NOT_TAKEN = "E123"  # an ignored file with no code of its own: no workbook to take in


def _item_result(it: Item, status: str, severity: str) -> FileResult:
    reason = Finding(code=it.code or (E_NOT_TAKEN if status == "ignored" else "E117"), severity=severity, message=it.reason or "",
                     file=str(it.path), member=it.member, muni_code=it.muni_code or "")
    return FileResult(str(it.path), it.member, it.kind or "", it.muni_code or "", status, (reason,))


R_EMPTY = "中に取込対象のファイルがありません（{reason}）"


def _has_members(items: Sequence[Item], i: int) -> bool:
    """Whether the container at ``items[i]`` lists anything inside (intake lists a container's
    members right after it)."""
    it = items[i]
    prefix = f"{it.member} > " if it.member else ""
    nxt = items[i + 1] if i + 1 < len(items) else None
    return nxt is not None and nxt.path == it.path and bool(nxt.member) and nxt.member.startswith(prefix)


def file_results(batch: Batch) -> list[FileResult]:
    """Every file found, in intake order: every path given or found has at least one row.
    Containers that opened are left out when their members are listed; one that held nothing
    to take in (an e-mail without attachments, or with inline images only) is ``ignored``;
    containers and workbooks that could not be opened are ``unreadable``."""
    books = {b.item_index: b for b in batch.books}
    out: list[FileResult] = []
    for i, it in enumerate(batch.items):
        book = books.get(i)
        if book is not None and book.own and it.status != "ignored":  # a summary: not validated
            it.status, it.code, it.reason = "ignored", stamp.E_OWN, stamp.reason(book.own)
        if it.status == "opened":
            if not _has_members(batch.items, i):
                empty = replace(it, reason=R_EMPTY.format(reason=it.reason or "開きました"))
                out.append(_item_result(empty, "ignored", "warning"))
        elif book is not None and it.status != "ignored":
            status = book.status if book.status in ("valid", "invalid", "unreadable") else "valid"
            settled = it.reason if it.status == "superseded" and it.code else ""
            out.append(FileResult(book.file, book.member, book.kind, book.muni_code, status,
                                  tuple(book.findings), settled))
        elif it.status == "ignored":
            out.append(_item_result(it, "ignored", "warning"))
        elif it.status == "rejected":
            out.append(_item_result(it, "unreadable", "error"))
    return out


@gc_paused
def validate_paths(
    paths: Sequence[str | Path],
    options: BatchOptions | None = None,
    report: str | Path | None = None,
    annotate: str | Path | None = None,
) -> ValidationRun:
    """kofu-validate as a library call: validate everything under ``paths`` and, when asked,
    write the report workbook and an annotated copy of each invalid workbook.

    Nothing is written when no workbook was found. An output that is not a regular file is
    refused (E904) before anything is read; one that is one of the inputs (by device and inode,
    E903) before anything is written. The toolkit's own earlier outputs found among the inputs
    (stamped, ignored) are no inputs: a rerun may replace them.
    """
    options = options if options is not None else BatchOptions()
    master = options.master if options.master is not None else load_master(None)
    inputs = InputFiles(paths)
    if report is not None:
        refuse_not_regular(report)
    batch = load_batch(paths, replace(options, master=master))
    run = ValidationRun(batch, file_results(batch))
    if run.nothing_found or (report is None and annotate is None):
        return run
    inputs.skip(it.path for it in batch.items if it.code == stamp.E_OWN and not it.member)
    if report is not None:
        inputs.refuse([report])
    # Nothing to send back for a workbook a later accepted resubmission already settled.
    open_books = [b for b in batch.books
                  if not (batch.items[b.item_index].status == "superseded"
                          and batch.items[b.item_index].code)]
    # The writers (xlsxwriter, openpyxl) are loaded only when an output is asked for.
    from kofu_excel.write.annotate import write_annotated
    from kofu_excel.write.report import write_report

    with staged() as st:  # the report and every copy, or none of them
        if annotate is not None:
            run.annotated = write_annotated(open_books, annotate, master, inputs=inputs, staging=st)
            run.files = file_results(batch)  # with a copy's name that could not be written
        if report is not None:
            run.report = write_report(report, run.files, master, staging=st)
    return run
