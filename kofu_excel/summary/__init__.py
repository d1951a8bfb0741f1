"""The summary workbook (とりまとめ表) of ``kofu-merge``: prefectural or national.

Sheets, in order (names and the headers of 指摘事項, 未提出 and データ are a contract, in
:mod:`kofu_excel.contract`: kofu-advise and the national merge read them back):

- 概要 (:mod:`.overview`, charts in :mod:`.charts`): scope, データの基準日 (the latest 提出日), submissions, intake counts,
  totals, two native charts;
- 市町村別一覧 and one sheet per table (:mod:`.tables`);
- 指摘事項, 未提出, 取込記録 (:mod:`.records`), データ (:mod:`.data`: tidy, every accepted value),
  and the hidden ``_summary`` marker (``kofu_meta`` names it, so the reader recognises a summary).

:mod:`.model` holds what the writer is given (:class:`Summary`) and the figures derived from it;
:mod:`.sheet` the layout every table sheet shares (bulk body rows, see there for speed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__, forms
from ..contract import SUMMARY_KIND, SUMMARY_META_SHEET, SUMMARY_SHEETS
from ..write.atomic import write_atomic
from ..write.xlsx import Styles, build_xlsx, write_text
from .data import DataRows, DataSheet
from .model import (
    KINDS,
    FindingRow,
    IntakeRow,
    Summary,
    actual_series,
    issuance_rate,
    peaks,
    period_totals,
    planned_cumulative,
    population,
    sums,
    tidy_index,
)
from .overview import overview_sheet
from .records import findings_sheet, intake_sheet, missing_sheet
from .tables import (
    actuals_sheet,
    backlog_sheet,
    capacity_sheet,
    costs_sheet,
    forecast_sheet,
    methods_sheet,
    municipalities_sheet,
)

if TYPE_CHECKING:
    import xlsxwriter

__all__ = [
    "KINDS",
    "SHEETS",
    "DataRows",
    "FindingRow",
    "IntakeRow",
    "Progress",
    "Summary",
    "actual_series",
    "issuance_rate",
    "peaks",
    "period_totals",
    "planned_cumulative",
    "population",
    "summary_bytes",
    "sums",
    "tidy_index",
    "write_summary",
]

SHEETS = SUMMARY_SHEETS
META_SHEET = SUMMARY_META_SHEET
Progress = Callable[[int, int], None]


def _meta(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    ws = wb.add_worksheet(META_SHEET)
    values = {"kind": SUMMARY_KIND, "level": sm.level, "pref": sm.pref_code,
              "version": forms.FORM_VERSION, "generated": sm.created.isoformat(),
              "tool": f"kofu-excel {__version__}"}
    for i, (k, v) in enumerate(values.items()):
        write_text(ws, i, 0, k, s)
        write_text(ws, i, 1, v, s)
    wb.define_name(forms.META_NAME, f"='{META_SHEET}'!$A$1:$B${len(values)}")
    ws.hide()


# The sheets before データ (:class:`.data.DataSheet`, whose rows are made while these are written).
SHEET_STEPS: tuple[Callable[[xlsxwriter.Workbook, Styles, Summary], None], ...] = (
    overview_sheet, municipalities_sheet, forecast_sheet, capacity_sheet, methods_sheet,
    costs_sheet, actuals_sheet, backlog_sheet, findings_sheet, missing_sheet, intake_sheet,
)
STEP_COUNT = len(SHEET_STEPS) + 2  # + データ and the marker


def summary_bytes(sm: Summary, progress: Progress | None = None, rows: DataRows | None = None) -> bytes:
    """The summary workbook as bytes (deterministic for the same summary). ``rows``: データ's
    rows, started earlier from ``sm.values`` (:class:`.data.DataRows`); the caller closes it."""

    def build(wb: xlsxwriter.Workbook, s: Styles) -> None:
        data = DataSheet(wb, s, sm, rows)  # first: its formats and texts come first
        try:
            for i, step in enumerate((*SHEET_STEPS, data.sheet, _meta), start=1):
                step(wb, s, sm)
                if progress is not None:
                    progress(i, STEP_COUNT + 1)
        finally:
            data.close()

    data = build_xlsx(build, title=f"交付円滑化計画とりまとめ表（{sm.scope_name}）",
                      fast_deflate=True)
    if progress is not None:
        progress(STEP_COUNT + 1, STEP_COUNT + 1)
    return data


def write_summary(sm: Summary, path: str | Path, progress: Progress | None = None,
                  rows: DataRows | None = None) -> Path:
    """Write the summary atomically (temp file + fsync + rename): all or nothing."""
    write_atomic(path, summary_bytes(sm, progress, rows))
    return Path(path)
