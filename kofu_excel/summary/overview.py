"""概要: scope, 作成日, submissions, intake counts and the totals of the accepted values, with
the two charts of :mod:`.charts` to the right of the blocks."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

from .. import __version__, forms, periods
from ..contract import KIND_LABELS, LEVEL_LABELS, OVERVIEW_SHEET, STATUS_LABELS, STATUSES
from ..write.xlsx import HEADER_FILL, Styles, print_a4, write_text, write_title, write_value
from .charts import forecast_chart, rate_chart
from .model import KINDS, Summary
from .sheet import NUM, RATE_FMT

if TYPE_CHECKING:
    import xlsxwriter


def overview_sheet(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    ws = wb.add_worksheet(OVERVIEW_SHEET)
    title = f"マイナンバーカード交付円滑化計画 とりまとめ表（{sm.scope_name}）"
    write_title(ws, title, s)
    label = {"bold": True, "bg_color": HEADER_FILL, "border": 1}
    cell = {"border": 1}
    rows: list[tuple[str, Any]] = [
        ("区分", LEVEL_LABELS.get(sm.level, sm.level)),
        ("対象", f"{sm.scope_name}（{sm.pref_code}）" if sm.level == "prefecture" else "全国"),
        ("作成日", sm.created),
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

    # Totals of the accepted values (the same sums as --json).
    r += 1
    write_text(ws, r, 0, "合計（受理分）", s, bold=True, font_size=12)
    r += 1
    for c, h in enumerate(("区分", "項目", "合計")):
        write_text(ws, r, c, h, s, **label)
    r += 1
    for kind in KINDS:
        labels = _sum_labels(kind)
        for key, value in sm.totals()[kind].items():
            write_text(ws, r, 0, KIND_LABELS[kind], s, **cell)
            write_text(ws, r, 1, labels.get(key, key), s, **cell)
            write_value(ws, r, 2, value, s, num_format=NUM, **cell)
            r += 1
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 44)
    ws.set_column(2, 4, 14)

    # The charts' data go below the blocks; the charts sit to their right, in view.
    r = forecast_chart(wb, ws, s, sm, r + 2)
    rate_chart(wb, ws, s, sm, r + 2)
    print_a4(ws)
    ws.activate()


@cache
def _sum_labels(kind: str) -> dict[str, str]:
    """table.field → 'table title：field label' for the totals block."""
    out: dict[str, str] = {}
    form = forms.FORMS[kind]
    for t in form.tables:
        for f in t.fields:
            if f.numeric:
                key = f"{t.id}.{f.id}"
                suffix = "" if t.single else "（各行の計）"
                out[key] = f"{t.sheet}：{f.label}{suffix}"
    return out
