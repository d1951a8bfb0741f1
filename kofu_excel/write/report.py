"""The report workbook of ``kofu-validate --report``: one row per finding, for the office.

Everything typed by a municipality is untrusted: every text goes through ``write.xlsx.write_text``
(so ``=cmd|' /C calc'!A0`` lands as text), no hyperlinks are made, and the file is written
atomically. A second sheet lists every file with its status, so a clean file is seen too.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__, forms
from ..cells import display_width
from ..contract import (
    KIND_LABELS,
    REPORT_FILES_SHEET,
    REPORT_FINDINGS_SHEET,
    RESULT_LABELS,
    SEVERITY_LABELS,
)
from ..stamp import REPORT_KIND
from .atomic import Staging, write_atomic
from .xlsx import (
    HEADER_FILL,
    Styles,
    as_text,
    build_xlsx,
    print_a4,
    write_cell,
    write_text,
    write_title,
)

if TYPE_CHECKING:
    import xlsxwriter

    from ..model import FileResult
    from ..refdata import Master

FINDINGS_SHEET = REPORT_FINDINGS_SHEET
FILES_SHEET = REPORT_FILES_SHEET
FINDING_COLUMNS = ("ファイル", "格納場所", "団体コード", "市区町村名", "区分", "コード", "重大度",
                   "シート", "セル", "項目", "内容", "入力値", "期待値")
FILE_COLUMNS = ("ファイル", "格納場所", "団体コード", "市区町村名", "区分", "結果", "エラー", "警告")
# Widths in Excel character units; long text wraps instead of widening without bound.
_MAX_WIDTH = {"ファイル": 36, "格納場所": 24, "内容": 60, "入力値": 16, "期待値": 24, "項目": 28}
_ERROR_FILL = "#FFC7CE"
_WARN_FILL = "#FFEB9C"


@functools.cache
def _labels(kind: str) -> dict[str, str]:
    return {e.id: e.label for e in forms.catalog(kind)} if kind in forms.FORMS else {}


def field_label(kind: str, field: str) -> str:
    """The Japanese label of a catalog id (or the id itself when it is not one): the 項目 column
    of the report, the annotated copies and the summary's 指摘事項."""
    return _labels(kind).get(field, field)


def _whole(v: Any) -> bool:
    """A whole number (thousands separators help); a fraction is shown as typed."""
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


def row_height(cells: Sequence[tuple[Any, float]]) -> float | None:
    """Height for a row of wrapped cells ((value, column width) pairs), or None for one line:
    xlsxwriter does not measure text, and LibreOffice keeps the default height."""
    lines = max((-(-display_width(as_text(v)) // max(int(w) - 2, 1)) for v, w in cells), default=1)
    return 17.0 * min(lines, 12) if lines > 1 else None


def _muni_name(master: Master | None, code: str) -> str:
    m = master.by_code.get(code) if master is not None and code else None
    return f"{m.pref_name}{m.name}" if m is not None else ""


def _rows(files: Sequence[FileResult], master: Master | None) -> list[tuple[list[Any], str]]:
    rows = []
    for fr in files:
        name = _muni_name(master, fr.muni_code)
        kind = KIND_LABELS.get(fr.kind, fr.kind)
        for f in fr.findings:
            rows.append(([fr.path, fr.member, fr.muni_code, name, kind, f.code,
                          SEVERITY_LABELS.get(f.severity, f.severity), f.sheet, f.cell,
                          field_label(fr.kind, f.field), f.message, f.value, f.expected],
                         f.severity))
    return rows


def _table(wb: xlsxwriter.Workbook, s: Styles, sheet: str, title: str, columns: Sequence[str],
           rows: Sequence[tuple[list[Any], str]], mark_col: str,
           number_cols: Sequence[str] = ()) -> None:
    ws = wb.add_worksheet(sheet)
    write_title(ws, title, s)
    for c, label in enumerate(columns):
        write_text(ws, 2, c, label, s, bold=True, bg_color=HEADER_FILL, border=1, text_wrap=True,
                   valign="vcenter")
    # Widths first (Japanese counts double), so wrapped rows can be given their height:
    # xlsxwriter does not measure text, and LibreOffice keeps the default height.
    widths = [display_width(c) + 4 for c in columns]
    for values, _sev in rows:
        for c, v in enumerate(values):
            cap = _MAX_WIDTH.get(columns[c], 24)
            widths[c] = max(widths[c], min(display_width(as_text(v)) + 2, cap))
    for r, (values, severity) in enumerate(rows, start=3):
        fill = {"error": _ERROR_FILL, "warning": _WARN_FILL}.get(severity)
        for c, v in enumerate(values):
            props: dict[str, Any] = {"border": 1, "valign": "top"}
            col = columns[c]
            if col in _MAX_WIDTH:
                props["text_wrap"] = True
            if col == mark_col and fill:
                props["bg_color"] = fill
            if col in number_cols or _whole(v):
                props["num_format"] = "#,##0"
            # codes, cells and values stay text even when they look like numbers or formulas
            write_cell(ws, r, c, v, s, **props)
        height = row_height([(v, widths[c]) for c, v in enumerate(values) if columns[c] in _MAX_WIDTH])
        if height:
            ws.set_row(r, height)
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    last = 2 + len(rows)
    ws.freeze_panes(3, 1)
    ws.autofilter(2, 0, max(last, 3), len(columns) - 1)
    ws.set_row(2, 30)
    print_a4(ws, repeat_row=2)
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_footer("&C&P / &N")


def _stamp(wb: xlsxwriter.Workbook, s: Styles) -> None:
    """The hidden kofu_meta marker: a report found in an inbox is set aside (stamp.py)."""
    ws = wb.add_worksheet(forms.META_SHEET)
    for i, (k, v) in enumerate((("kind", REPORT_KIND), ("tool", f"kofu-excel {__version__}"))):
        write_text(ws, i, 0, k, s)
        write_text(ws, i, 1, v, s)
    wb.define_name(forms.META_NAME, f"={forms.META_SHEET}!$A$1:$B$2")
    ws.hide()


def report_bytes(files: Sequence[FileResult], master: Master | None = None) -> bytes:
    """The report workbook as bytes (fresh, deterministic)."""
    counts = {st: sum(1 for fr in files if fr.status == st) for st in RESULT_LABELS}
    title = (f"提出ブックの確認結果（{len(files)}件：OK {counts['valid']}件・"
             f"NG {counts['invalid'] + counts['unreadable']}件・対象外 {counts['ignored']}件）")
    file_rows = []
    for fr in files:
        errors = sum(1 for f in fr.findings if f.severity == "error")
        warnings = sum(1 for f in fr.findings if f.severity == "warning")
        sev = "error" if fr.status in ("invalid", "unreadable") else "warning" if warnings else ""
        file_rows.append(([fr.path, fr.member, fr.muni_code, _muni_name(master, fr.muni_code),
                           KIND_LABELS.get(fr.kind, fr.kind), RESULT_LABELS.get(fr.status, fr.status),
                           errors, warnings], sev))

    def build(wb: xlsxwriter.Workbook, s: Styles) -> None:
        _table(wb, s, FINDINGS_SHEET, title, FINDING_COLUMNS, _rows(files, master), "重大度")
        _table(wb, s, FILES_SHEET, "確認したファイル", FILE_COLUMNS, file_rows, "結果",
               number_cols=("エラー", "警告"))
        _stamp(wb, s)
        wb.worksheets()[0].activate()

    return build_xlsx(build, title="提出ブックの確認結果")


def write_report(path: str | Path, files: Sequence[FileResult], master: Master | None = None,
                 staging: Staging | None = None) -> Path:
    """Write the report workbook atomically (or stage it with other outputs); returns its path."""
    out = Path(path)
    if staging is not None:
        staging.write(out, report_bytes(files, master))
    else:
        write_atomic(out, report_bytes(files, master))
    return out
