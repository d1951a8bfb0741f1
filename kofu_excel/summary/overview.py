"""概要: scope, データの基準日, submissions, intake counts, the totals of the accepted values and
the stocks by quarter, with the two charts of :mod:`.charts` to the right of the blocks.

Each total says how it was taken, from the form's definition (``forms.Field.stock``): flows are
summed over municipalities and periods; a stock by quarter (窓口数, 端末, 職員) is never summed over
time — 合計 shows its peak quarter and a table shows every quarter."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

from .. import __version__, forms, periods
from ..cells import display_width
from ..contract import KIND_LABELS, LEVEL_LABELS, OVERVIEW_SHEET, STATUS_LABELS, STATUSES
from ..write.xlsx import HEADER_FILL, Styles, print_a4, write_text, write_title, write_value
from .charts import forecast_chart, rate_chart
from .model import KINDS, Summary
from .sheet import NUM, RATE_FMT

if TYPE_CHECKING:
    import xlsxwriter

LABEL_WIDTH = 54  # column B of the totals: the item and how it was taken


def overview_sheet(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    ws = wb.add_worksheet(OVERVIEW_SHEET)
    title = f"マイナンバーカード交付円滑化計画 とりまとめ表（{sm.scope_name}）"
    write_title(ws, title, s)
    label = {"bold": True, "bg_color": HEADER_FILL, "border": 1}
    cell = {"border": 1}
    rows: list[tuple[str, Any]] = [
        ("区分", LEVEL_LABELS.get(sm.level, sm.level)),
        ("対象", _scope_text(sm)),
        # Not the day the file was made: the same inputs give the same bytes, whatever the clock.
        ("データの基準日（最新の提出日）", sm.created),
        ("実績報告の最新月", periods.wareki_month(sm.latest_month) if sm.values.get("monthly") else "－"),
        ("作成ツール", f"kofu-excel {__version__}"),
    ]
    r = 2
    for k, v in rows:
        write_text(ws, r, 0, k, s, **label)
        write_value(ws, r, 1, v, s, **cell, **({"num_format": "yyyy/m/d"} if isinstance(v, date) else {}))
        r += 1

    # Submissions.
    r += 1
    write_text(ws, r, 0, "提出状況", s, bold=True, font_size=12)
    r += 1
    for c, h in enumerate(("様式", "提出", "団体数", "未提出", "提出率")):
        write_text(ws, r, c, h, s, **label)
    r += 1
    for kind in KINDS:
        n = sum(1 for m in sm.scope if m.code in sm.values.get(kind, {}))
        total = len(sm.scope)
        write_text(ws, r, 0, KIND_LABELS[kind], s, **cell)
        write_value(ws, r, 1, n, s, num_format=NUM, **cell)
        write_value(ws, r, 2, total, s, num_format=NUM, **cell)
        write_value(ws, r, 3, total - n, s, num_format=NUM, **cell)
        write_value(ws, r, 4, n / total if total else 0, s, num_format=RATE_FMT, **cell)
        r += 1

    # Intake counts.
    r += 1
    write_text(ws, r, 0, "取込記録（ファイルの取扱い）", s, bold=True, font_size=12)
    r += 1
    write_text(ws, r, 0, "状態", s, **label)
    write_text(ws, r, 1, "件数", s, **label)
    r += 1
    counts = sm.totals()["status"]
    for st in STATUSES:
        write_text(ws, r, 0, STATUS_LABELS[st], s, **cell)
        write_value(ws, r, 1, counts.get(st, 0), s, num_format=NUM, **cell)
        r += 1
    write_text(ws, r, 0, "計", s, bold=True, **cell)
    write_value(ws, r, 1, sum(counts.values()), s, num_format=NUM, bold=True, **cell)
    r += 1

    # Totals of the accepted values (the same figures as --json), each saying how it was taken.
    r += 1
    write_text(ws, r, 0, "合計（受理分）", s, bold=True, font_size=12)
    r += 1
    for c, h in enumerate(("区分", "項目（集計の仕方）", "値")):
        write_text(ws, r, c, h, s, **label)
    r += 1
    totals = sm.totals()
    wrap = {**cell, "text_wrap": True}
    for kind in KINDS:
        labels = _sum_labels(kind)
        for key, value in totals[kind].items():
            text = labels.get(key, key)
            peak = totals["peak"].get(kind, {}).get(key)
            if peak is not None:
                text = text.format(period=periods.quarter_label(peak) if peak else "－")
            write_text(ws, r, 0, KIND_LABELS[kind], s, **cell)
            write_text(ws, r, 1, text, s, **wrap)
            write_value(ws, r, 2, value, s, num_format=NUM, **cell)
            lines = -(-display_width(text) // LABEL_WIDTH)
            if lines > 1:  # as tall as its wrapped lines: LibreOffice does not grow the row
                ws.set_row(r, 15 * lines)
            r += 1
    r = _stocks_by_period(ws, s, sm, r, label, cell)
    ws.set_column(0, 0, 30)
    ws.set_column(1, 1, LABEL_WIDTH)
    ws.set_column(2, 5, 13)

    # The charts' data go below the blocks; the charts sit to their right, in view.
    r = forecast_chart(wb, ws, s, sm, r + 2)
    rate_chart(wb, ws, s, sm, r + 2)
    print_a4(ws)
    ws.activate()


def _scope_text(sm: Summary) -> str:
    if sm.level != "prefecture":
        return "全国"
    cities = [m.name for m in sm.master.select(pref=sm.pref_code) if m.designated] \
        if sm.without_designated and sm.pref_code else []
    if cities:  # the reader must see why these are in no count of this summary
        return f"{sm.scope_name}（{sm.pref_code}。指定都市（{'、'.join(cities)}）を除く）"
    return f"{sm.scope_name}（{sm.pref_code}）"


def _stocks_by_period(ws: Any, s: Styles, sm: Summary, r: int, label: dict[str, Any],
                      cell: dict[str, Any]) -> int:
    """Per table by period with stocks (交付体制): Σ over municipalities per quarter, one row per
    quarter; returns the row after the last block."""
    for kind in KINDS:
        per = sm.period_totals(kind)
        if not per or not sm.values.get(kind):
            continue
        form = forms.FORMS[kind]
        for t in form.tables:
            keys = [f"{t.id}.{f.id}" for f in t.fields if f"{t.id}.{f.id}" in per]
            if not keys:
                continue
            r += 1
            write_text(ws, r, 0, f"{t.sheet}（{t.row_header}別・全団体の計）", s, bold=True, font_size=12)
            r += 1
            heads = [t.row_header, *(t.field(k.split(".", 1)[1]).label for k in keys)]
            for c, h in enumerate(heads):
                write_text(ws, r, c, h, s, **label, text_wrap=True)
            ws.set_row(r, 30)  # two lines for 職員数（臨時・非常勤） in a number column
            r += 1
            for row in t.rows:
                write_text(ws, r, 0, row.label, s, **cell)
                for c, k in enumerate(keys, start=1):
                    write_value(ws, r, c, per[k].get(row.key, 0), s, num_format=NUM, **cell)
                r += 1
    return r


def _how(t: forms.Table, f: forms.Field) -> str:
    """How a field's total is taken, from the form's definition (the text in the brackets)."""
    if t.single:
        return "全団体の計"
    if t.over_time and f.stock:
        # never summed over time: the overview fills in the quarter
        return f"最も多い{t.row_header}の全団体の計：{{period}}"
    unit = "月" if t.row_header == "年月" else t.row_header.replace("の", "")
    return f"全団体・全{unit}の計"


@cache
def _sum_labels(kind: str) -> dict[str, str]:
    """table.field → 'table title：field label（how it is totalled）' for the totals block."""
    out: dict[str, str] = {}
    form = forms.FORMS[kind]
    for t in form.tables:
        for f in t.fields:
            if f.numeric:
                out[f"{t.id}.{f.id}"] = f"{t.sheet}：{f.label}（{_how(t, f)}）"
    return out
