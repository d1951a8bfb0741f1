"""The two native charts of 概要 and the data tables under them: the cumulative forecast
against the national schedule (and actuals), and the issuance rate per municipality (per
prefecture nationally)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import periods
from ..contract import OVERVIEW_SHEET
from ..write.xlsx import HEADER_FILL, Styles, write_text, write_value
from .model import Summary, actual_series, as_count, issuance_rate, population
from .sheet import NUM, RATE_FMT

if TYPE_CHECKING:
    import xlsxwriter
    from xlsxwriter.worksheet import Worksheet


CHART_COL = 6  # G: right of the overview's blocks (A:E)


CHART_WIDTH = 720


def forecast_chart(wb: xlsxwriter.Workbook, ws: Worksheet, s: Styles, sm: Summary,
                    r0: int) -> int:
    """Σ (issued_to_date + planned) by month against Σ population × the schedule's rate; the
    data table starts at row ``r0`` (columns A:D). Returns the table's last row."""
    plans = sm.values.get("plan", {})
    monthlies = sm.values.get("monthly", {})
    months = periods.months()
    label = {"bold": True, "bg_color": HEADER_FILL, "border": 1, "text_wrap": True}
    c0 = 0
    write_text(ws, r0 - 1, c0, "交付枚数の累計（想定・国の目安・実績）", s, bold=True, font_size=12)
    for j, h in enumerate(("年月", "想定累計", "国の目安", "実績累計")):
        write_text(ws, r0, c0 + j, h, s, **label)
    forecast = dict.fromkeys(months, 0)
    keys = [(m, f"forecast.planned_issued.{m}") for m in months]
    for plan in plans.values():
        total = as_count(plan, "basic.issued_to_date")
        for m, key in keys:
            total += as_count(plan, key)
            forecast[m] += total
    # The benchmark over the same municipalities as the forecast: those with a plan.
    pops = [as_count(p, "basic.population") or (sm.master.by_code[c].population or 0
                                              if c in sm.master.by_code else 0)
            for c, p in plans.items()]
    bench = {ms.month: sum(sm.schedule.benchmark(p, ms.month) for p in pops if p)
             for ms in sm.schedule.milestones}
    actual: dict[str, int] = {}
    if monthlies:
        for code, mv in monthlies.items():
            base = as_count(plans.get(code), "basic.issued_to_date")
            series = actual_series(mv, "issued")
            last = 0
            for m in months:
                if m > sm.latest_month:
                    break
                last = series.get(m, last)
                actual[m] = actual.get(m, 0) + base + last
    for i, m in enumerate(months, start=1):
        write_text(ws, r0 + i, c0, periods.wareki_month(m), s, border=1)
        write_value(ws, r0 + i, c0 + 1, forecast[m] if plans else None, s, num_format=NUM, border=1)
        write_value(ws, r0 + i, c0 + 2, bench.get(m), s, num_format=NUM, border=1)
        write_value(ws, r0 + i, c0 + 3, actual.get(m), s, num_format=NUM, border=1)
    last = r0 + len(months)
    chart = wb.add_chart({"type": "line"})
    sheet = OVERVIEW_SHEET
    cats = [sheet, r0 + 1, c0, last, c0]
    chart.add_series({"name": [sheet, r0, c0 + 1], "categories": cats,
                      "values": [sheet, r0 + 1, c0 + 1, last, c0 + 1],
                      "line": {"color": "#2F5597", "width": 2.25}})
    chart.add_series({"name": [sheet, r0, c0 + 2], "categories": cats,
                      "values": [sheet, r0 + 1, c0 + 2, last, c0 + 2],
                      "line": {"color": "#C00000", "width": 1.5, "dash_type": "dash"},
                      "marker": {"type": "diamond", "size": 7,
                                 "fill": {"color": "#C00000"}, "border": {"color": "#C00000"}}})
    if actual:
        chart.add_series({"name": [sheet, r0, c0 + 3], "categories": cats,
                          "values": [sheet, r0 + 1, c0 + 3, last, c0 + 3],
                          "line": {"color": "#548235", "width": 2.25}})
    chart.show_blanks_as("span")  # the schedule has figures at its milestones only
    chart.set_title({"name": f"交付枚数の累計：想定と国の全体スケジュール（{sm.scope_name}）",
                     "name_font": {"size": 12}})
    chart.set_y_axis({"name": "枚", "num_format": NUM, "major_gridlines": {"visible": True}})
    chart.set_x_axis({"num_font": {"rotation": -45}, "interval_unit": 3})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": CHART_WIDTH, "height": 400})
    ws.insert_chart(1, CHART_COL, chart, {"x_offset": 10, "y_offset": 10})
    return last


def _rate_rows(sm: Summary) -> list[tuple[str, int | None, int | None, float | None, str]]:
    """(name, population, cumulative cards, rate, basis) per municipality — or, nationally, per
    prefecture (1,741 bars would be unreadable)."""
    out: list[tuple[str, int | None, int | None, float | None, str]] = []
    if sm.level == "prefecture":
        for m in sm.rows():
            cum, rate, basis = issuance_rate(sm, m)
            out.append((m.name, population(sm, m), cum, rate, basis))
        return out
    agg: dict[str, list[int]] = {}
    for m in sm.rows():
        cum, _rate, _basis = issuance_rate(sm, m)
        pop = population(sm, m)
        if cum is None or not pop:
            continue
        a = agg.setdefault(m.code[:2], [0, 0])
        a[0] += pop
        a[1] += cum
    for pp, name in sm.master.prefectures.items():
        pop, cum = agg.get(pp, (0, 0))
        out.append((name, pop or None, cum if pop else None, cum / pop if pop else None,
                    "提出分" if pop else ""))
    return out


def rate_chart(wb: xlsxwriter.Workbook, ws: Worksheet, s: Styles, sm: Summary, r0: int) -> None:
    """Issuance rate per municipality (or prefecture); the data table starts at row ``r0``."""
    rows = _rate_rows(sm)
    c0 = 0
    unit = "市区町村" if sm.level == "prefecture" else "都道府県"
    write_text(ws, r0 - 1, c0, f"交付率（{unit}別：累計交付数 ÷ 人口）", s, bold=True, font_size=12)
    label = {"bold": True, "bg_color": HEADER_FILL, "border": 1, "text_wrap": True}
    for j, h in enumerate((unit, "人口", "累計交付数", "交付率", "根拠")):
        write_text(ws, r0, c0 + j, h, s, **label)
    for i, (name, pop, cum, rate, basis) in enumerate(rows, start=1):
        write_text(ws, r0 + i, c0, name, s, border=1)
        write_value(ws, r0 + i, c0 + 1, pop, s, num_format=NUM, border=1)
        write_value(ws, r0 + i, c0 + 2, cum, s, num_format=NUM, border=1)
        write_value(ws, r0 + i, c0 + 3, rate, s, num_format=RATE_FMT, border=1)
        write_value(ws, r0 + i, c0 + 4, basis or None, s, border=1)
    if not rows:
        return
    last = r0 + len(rows)
    chart = wb.add_chart({"type": "bar"})
    chart.add_series({"name": "交付率", "categories": [OVERVIEW_SHEET, r0 + 1, c0, last, c0],
                      "values": [OVERVIEW_SHEET, r0 + 1, c0 + 3, last, c0 + 3],
                      "fill": {"color": "#2F5597"}, "gap": 40})
    chart.set_title({"name": f"{unit}別の交付率（実績、実績報告がない団体は計画の想定）",
                     "name_font": {"size": 12}})
    chart.set_x_axis({"num_format": "0%", "major_gridlines": {"visible": True}})
    chart.set_y_axis({"reverse": True, "num_font": {"size": 8}, "interval_unit": 1})
    chart.set_legend({"none": True})
    chart.set_size({"width": CHART_WIDTH, "height": max(360, 22 * len(rows) + 100)})
    ws.insert_chart(23, CHART_COL, chart, {"x_offset": 10, "y_offset": 10})
