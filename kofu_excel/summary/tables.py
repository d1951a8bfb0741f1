"""市町村別一覧 and the per-table sheets (交付枚数想定, 交付体制, 申請受付等, 補助対象経費, 月次実績,
交付滞留).

The per-table sheets are shape-alike "matrix sheets": one or more rows per municipality (code,
name, then the cells from that municipality's plan or monthly report), optionally a 合計 row of
column totals. :func:`matrix_sheet` builds them; each sheet says only its header and how a
municipality's values become rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from .. import forms, periods
from ..contract import CHECKS, LIST_SHEET, NA_TEXT, STATUS_LABELS
from ..model import NA
from ..write.xlsx import Styles
from .model import (
    Summary,
    actual_series,
    is_number,
    issuance_rate,
    month_key_of,
    planned_cumulative,
    population,
)
from .sheet import MONTH_FMT, RATE_FMT, TOTAL_STYLE, finish, table_sheet

if TYPE_CHECKING:
    import xlsxwriter

LIST_COLUMNS = ("団体コード", "市区町村名", "計画の提出状況", "計画ファイル", "実績報告の提出状況",
                "実績報告ファイル", "人口", "交付済枚数", "想定累計（令和5年3月末）", "目安（令和5年3月末）",
                "実績累計交付数", "交付滞留", "エラー件数", *CHECKS, "実績報告の対象月", "交付率")

# A municipality's values → its rows: (cells after code and name, the numbers they add to the
# 合計 row or None when the sheet has none).
Rows = Callable[[Mapping[str, Any]], Iterable[tuple[Sequence[Any], Sequence[int] | None]]]


def municipalities_sheet(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    t = table_sheet(wb, s, LIST_SHEET, LIST_COLUMNS,
               {LIST_COLUMNS.index("実績報告の対象月"): MONTH_FMT, LIST_COLUMNS.index("交付率"): RATE_FMT})
    errors: dict[str, int] = {}
    checks: dict[tuple[str, str], int] = {}
    for fr in sm.findings:
        f = fr.finding
        if f.severity == "error":
            errors[f.muni_code] = errors.get(f.muni_code, 0) + 1
        if f.check:
            checks[(f.muni_code, f.check)] = checks.get((f.muni_code, f.check), 0) + 1
    last = periods.LAST_MONTH
    has_last = last in sm.schedule.months
    for m in sm.rows():
        plan, monthly = sm.plan(m.code), sm.monthly(m.code)
        pop = population(sm, m)
        issued = actual_series(monthly, "issued")
        delivered = actual_series(monthly, "delivered")
        cum_issued = issued[max(issued)] if issued else None
        backlog = (delivered[max(delivered)] - cum_issued) if (delivered and cum_issued is not None) else None
        _cum, rate, _basis = issuance_rate(sm, m)
        rm = month_key_of(monthly.get("basic.report_month")) if monthly else None
        row = [
            m.code, m.name,
            _status(sm, "plan", m.code), sm.files.get(("plan", m.code)),
            _status(sm, "monthly", m.code), sm.files.get(("monthly", m.code)),
            pop, plan.get("basic.issued_to_date") if plan else None,
            planned_cumulative(plan),
            sm.schedule.benchmark(pop, last) if (pop and has_last) else None,
            cum_issued, backlog, errors.get(m.code, 0),
            *(checks.get((m.code, c), 0) for c in CHECKS),
            _month_cell(rm) if rm else None, rate,
        ]
        if row[7] is NA:
            row[7] = NA_TEXT
        t.body.add(row)
    finish(t, widths={3: 30, 5: 30})


def _status(sm: Summary, kind: str, code: str) -> str:
    if code in sm.values.get(kind, {}):
        return STATUS_LABELS["accepted"]
    if (kind, code) in sm.rejected:
        return STATUS_LABELS["rejected"]
    return "未提出"


def _cell(x: Any) -> Any:
    """A canonical value as a presentation cell: NA as 「－」, dates as dates."""
    if x is NA:
        return NA_TEXT
    return x



def _month_cell(key: str) -> date:
    return periods.month_date(key)


def matrix_sheet(wb: xlsxwriter.Workbook, s: Styles, sm: Summary, name: str, kind: str,
                 header: Sequence[str], rows: Rows, *, blank_rows: bool, totals: bool = False,
                 formats: Mapping[int, str] | None = None,
                 widths: Mapping[int, float] | None = None) -> None:
    """A per-table sheet: the rows of each municipality of the scope that sent a ``kind``
    workbook (``blank_rows``: code and name alone for those that did not), then, with
    ``totals``, a 合計 row under them (none when the sheet has no value columns)."""
    t = table_sheet(wb, s, name, header, formats)
    col_tot = [0] * (len(header) - 2)
    for m in sm.rows():
        values = sm.values.get(kind, {}).get(m.code)
        if values is None:
            if blank_rows:
                t.body.add([m.code, m.name])
            continue
        for cells, nums in rows(values):
            t.body.add([m.code, m.name, *cells])
            if nums is not None:
                col_tot = [a + b for a, b in zip(col_tot, nums, strict=True)]
    last = t.body.row - 1
    if totals and col_tot:
        t.body.add([None, "合計", *col_tot], TOTAL_STYLE, s)
    finish(t, last_data_row=last, widths=widths)


def forecast_sheet(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    months = periods.months()
    fys = periods.fiscal_years()
    header = ("団体コード", "市区町村名", *(periods.wareki_month(m) for m in months),
              *(f"{periods.fiscal_year_label(fy)}計" for fy in fys), "合計")

    cids = [f"forecast.planned_issued.{k}" for k in months]
    fy_of = [periods.fiscal_year_of(k) for k in months]

    def rows(plan: Mapping[str, Any]) -> Iterable[tuple[Sequence[Any], Sequence[int]]]:
        vals = [plan.get(cid) for cid in cids]
        nums = [v if is_number(v) else 0 for v in vals]
        by_fy = dict.fromkeys(fys, 0)
        for fy, n in zip(fy_of, nums, strict=True):
            by_fy[fy] += n
        total = sum(by_fy.values())
        yield [*(_cell(v) for v in vals), *by_fy.values(), total], [*nums, *by_fy.values(), total]

    matrix_sheet(wb, s, sm, "交付枚数想定", "plan", header, rows, blank_rows=True, totals=True,
                 widths={i: 12 for i in range(2, len(header))})


def capacity_sheet(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    table = forms.FORMS["plan"].table("capacity")
    header = ("団体コード", "市区町村名", "四半期", "期間", *(f.label for f in table.fields))
    quarters = [(q, periods.quarter_label(q), [f"capacity.{f.id}.{q}" for f in table.fields])
                for q in periods.quarters()]

    def rows(plan: Mapping[str, Any]) -> Iterable[tuple[Sequence[Any], None]]:
        for q, label, cids in quarters:
            vals = [_cell(plan.get(cid)) for cid in cids]
            if not all(v is None for v in vals):
                yield [label, q, *vals], None

    matrix_sheet(wb, s, sm, "交付体制", "plan", header, rows, blank_rows=False,
                 widths={2: 32, **{i: 12 for i in range(4, len(header))}})


def methods_sheet(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    keys = forms.METHOD_ROWS
    header = ("団体コード", "市区町村名", *(label for _k, label in keys),
              *(f"{label}（開始）" for _k, label in keys))

    def rows(plan: Mapping[str, Any]) -> Iterable[tuple[Sequence[Any], None]]:
        yield [*(_cell(plan.get(f"methods.status.{k}")) for k, _l in keys),
               *(_cell(plan.get(f"methods.start.{k}")) for k, _l in keys)], None

    matrix_sheet(wb, s, sm, "申請受付等", "plan", header, rows, blank_rows=True,
                 formats={2 + len(keys) + i: MONTH_FMT for i in range(len(keys))},
                 widths={i: 14 for i in range(2, len(header))})


def costs_sheet(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    fields = forms.FORMS["plan"].table("costs").fields
    cols = [(k, f) for k, _l in forms.COST_ROWS for f in fields]
    header = ("団体コード", "市区町村名",
              *(f"{label}（{f.label}）" for k, label in forms.COST_ROWS for f in fields),
              *(f"合計（{f.label}）" for f in fields), "総計")

    def rows(plan: Mapping[str, Any]) -> Iterable[tuple[Sequence[Any], Sequence[int]]]:
        vals = [plan.get(f"costs.{k}.{f.period}") for k, f in cols]
        per_fy = [sum(v for (_k, f2), v in zip(cols, vals, strict=True) if f2 is f and is_number(v))
                  for f in fields]
        yield ([*(_cell(v) for v in vals), *per_fy, sum(per_fy)],
               [*(v if is_number(v) else 0 for v in vals), *per_fy, sum(per_fy)])

    matrix_sheet(wb, s, sm, "補助対象経費", "plan", header, rows, blank_rows=True, totals=True,
                 widths={i: 14 for i in range(2, len(header))})


def actuals_sheet(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    table = forms.FORMS["monthly"].table("actuals")
    header = ("団体コード", "市区町村名", "年月", *(f.label for f in table.fields))

    def rows(mv: Mapping[str, Any]) -> Iterable[tuple[Sequence[Any], None]]:
        for k in periods.months():
            vals = [_cell(mv.get(f"actuals.{f.id}.{k}")) for f in table.fields]
            if not all(v is None for v in vals):
                yield [_month_cell(k), *vals], None

    matrix_sheet(wb, s, sm, "月次実績", "monthly", header, rows, blank_rows=False,
                 formats={2: MONTH_FMT}, widths={2: 12, **{i: 14 for i in range(3, len(header))}})


def backlog_sheet(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    months = periods.months(periods.FIRST_MONTH, sm.latest_month) if sm.values.get("monthly") else ()
    header = ("団体コード", "市区町村名", *(periods.wareki_month(k) for k in months))

    def rows(mv: Mapping[str, Any]) -> Iterable[tuple[Sequence[Any], Sequence[int]]]:
        delivered, issued = actual_series(mv, "delivered"), actual_series(mv, "issued")
        vals = [delivered[k] - issued[k] if k in delivered else None for k in months]
        yield vals, [v or 0 for v in vals]

    matrix_sheet(wb, s, sm, "交付滞留", "monthly", header, rows, blank_rows=True, totals=True,
                 widths={i: 12 for i in range(2, len(header))})
