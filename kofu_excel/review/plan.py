"""Review of an accepted plan (第4-1): one rule per code, each a generator of findings.

A rule takes the :class:`~.common.Subject` (its ``plan`` is set) and yields findings whose
message is rendered from the codes table. To add a rule: add its code to ``kofu_excel/codes.py``,
write the function here with ``@rule("R…")`` and list it in :data:`RULES`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from .. import forms, periods
from ..codes import render, rule
from ..findings import Finding
from .common import (
    METHOD_LABELS,
    PLANNED,
    RENEWAL_FROM,
    Rule,
    Subject,
    finding,
    fmt,
    month,
    num,
    num_text,
    pct,
    quarter_runs,
    quarter_working_days,
    span,
)

NOT_INTRODUCED = ("検討中", "予定なし")
EARLY_METHODS = ("visit_apply", "outreach")  # the two the notice wants introduced early (第2-3(2))
TRAVEL_METHODS = ("outreach", "apply_support")  # travel became eligible for these (第3-5(2)①イ)
FRONT_CUTOFF = "2020-07"  # the notice asks for front-loading towards July 2020 (第2-1)
FRONT_LAST = "2021-03"
# Cost estimates cover FY2019 and FY2020 only: a terminal added later needs no lease there.
COST_YEARS = ("FY2019", "FY2020")
LEASE_QUARTERS_LAST = "2021Q1"


def _plan(s: Subject) -> Mapping[str, Any]:
    assert s.plan is not None
    return s.plan


def _population(s: Subject) -> int | None:
    pop = _plan(s).get("basic.population")
    if isinstance(pop, int) and not isinstance(pop, bool) and pop > 0:
        return pop
    muni = s.master.by_code.get(s.code)
    return muni.population if muni is not None and muni.population else None


def _years() -> str:
    return "・".join(periods.fiscal_year_label(fy) for fy in COST_YEARS)


# --- 第4-1(1): the forecast against the national schedule ---------------------------------------


@rule("R101")
def r101_schedule(s: Subject) -> Iterator[Finding]:
    """At each milestone, issued so far plus the forecast must reach the schedule's benchmark."""
    pop = _population(s)
    if pop is None:
        return
    cfg, fc = s.config, s.forecast
    issued0 = num(_plan(s), "basic.issued_to_date")
    for ms in s.schedule.milestones:
        if not periods.FIRST_MONTH <= ms.month <= periods.LAST_MONTH:
            continue  # a user's schedule may reach beyond the form's months
        forecast = sum(x for m, x in fc.items() if m <= ms.month)
        cumulative = issued0 + forecast
        benchmark = s.schedule.benchmark(pop, ms.month)
        threshold = benchmark * (1 - cfg.tol)
        if cumulative >= threshold:
            continue
        shortfall = benchmark - cumulative
        figures = {
            "milestone": ms.month, "milestone_label": ms.label, "population": pop,
            "issued_to_date": issued0, "forecast_to_milestone": forecast,
            "found": cumulative, "expected": benchmark, "threshold": round(threshold, 2),
            "shortfall": shortfall, "tol": cfg.tol, "rate": round(s.schedule.rate(ms.month), 6),
        }
        message = render("R101", milestone_label=ms.label, found=fmt(cumulative),
                         issued_to_date=fmt(issued0), span=span(periods.FIRST_MONTH, ms.month),
                         forecast=fmt(forecast), expected=fmt(benchmark), shortfall=fmt(shortfall))
        yield finding("R101", "advise", message, s.code, f"forecast.planned_issued.{ms.month}",
                      figures, f"{benchmark:,}枚（目安）")


@rule("R102")
def r102_front_loading(s: Subject) -> Iterator[Finding]:
    """Enough of the forecast up to March 2021 falls by July 2020 (第2-1)."""
    fc, cfg = s.forecast, s.config
    total = sum(x for m, x in fc.items() if m <= FRONT_LAST)
    if total <= 0:
        return  # nothing forecast: R101 says it
    early = sum(x for m, x in fc.items() if m <= FRONT_CUTOFF)
    share = early / total
    if share >= cfg.front_share:
        return
    figures = {
        "found": round(share, 4), "expected": cfg.front_share, "threshold": cfg.front_share,
        "forecast_to_cutoff": early, "forecast_total": total,
        "cutoff": FRONT_CUTOFF, "last_month": FRONT_LAST,
    }
    message = render("R102", span=span(periods.FIRST_MONTH, FRONT_LAST), total=fmt(total),
                     cutoff=periods.wareki_month(FRONT_CUTOFF), early=fmt(early), share=pct(share),
                     target=pct(cfg.front_share))
    yield finding("R102", "info", message, s.code, f"forecast.planned_issued.{FRONT_CUTOFF}",
                  figures, f"{pct(cfg.front_share)}以上")


# --- 第4-1(2): capacity --------------------------------------------------------------------------


@rule("R201")
def r201_capacity(s: Subject) -> Iterator[Finding]:
    """Each quarter's demand (forecast plus renewals) within the terminals' capacity; one finding
    at the worst quarter, naming the others."""
    v, fc, cfg = _plan(s), s.forecast, s.config
    issued0 = num(v, "basic.issued_to_date")
    renewal = cfg.renewal_share * issued0 / 4  # a year's renewals spread over four quarters
    rows: list[dict[str, Any]] = []
    for q in periods.quarters():
        terminals = num(v, f"capacity.terminals.{q}")
        counters = num(v, f"capacity.counters.{q}")
        wd = quarter_working_days()[q]
        weekend = num(v, f"capacity.weekend_days.{q}")
        evening = num(v, f"capacity.evening_days.{q}")
        days = wd + weekend + cfg.evening_weight * evening
        # No counter open means no card can be handed over, whatever the terminals.
        capacity = terminals * cfg.cards_per_terminal_day * days if counters >= 1 else 0.0
        forecast = sum(fc[m] for m in periods.quarter_months(q))
        load = renewal if q >= RENEWAL_FROM else 0.0
        demand = forecast + load
        if demand <= capacity:
            continue
        per_terminal = cfg.cards_per_terminal_day * days
        rows.append({
            "quarter": q, "quarter_label": periods.quarter_label(q),
            "found": round(demand, 2), "expected": round(capacity, 2),
            "threshold": round(capacity, 2),
            "ratio": round(demand / capacity, 4) if capacity > 0 else None,
            "shortfall": round(demand - capacity, 2), "forecast": forecast,
            "renewal": round(load, 2), "terminals": terminals, "counters": counters,
            "working_days": wd, "weekend_days": weekend, "evening_days": evening, "days": days,
            "cards_per_terminal_day": cfg.cards_per_terminal_day,
            "evening_weight": cfg.evening_weight, "renewal_share": cfg.renewal_share,
            "needed_terminals": math.ceil(demand / per_terminal) if per_terminal > 0 else None,
        })
    if not rows:
        return
    # The worst quarter: the highest demand/capacity (no capacity at all is the worst).
    worst = max(rows, key=lambda r: math.inf if r["ratio"] is None else r["ratio"])
    ratio = worst["ratio"]
    urgent = ratio is None or ratio > cfg.urgent_ratio
    figures = {**worst, "urgent_ratio": cfg.urgent_ratio,
               "quarters": [r["quarter"] for r in rows]}
    message = render(
        "R201", quarter_label=worst["quarter_label"], found=fmt(worst["found"]),
        forecast=fmt(worst["forecast"]), renewal=fmt(worst["renewal"]), terminals=worst["terminals"],
        expected=fmt(worst["expected"]), cards_per_day=num_text(cfg.cards_per_terminal_day),
        days=f"{worst['days']:g}", working_days=worst["working_days"],
        weekend_days=worst["weekend_days"], evening_days=worst["evening_days"],
        evening_weight=num_text(cfg.evening_weight), shortfall=fmt(worst["shortfall"]),
        times=f"処理能力の {ratio:.1f} 倍" if ratio is not None else "処理能力がありません",
        n=len(rows), quarters=quarter_runs([r["quarter"] for r in rows]))
    yield finding("R201", "urgent" if urgent else "advise", message, s.code,
                  f"capacity.terminals.{worst['quarter']}", figures,
                  f"{fmt(worst['expected'])}枚以内（処理能力）")


@rule("R202")
def r202_staff(s: Subject) -> Iterator[Finding]:
    """Staff who may operate a terminal at least as many as the terminals, every quarter."""
    v = _plan(s)
    rows: list[dict[str, Any]] = []
    for q in periods.quarters():
        terminals = num(v, f"capacity.terminals.{q}")
        regular = num(v, f"capacity.staff_regular.{q}")
        temporary = num(v, f"capacity.staff_temporary.{q}")
        staff = regular + temporary
        if terminals > staff:
            rows.append({
                "quarter": q, "quarter_label": periods.quarter_label(q),
                "found": staff, "expected": terminals, "threshold": terminals,
                "shortfall": terminals - staff, "terminals": terminals,
                "staff_regular": regular, "staff_temporary": temporary,
            })
    if not rows:
        return
    worst = max(rows, key=lambda r: r["shortfall"])  # max keeps the earliest of equals
    figures = {**worst, "quarters": [r["quarter"] for r in rows]}
    message = render("R202", **worst, n=len(rows), quarters=quarter_runs([r["quarter"] for r in rows]))
    yield finding("R202", "advise", message, s.code, f"capacity.staff_regular.{worst['quarter']}",
                  figures, f"{worst['terminals']}人以上（端末の台数）")


# --- 第4-1(3): application methods ---------------------------------------------------------------


@rule("R301")
def r301_early_methods(s: Subject) -> Iterator[Finding]:
    """The two methods the notice wants early are introduced by the configured month."""
    v, deadline = _plan(s), s.config.method_deadline
    by = periods.wareki_month(deadline)
    for key in EARLY_METHODS:
        label = METHOD_LABELS[key]
        status = v.get(f"methods.status.{key}")
        start = month(v.get(f"methods.start.{key}"))
        base = {"method": key, "method_label": label, "status": status, "start": start,
                "deadline": deadline, "threshold": deadline}
        if status in NOT_INTRODUCED:
            figures = {**base, "found": status, "expected": "実施済／実施予定"}
            message = render("R301", "not_introduced", method_label=label, status=status, deadline=by)
            yield finding("R301", "advise", message, s.code, f"methods.status.{key}", figures,
                          f"{by}までに導入")
        elif status in PLANNED and start is not None and start > deadline:
            figures = {**base, "found": start, "expected": deadline}
            message = render("R301", "late", method_label=label,
                             start=periods.wareki_month(start), deadline=by)
            yield finding("R301", "advise", message, s.code, f"methods.start.{key}", figures,
                          f"{by}まで")


@rule("R302")
def r302_restricted_mail(s: Subject) -> Iterator[Finding]:
    """Accepting other municipalities' residents needs restricted-delivery mail."""
    v = _plan(s)
    other = v.get("methods.status.other_residents")
    mail = v.get("methods.status.restricted_mail")
    if other in PLANNED and mail == "予定なし":
        figures = {"found": mail, "expected": "実施済／実施予定", "threshold": "予定なし",
                   "other_residents": other, "restricted_mail": mail}
        message = render("R302", other_label=METHOD_LABELS["other_residents"], other_residents=other,
                         mail_label=METHOD_LABELS["restricted_mail"])
        yield finding("R302", "advise", message, s.code, "methods.status.restricted_mail", figures,
                      "実施済／実施予定")


# --- 第4-1(4): subsidy-eligible costs ------------------------------------------------------------


@rule("R401")
def r401_travel(s: Subject) -> Iterator[Finding]:
    """Outreach or application support planned: their travel costs are budgeted."""
    v = _plan(s)
    travel = {fy: num(v, f"costs.travel.{fy}") for fy in COST_YEARS}
    planned = [k for k in TRAVEL_METHODS if v.get(f"methods.status.{k}") in PLANNED]
    if planned and not any(travel.values()):
        figures = {"found": 0, "expected": "1円以上", "threshold": 0, "methods": planned,
                   **{f"travel_{fy}": x for fy, x in travel.items()}}
        message = render("R401", methods="・".join(METHOD_LABELS[k] for k in planned), years=_years())
        yield finding("R401", "advise", message, s.code, f"costs.travel.{COST_YEARS[0]}", figures,
                      "1円以上")


@rule("R402")
def r402_lease(s: Subject) -> Iterator[Finding]:
    """More terminals later than at first: their lease is budgeted."""
    v = _plan(s)
    lease = {fy: num(v, f"costs.terminal_lease.{fy}") for fy in COST_YEARS}
    quarters = [q for q in periods.quarters() if q <= LEASE_QUARTERS_LAST]
    terminals = {q: num(v, f"capacity.terminals.{q}") for q in quarters}
    first = quarters[0]
    peak = max(quarters, key=lambda q: terminals[q])  # earliest quarter of the peak
    if terminals[peak] > terminals[first] and not any(lease.values()):
        figures = {"found": 0, "expected": "1円以上", "threshold": 0,
                   "first_quarter": first, "terminals_first": terminals[first],
                   "peak_quarter": peak, "terminals_peak": terminals[peak],
                   **{f"terminal_lease_{fy}": x for fy, x in lease.items()}}
        message = render("R402", first_quarter=periods.quarter_label(first),
                         terminals_first=terminals[first], peak_quarter=periods.quarter_label(peak),
                         terminals_peak=terminals[peak], years=_years())
        yield finding("R402", "advise", message, s.code, f"costs.terminal_lease.{COST_YEARS[0]}",
                      figures, "1円以上")


@rule("R403")
def r403_any_cost(s: Subject) -> Iterator[Finding]:
    """Some subsidy-eligible cost is budgeted at all."""
    v = _plan(s)
    total = sum(num(v, f"costs.{k}.{fy}") for k, _ in forms.COST_ROWS for fy in COST_YEARS)
    if total == 0:
        figures = {"found": 0, "expected": "1円以上", "threshold": 0}
        yield finding("R403", "advise", render("R403", years=_years()), s.code,
                      f"costs.{forms.COST_ROWS[0][0]}.{COST_YEARS[0]}", figures, "1円以上")


RULES: list[Rule] = [r101_schedule, r102_front_loading, r201_capacity, r202_staff,
                     r301_early_methods, r302_restricted_mail, r401_travel, r402_lease, r403_any_cost]
