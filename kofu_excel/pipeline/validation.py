"""kofu-validate as a library call: a batch → one :class:`FileResult` per file found, and the
report workbook and the annotated copies when asked. The library never prints or exits: the
CLI renders what comes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kofu_excel.findings import Finding, KofuError
from kofu_excel.intake import Item
from kofu_excel.model import BatchOptions, FileResult
from kofu_excel.refdata import load_master

from .batch import E_NOTHING, E_OUTPUT_IS_INPUT, Batch, gc_paused, load_batch

__all__ = ["E_MISSING", "E_NOTHING", "E_OUTPUT_IS_INPUT", "ValidationRun", "file_results",
           "validate_paths"]

E_MISSING = "E101"  # a path given on the command line does not exist (as intake says it)


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
    options: BatchOptions | None = None,
    report: str | Path | None = None,
    annotate: str | Path | None = None,
) -> ValidationRun:
    """kofu-validate as a library call: validate everything under ``paths`` and, when asked,
    write the report workbook and an annotated copy of each invalid workbook.

    Nothing is written when no workbook was found. An output path that is one of the inputs
    is refused (KofuError) before anything is read.
    """
    options = options if options is not None else BatchOptions()
    master = options.master if options.master is not None else load_master(None)
    inputs = [Path(p).resolve() for p in paths]
    if report is not None and Path(report).resolve() in inputs:
        raise KofuError(E_OUTPUT_IS_INPUT, f"出力先 {report} は入力ファイルです。別の名前を指定してください")
    batch = load_batch(paths, replace(options, master=master))
    run = ValidationRun(batch, file_results(batch))
    if run.nothing_found:
        return run
    found = {Path(it.path).resolve() for it in batch.items}
    if report is not None:
        if Path(report).resolve() in found:
            raise KofuError(E_OUTPUT_IS_INPUT, f"出力先 {report} は入力ファイルです。別の名前を指定してください")
        from kofu_excel.write.report import write_report  # openpyxl/xlsxwriter only when asked

        run.report = write_report(report, run.files, master)
    if annotate is not None:
        from kofu_excel.write.annotate import write_annotated

        run.annotated = write_annotated(batch.books, annotate, master, inputs=sorted(found))
    return run
