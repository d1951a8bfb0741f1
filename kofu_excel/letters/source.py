"""The source of the letters: the 指摘事項 and 未提出 sheets of a summary written by kofu-merge,
read back (E601 when the file is not one). Sheet names and headers come from
:mod:`kofu_excel.contract`, the same constants the summary writer uses.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..cells import cell_text, ooxml_unescape
from ..contract import (
    FINDINGS_COLUMNS,
    FINDINGS_SHEET,
    KIND_FROM_LABEL,
    MISSING_COLUMNS,
    MISSING_SHEET,
    SEVERITY_FROM_LABEL,
    SUMMARY_META_SHEET,
)
from ..findings import KofuError
from ..refdata import openpyxl_defused
from ..sidefiles import read_side_file

E_SUMMARY = "E601"  # the input is not a summary workbook of this toolkit
FINDINGS_HEADER = FINDINGS_COLUMNS
MISSING_HEADER = MISSING_COLUMNS
MAX_SUMMARY_BYTES = 256 * 1024 * 1024
MAX_ROWS = 1_000_000


@dataclass(frozen=True)
class SummaryRow:
    """One row of 指摘事項."""

    muni_code: str
    pref_name: str
    muni_name: str
    kind: str  # plan | monthly | ""
    code: str
    severity: str  # error warning info advise urgent
    check: str
    message: str
    file: str = ""
    sheet: str = ""
    cell: str = ""
    field: str = ""
    value: str = ""
    expected: str = ""
    figures: Mapping[str, Any] = dc_field(default_factory=dict)


@dataclass(frozen=True)
class MissingRow:
    """One row of 未提出."""

    muni_code: str
    pref_name: str
    muni_name: str
    form: str
    kind: str  # plan | monthly


@dataclass(frozen=True)
class Summary:
    findings: tuple[SummaryRow, ...]
    missing: tuple[MissingRow, ...]
    # データの基準日 (the latest 提出日 of the accepted workbooks), from the hidden _summary sheet;
    # None for a summary that does not say.
    data_date: date | None = None


def _code(v: Any) -> str:
    s = cell_text(v)
    return s.zfill(6) if s.isdigit() and len(s) == 5 else s  # a code Excel stored as a number


def _figures(v: Any) -> dict[str, Any]:
    try:
        d = json.loads(cell_text(v)) if v not in (None, "") else {}
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


def read_summary(path: str | Path) -> Summary:
    """The 指摘事項 and 未提出 sheets of a summary written by kofu-merge (E601 otherwise)."""
    import openpyxl  # only this command needs it

    p = Path(path)
    name = p.name

    def not_ours(detail: str) -> KofuError:
        return KofuError(E_SUMMARY, f"{name} は本ツールのとりまとめ表として読み込めません（{detail}）")

    # A regular file of bounded size (never a device or FIFO), read once.
    data = io.BytesIO(read_side_file(p, "とりまとめ表", E_SUMMARY, MAX_SUMMARY_BYTES))
    if not zipfile.is_zipfile(data):
        raise not_ours("xlsx 形式のブックではありません")
    if not openpyxl_defused():
        raise not_ours("openpyxl が defusedxml を使わない設定です（OPENPYXL_DEFUSEDXML=False など）")
    try:
        wb = openpyxl.load_workbook(data, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise not_ours(f"ブックを開けません: {type(exc).__name__}") from None
    try:
        missing_sheets = [s for s in (FINDINGS_SHEET, MISSING_SHEET) if s not in wb.sheetnames]
        if missing_sheets:
            raise not_ours(f"シート「{'」「'.join(missing_sheets)}」がありません")
        findings = [_finding_row(r) for r in _rows(wb[FINDINGS_SHEET], FINDINGS_HEADER, not_ours)]
        missing = [
            MissingRow(_code(r[0]), cell_text(r[1]), cell_text(r[2]), cell_text(r[3]), cell_text(r[4]))
            for r in _rows(wb[MISSING_SHEET], MISSING_HEADER, not_ours)
        ]
        data_date = _data_date(wb[SUMMARY_META_SHEET]) if SUMMARY_META_SHEET in wb.sheetnames else None
    except KofuError:
        raise
    except Exception as exc:  # read-only mode parses each sheet only now: damage shows here
        raise not_ours(f"シートを読み込めません: {type(exc).__name__}") from None
    finally:
        wb.close()
    return Summary(tuple(f for f in findings if f.code), tuple(m for m in missing if m.muni_code),
                   data_date)


def _data_date(ws: Any) -> date | None:
    """The summary's data date: ``generated`` of its _summary sheet (the latest 提出日)."""
    for row in ws.iter_rows(min_row=1, max_row=20, max_col=2, values_only=True):
        if len(row) >= 2 and cell_text(row[0]) == "generated":
            v = row[1]
            if isinstance(v, datetime):
                return v.date()
            if isinstance(v, date):
                return v
            try:
                return date.fromisoformat(cell_text(v)[:10])
            except ValueError:
                return None
    return None


def _rows(ws: Any, header: Sequence[str], not_ours: Callable[[str], KofuError]) -> list[list[Any]]:
    ws.reset_dimensions()  # read-only mode trusts <dimension>, which may lie
    it = ws.iter_rows(values_only=True)
    first = next(it, None)
    got = [cell_text(c) for c in (first or ())]
    while got and not got[-1]:
        got.pop()
    if tuple(got) != tuple(header):
        raise not_ours(f"シート「{ws.title}」の見出し行が違います")
    out: list[list[Any]] = []
    for i, row in enumerate(it):
        if i >= MAX_ROWS:
            raise not_ours(f"シート「{ws.title}」の行が多すぎます")
        # openpyxl leaves OOXML escapes as they are: a CR typed in a cell would be "_x000D_"
        cells = [ooxml_unescape(c).replace("\r\n", "\n").replace("\r", "\n") if isinstance(c, str) else c
                 for c in row[: len(header)]] + [None] * (len(header) - len(row))
        if any(c not in (None, "") for c in cells):
            out.append(cells)
    return out


def _finding_row(r: list[Any]) -> SummaryRow:
    return SummaryRow(
        muni_code=_code(r[0]), pref_name=cell_text(r[1]), muni_name=cell_text(r[2]),
        kind=KIND_FROM_LABEL.get(cell_text(r[3]), ""), code=cell_text(r[4]).upper(),
        severity=SEVERITY_FROM_LABEL.get(cell_text(r[5]), "advise"), check=cell_text(r[6]),
        message=cell_text(r[7]), file=cell_text(r[8]), sheet=cell_text(r[9]), cell=cell_text(r[10]),
        field=cell_text(r[11]), value=cell_text(r[12]), expected=cell_text(r[13]), figures=_figures(r[14]),
    )
