"""Annotated copies to send back (差し戻し): ``kofu-validate --annotate DIR``.

An annotated copy is a FRESH template (``template.workbook_bytes``) holding the municipality's
own raw values — what they typed, so they see their own input — with each faulty cell filled
(red for errors, yellow for warnings) and commented, and a first sheet 「確認結果」 listing every
finding. Building it fresh keeps the dropdowns, validations, protection and defined names of the
form, never carries macros, links or anything else embedded in the original, and never touches
the original file.

The template writes each value at the definition's address, so where a user had moved a
range (inserted rows), the cell in the copy differs from the cell in what they sent: the first
sheet lists both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from .. import forms
from ..contract import ANNOTATED_RESULT_SHEET, KIND_LABELS, SEVERITY_LABELS
from ..findings import Finding, KofuError
from ..model import Book
from ..names import component_len, fit_path, name_max, safe_name, writable_name
from .atomic import Staging, staged
from .guard import InputFiles
from .report import field_label, row_height
from .template import ERROR_FILL, WARN_FILL, workbook_bytes
from .xlsx import HEADER_FILL, Styles, print_a4, write_cell, write_text, write_title

if TYPE_CHECKING:
    import xlsxwriter

    from ..refdata import Master, Schedule

RESULT_SHEET = ANNOTATED_RESULT_SHEET
SUFFIX = "_確認結果.xlsx"
COLUMNS = ("番号", "重大度", "コード", "シート", "セル", "提出時のセル", "項目", "内容", "入力値", "期待値")
_WIDTHS = (6, 8, 7, 16, 7, 11, 30, 60, 16, 26)
_WRAPPED = (6, 7, 9)
# Characters Windows forbids in file names (and control characters).
_BAD_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def raw_values(book: Book) -> dict[str, Any]:
    """The cells as the municipality typed them, ready for the template writer."""
    out: dict[str, Any] = {}
    for cid, rc in book.cells.items():
        v = rc.value
        if v is None or (isinstance(v, str) and v == ""):
            continue
        if isinstance(v, bool):
            v = "TRUE" if v else "FALSE"
        elif isinstance(v, (time, timedelta)) or not isinstance(v, (int, float, str, date, datetime)):
            v = str(v)
        out[cid] = v
    return out


def marks(book: Book) -> dict[str, tuple[str, str]]:
    """Catalog id → (severity, comment): errors win the colour; all messages go in the comment."""
    by_cell: dict[str, list[Finding]] = {}
    ids = {e.id for e in forms.catalog(book.kind)}
    for f in book.findings:
        if f.field in ids and f.severity in ("error", "warning"):
            by_cell.setdefault(f.field, []).append(f)
    out = {}
    for cid, found in by_cell.items():
        severity = "error" if any(f.severity == "error" for f in found) else "warning"
        out[cid] = (severity, "\n".join(f"{f.code} {_short(f)}" for f in found))
    return out


def _short(f: Finding) -> str:
    """The message without its 「sheet」シート cell「label」： prefix (the comment sits on the cell)."""
    head, sep, rest = f.message.partition("」：")
    return rest if sep and head.startswith("「") else f.message


def _sent_name(book: Book) -> str:
    """The file as the municipality knows it: no folder of the prefecture's machine."""
    name = PureWindowsPath(PurePosixPath(book.file).name).name
    return f"{name} > {book.member}" if book.member else name


def _result_sheet(book: Book, master: Master | None) -> Any:
    catalog = {e.id: e for e in forms.catalog(book.kind)}
    muni = master.by_code.get(book.muni_code) if master is not None else None
    who = f"{muni.pref_name}{muni.name}（団体コード {muni.code}）" if muni else f"団体コード {book.muni_code}"
    errors, warnings = len(book.errors), len(book.warnings)

    def build(wb: xlsxwriter.Workbook, s: Styles) -> None:
        ws = wb.add_worksheet(RESULT_SHEET)
        write_title(ws, f"{KIND_LABELS.get(book.kind, book.kind)}の確認結果（差し戻し）", s)
        write_text(ws, 1, 0, who, s, bold=True)
        write_text(ws, 2, 0, f"提出ファイル：{_sent_name(book)}", s)
        write_text(ws, 3, 0, f"エラー {errors} 件・警告 {warnings} 件。赤色（エラー）のセルを修正し、"
                   "黄色（警告）のセルを確認のうえ、このブックで再提出してください。"
                   "各セルのコメントに内容を記載しています。", s, font_color="#C00000")
        for c, label in enumerate(COLUMNS):
            write_text(ws, 5, c, label, s, bold=True, bg_color=HEADER_FILL, border=1, text_wrap=True)
        for i, f in enumerate(book.findings, start=1):
            r = 5 + i
            e = catalog.get(f.field)
            sheet, cell = (e.sheet, e.cell) if e is not None else (f.sheet, f.cell)
            sent = f.cell if e is not None and (f.sheet, f.cell) != (e.sheet, e.cell) else ""
            fill = {"error": ERROR_FILL, "warning": WARN_FILL}.get(f.severity)
            row = (i, SEVERITY_LABELS.get(f.severity, f.severity), f.code, sheet, cell,
                   f"{f.sheet}!{sent}" if sent and f.sheet != sheet else sent,
                   field_label(book.kind, f.field), f.message, f.value, f.expected)
            for c, v in enumerate(row):
                props: dict[str, Any] = {"border": 1, "valign": "top", "text_wrap": c in _WRAPPED}
                if c == 1 and fill:
                    props["bg_color"] = fill
                write_cell(ws, r, c, v, s, **props)
            height = row_height([(row[c], _WIDTHS[c]) for c in _WRAPPED])
            if height:
                ws.set_row(r, height)
        for c, w in enumerate(_WIDTHS):
            ws.set_column(c, c, w)
        ws.freeze_panes(6, 0)
        ws.autofilter(5, 0, 5 + max(len(book.findings), 1), len(COLUMNS) - 1)
        print_a4(ws, repeat_row=5)
        ws.protect("", {"select_locked_cells": True, "select_unlocked_cells": True,
                        "autofilter": True, "sort": True})

    return build


def annotated_bytes(book: Book, master: Master | None = None, schedule: Schedule | None = None) -> bytes:
    """The annotated copy of one validated plan/monthly book, as xlsx bytes."""
    if book.kind not in forms.FORMS:
        raise ValueError(f"not a form workbook: {book.kind!r}")
    muni = master.by_code.get(book.muni_code) if master is not None else None
    return workbook_bytes(book.kind, muni, values=raw_values(book), marks=marks(book),
                          schedule=schedule, first_sheet=_result_sheet(book, master),
                          written="annotated")


def annotated_name(book: Book, limit: int | None = None) -> str:
    """'<original stem>_確認結果.xlsx' (the innermost member's stem for archived files), no
    longer than ``limit`` as this OS counts a name (names.name_max: bytes on POSIX, UTF-16
    units on Windows), with room left for a ``_NN`` that tells two copies apart."""
    last = book.member.split(" > ")[-1] if book.member else book.file
    stem = PureWindowsPath(PurePosixPath(last).name).stem or "ブック"
    room = (limit if limit is not None else name_max()) - component_len(SUFFIX) - len("_99")
    return safe_name(_BAD_NAME.sub("_", stem), max_units=room) + SUFFIX


E_NAME = "E906"  # the copy's name cannot be written here (a finding on its file)


def _name_finding(book: Book, why: str) -> Finding:
    return Finding(code=E_NAME, severity="error", file=book.file, member=book.member,
                   muni_code=book.muni_code,
                   message=f"差し戻し用のブックを書き出せません（{why}）。このファイルの差し戻し用のブックは作成していません")


def annotated_paths(books: Iterable[Book], out_dir: str | Path,
                    inputs: InputFiles | None = None) -> list[tuple[Book, Path | str]]:
    """Where the annotated copy of each invalid book goes, before anything is written: a path,
    or why no copy can be written here (a character the file system cannot store, a folder too
    deep for the name).

    Names that would collide (same stem from two e-mails) get ``_2``, ``_3`` …; a name that is
    one of the ``inputs`` (by device and inode) is never overwritten: the next number is taken.
    """
    out = Path(out_dir)
    planned: list[tuple[Book, Path | str]] = []
    used: set[str] = set()
    limit = name_max(out)
    for book in books:
        if book.status != "invalid" or book.kind not in forms.FORMS:
            continue
        name = annotated_name(book, limit)
        why = writable_name(name, limit)
        if why:
            planned.append((book, why))
            continue
        stem = name[: -len(SUFFIX)]
        n = 1
        while name.casefold() in used or (inputs is not None and (out / name) in inputs):
            n += 1
            name = f"{stem}_{n}{SUFFIX}"
        used.add(name.casefold())
        try:
            path = fit_path(out, name)
        except KofuError as exc:
            planned.append((book, exc.message))
            continue
        why = writable_name(path.name, limit)
        planned.append((book, why or path))
    return planned


def write_annotated(books: Iterable[Book], out_dir: str | Path, master: Master | None = None,
                    schedule: Schedule | None = None, inputs: InputFiles | None = None,
                    staging: Staging | None = None) -> list[Path]:
    """An annotated copy of each invalid book in ``out_dir`` (see :func:`annotated_paths`);
    returns the paths written. E903/E904 before the first copy when a path is an input or not
    a regular file.

    All copies are written or none (``staging``: as part of a larger set of outputs, e.g. with
    the report). A copy whose name cannot be written here is an E906 finding on its book; the
    other copies are written.
    """
    if staging is None:
        with staged() as st:
            return write_annotated(books, out_dir, master, schedule, inputs, st)
    planned = annotated_paths(books, out_dir, inputs)
    (inputs or InputFiles()).refuse(p for _book, p in planned if isinstance(p, Path))
    written: list[Path] = []
    for book, target in planned:
        if isinstance(target, str):
            book.findings.append(_name_finding(book, target))
            continue
        staging.write(target, annotated_bytes(book, master, schedule))
        written.append(target)
    return written
