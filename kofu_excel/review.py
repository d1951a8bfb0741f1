"""Review: the prefecture's advice on each accepted plan (第4-1) and the monthly follow-up (第4-2).

Pure functions over canonical values (catalog id → int / date / str / NA; a blank cell is an
absent key). Findings never reject a workbook; each carries the numbers that triggered it
(``figures``: always ``found``, ``expected`` and ``threshold``) so a letter can state them and a
person can check them by hand. Thresholds come from :class:`~kofu_excel.refdata.ReviewConfig`.

Codes (findings.CODES): R1xx forecast vs the national schedule (第4-1(1)), R2xx capacity
(第4-1(2)), R3xx application methods (第4-1(3)), R4xx subsidy-eligible costs (第4-1(4)),
F1xx monthly follow-up (第4-2). R* are about the plan workbook, F* about the monthly report
(see :func:`kind_of`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from functools import cache
from typing import Any

from . import forms, periods
from .findings import Finding
from .refdata import Master, ReviewConfig, Schedule, working_days

__all__ = ["CHECKS", "kind_of", "review"]

# The notice's check each code answers (第4 of the notice).
CHECKS: dict[str, str] = {
    "R101": "第4-1(1)", "R102": "第4-1(1)",
    "R201": "第4-1(2)", "R202": "第4-1(2)",
    "R301": "第4-1(3)", "R302": "第4-1(3)",
    "R401": "第4-1(4)", "R402": "第4-1(4)", "R403": "第4-1(4)",
    "F101": "第4-2", "F102": "第4-2", "F103": "第4-2",
}

PLANNED = ("実施済", "実施予定")
NOT_INTRODUCED = ("検討中", "予定なし")
EARLY_METHODS = ("visit_apply", "outreach")  # the two the notice wants introduced early (第2-3(2))
TRAVEL_METHODS = ("outreach", "apply_support")  # travel became eligible for these (第3-5(2)①イ)
FRONT_CUTOFF = "2020-07"  # the notice asks for front-loading towards July 2020 (第2-1)
FRONT_LAST = "2021-03"
RENEWAL_FROM = "2020Q1"  # certificate renewals start in January 2020 (第2-2(5))
# Cost estimates cover FY2019 and FY2020 only: a terminal added later needs no lease there.
COST_YEARS = ("FY2019", "FY2020")
LEASE_QUARTERS_LAST = "2021Q1"
RECENT_MONTHS = 3  # F101: mean issuance of the last three months

_METHOD_LABELS = dict(forms.METHOD_ROWS)


def kind_of(code: str) -> str:
    """Which workbook a review code is about: ``plan`` (R*) or ``monthly`` (F*)."""
    return "monthly" if code.startswith("F") else "plan"


def review(
    plans: Mapping[str, Mapping[str, Any]],
    monthlies: Mapping[str, Mapping[str, Any]],
    master: Master,
    schedule: Schedule,
    config: ReviewConfig,
    scope: Sequence[str] = (),
    latest_month: str | None = None,
) -> list[Finding]:
    """Advice findings for the accepted plans and monthly reports, ordered by municipality.

    ``plans`` / ``monthlies``: municipality code → canonical values of its accepted workbook.
    ``scope``: codes expected to report monthly (F103 for those without a current report).
    ``latest_month`` (``YYYY-MM``): the month every monthly report should cover; by default
    the latest report month among ``monthlies``.
    """
    latest = _month(latest_month) if latest_month is not None else None
    if latest is None:
        reported = [m for v in monthlies.values() if (m := _month(v.get("basic.report_month")))]
        latest = max(reported, default=None)
    expected = set(scope)
    out: list[Finding] = []
    for code in sorted(set(plans) | set(monthlies) | expected):
        plan, monthly = plans.get(code), monthlies.get(code)
        if plan is not None:
            out.extend(_review_plan(code, plan, master, schedule, config))
        if monthly is not None:
            out.extend(_follow_up(code, monthly, plan, config))
        if code in expected:
            out.extend(_missing_monthly(code, monthly, latest))
    return out


# --- helpers ------------------------------------------------------------------------------------


def _num(values: Mapping[str, Any], key: str) -> int:
    """A count as a number: blank, 「－」 (NA) and anything not numeric count as 0."""
    v = values.get(key)
    if type(v) is int:  # the common case first: this runs ~300 times a municipality
        return v
    return int(v) if isinstance(v, float) else 0  # bool, text, NA, blank: 0


def _month(v: Any) -> str | None:
    """A month value (date, or 'YYYY-MM[-DD]' text) as its 'YYYY-MM' key."""
    if isinstance(v, date):
        return periods.month_key(v)
    if isinstance(v, str) and len(v) >= 7 and v[4] == "-" and v[:4].isdigit() and v[5:7].isdigit():
        return v[:7]
    return None


def _fmt(n: float) -> str:
    return f"{round(n):,}"


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _num_text(x: float) -> str:
    """A parameter as people write it: 1.0 → 1, 0.25 → 0.25."""
    return f"{x:g}"


@cache
def _working_days() -> dict[str, int]:
    """Working days of every quarter of the form, counted once (it walks the calendar)."""
    return {q: working_days(q) for q in periods.quarters()}


@cache
def _cells(kind: str) -> dict[str, forms.CatalogEntry]:
    return {e.id: e for e in forms.catalog(kind)}


def _finding(
    code: str,
    severity: str,
    message: str,
    muni_code: str,
    cid: str,
    figures: dict[str, Any],
    expected: str,
) -> Finding:
    entry = _cells(kind_of(code)).get(cid)
    return Finding(
        code=code,
        severity=severity,
        message=message,
        sheet=entry.sheet if entry else "",
        cell=entry.cell if entry else "",
        field=cid if entry else "",
        value=figures.get("found"),
        expected=expected,
        muni_code=muni_code,
        check=CHECKS[code],
        figures=figures,
    )


def _quarter_name(q: str) -> str:
    """令和2年度第1四半期 (the label without its months, for lists)."""
    return periods.quarter_label(q).split("（")[0]


def _quarter_runs(qs: Sequence[str]) -> str:
    """Affected quarters as runs: 令和元年度第3四半期～令和2年度第2四半期、令和3年度第1四半期."""
    order = {q: i for i, q in enumerate(periods.quarters())}
    runs: list[list[str]] = []
    for q in qs:
        if runs and order[q] == order[runs[-1][-1]] + 1:
            runs[-1].append(q)
        else:
            runs.append([q])
    return "、".join(_quarter_name(r[0]) if len(r) == 1 else
                     f"{_quarter_name(r[0])}～{_quarter_name(r[-1])}" for r in runs)


def _span(first: str, last: str) -> str:
    """令和元年10月～令和2年7月."""
    a, b = periods.wareki_month(first), periods.wareki_month(last)
    return a if a == b else f"{a}～{b}"


# --- the plan (第4-1) ---------------------------------------------------------------------------


def _review_plan(
    code: str, v: Mapping[str, Any], master: Master, schedule: Schedule, cfg: ReviewConfig
) -> Iterator[Finding]:
    forecast = {m: _num(v, f"forecast.planned_issued.{m}") for m in periods.months()}
    yield from _r1_schedule(code, v, forecast, master, schedule, cfg)
    yield from _r1_front(code, forecast, cfg)
    yield from _r2_capacity(code, v, forecast, cfg)
    yield from _r2_staff(code, v)
    yield from _r3_methods(code, v, cfg)
    yield from _r4_costs(code, v)


def _population(code: str, v: Mapping[str, Any], master: Master) -> int | None:
    pop = v.get("basic.population")
    if isinstance(pop, int) and not isinstance(pop, bool) and pop > 0:
        return pop
    muni = master.by_code.get(code)
    return muni.population if muni is not None and muni.population else None


def _r1_schedule(
    code: str, v: Mapping[str, Any], fc: Mapping[str, int], master: Master, schedule: Schedule,
    cfg: ReviewConfig,
) -> Iterator[Finding]:
    pop = _population(code, v, master)
    if pop is None:
        return
    issued0 = _num(v, "basic.issued_to_date")
    for ms in schedule.milestones:
        if not periods.FIRST_MONTH <= ms.month <= periods.LAST_MONTH:
            continue  # a user's schedule may reach beyond the form's months
        forecast = sum(x for m, x in fc.items() if m <= ms.month)
        cumulative = issued0 + forecast
        benchmark = schedule.benchmark(pop, ms.month)
        threshold = benchmark * (1 - cfg.tol)
        if cumulative >= threshold:
            continue
        shortfall = benchmark - cumulative
        figures = {
            "milestone": ms.month, "milestone_label": ms.label, "population": pop,
            "issued_to_date": issued0, "forecast_to_milestone": forecast,
            "found": cumulative, "expected": benchmark, "threshold": round(threshold, 2),
            "shortfall": shortfall, "tol": cfg.tol, "rate": round(schedule.rate(ms.month), 6),
        }
        message = (
            f"{ms.label}の交付枚数（累計）の想定 {_fmt(cumulative)} 枚（交付済 {_fmt(issued0)} 枚と"
            f"{_span(periods.FIRST_MONTH, ms.month)}の想定 {_fmt(forecast)} 枚の合計）は、"
            f"国の全体スケジュールに基づく目安 {_fmt(benchmark)} 枚を {_fmt(shortfall)} 枚下回っています。"
        )
        yield _finding("R101", "advise", message, code, f"forecast.planned_issued.{ms.month}",
                       figures, f"{benchmark:,}枚（目安）")


def _r1_front(code: str, fc: Mapping[str, int], cfg: ReviewConfig) -> Iterator[Finding]:
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
    message = (
        f"{_span(periods.FIRST_MONTH, FRONT_LAST)}の交付枚数の想定 {_fmt(total)} 枚のうち、"
        f"{periods.wareki_month(FRONT_CUTOFF)}末までの想定は {_fmt(early)} 枚（{_pct(share)}）で、"
        f"前倒しの目安（{_pct(cfg.front_share)}以上）に届いていません。"
    )
    yield _finding("R102", "info", message, code, f"forecast.planned_issued.{FRONT_CUTOFF}",
                   figures, f"{_pct(cfg.front_share)}以上")


def _r2_capacity(
    code: str, v: Mapping[str, Any], fc: Mapping[str, int], cfg: ReviewConfig
) -> Iterator[Finding]:
    issued0 = _num(v, "basic.issued_to_date")
    renewal = cfg.renewal_share * issued0 / 4  # a year's renewals spread over four quarters
    rows: list[dict[str, Any]] = []
    for q in periods.quarters():
        terminals = _num(v, f"capacity.terminals.{q}")
        counters = _num(v, f"capacity.counters.{q}")
        wd = _working_days()[q]
        weekend = _num(v, f"capacity.weekend_days.{q}")
        evening = _num(v, f"capacity.evening_days.{q}")
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
    t, cpd = worst["terminals"], _num_text(cfg.cards_per_terminal_day)
    days_text = (f"平日の開庁日 {worst['working_days']} 日＋土日開庁 {worst['weekend_days']} 日＋"
                 f"夜間延長 {worst['evening_days']} 日×{_num_text(cfg.evening_weight)}")
    times = f"処理能力の {ratio:.1f} 倍" if ratio is not None else "処理能力がありません"
    others = _quarter_runs([r["quarter"] for r in rows])
    message = (
        f"{worst['quarter_label']}の交付見込み {_fmt(worst['found'])} 枚（交付枚数の想定 "
        f"{_fmt(worst['forecast'])} 枚＋電子証明書等の更新 {_fmt(worst['renewal'])} 枚）に対し、"
        f"統合端末 {t} 台の処理能力は {_fmt(worst['expected'])} 枚（{t} 台×1日 {cpd} 枚×"
        f"{worst['days']:g} 日分：{days_text}）で、{_fmt(worst['shortfall'])} 枚不足します（{times}）。"
        f"処理能力が不足する四半期は {len(rows)} 期（{others}）です。"
    )
    yield _finding("R201", "urgent" if urgent else "advise", message, code,
                   f"capacity.terminals.{worst['quarter']}", figures,
                   f"{_fmt(worst['expected'])}枚以内（処理能力）")


def _r2_staff(code: str, v: Mapping[str, Any]) -> Iterator[Finding]:
    rows: list[dict[str, Any]] = []
    for q in periods.quarters():
        terminals = _num(v, f"capacity.terminals.{q}")
        regular = _num(v, f"capacity.staff_regular.{q}")
        temporary = _num(v, f"capacity.staff_temporary.{q}")
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
    others = _quarter_runs([r["quarter"] for r in rows])
    message = (
        f"{worst['quarter_label']}の統合端末 {worst['terminals']} 台に対し、端末を操作できる職員は "
        f"{worst['found']} 人（正規 {worst['staff_regular']} 人、臨時・非常勤 "
        f"{worst['staff_temporary']} 人）で、{worst['shortfall']} 人不足しています。"
        f"職員が端末の台数に満たない四半期は {len(rows)} 期（{others}）です。"
    )
    yield _finding("R202", "advise", message, code, f"capacity.staff_regular.{worst['quarter']}",
                   figures, f"{worst['terminals']}人以上（端末の台数）")


def _r3_methods(code: str, v: Mapping[str, Any], cfg: ReviewConfig) -> Iterator[Finding]:
    deadline = cfg.method_deadline
    for key in EARLY_METHODS:
        label = _METHOD_LABELS[key]
        status = v.get(f"methods.status.{key}")
        start = _month(v.get(f"methods.start.{key}"))
        base = {"method": key, "method_label": label, "status": status, "start": start,
                "deadline": deadline, "threshold": deadline}
        if status in NOT_INTRODUCED:
            figures = {**base, "found": status, "expected": "実施済／実施予定"}
            message = (f"{label}の実施状況が「{status}」となっており、導入時期が示されていません"
                       f"（目安：{periods.wareki_month(deadline)}までに導入）。")
            yield _finding("R301", "advise", message, code, f"methods.status.{key}", figures,
                           f"{periods.wareki_month(deadline)}までに導入")
        elif status in PLANNED and start is not None and start > deadline:
            figures = {**base, "found": start, "expected": deadline}
            message = (f"{label}の開始（予定）が{periods.wareki_month(start)}となっており、"
                       f"目安の{periods.wareki_month(deadline)}より後です。")
            yield _finding("R301", "advise", message, code, f"methods.start.{key}", figures,
                           f"{periods.wareki_month(deadline)}まで")
    other = v.get("methods.status.other_residents")
    mail = v.get("methods.status.restricted_mail")
    if other in PLANNED and mail == "予定なし":
        figures = {"found": mail, "expected": "実施済／実施予定", "threshold": "予定なし",
                   "other_residents": other, "restricted_mail": mail}
        message = (f"{_METHOD_LABELS['other_residents']}を「{other}」としていますが、"
                   f"{_METHOD_LABELS['restricted_mail']}が「予定なし」となっています。")
        yield _finding("R302", "advise", message, code, "methods.status.restricted_mail", figures,
                       "実施済／実施予定")


def _r4_costs(code: str, v: Mapping[str, Any]) -> Iterator[Finding]:
    years = "・".join(periods.fiscal_year_label(fy) for fy in COST_YEARS)
    travel = {fy: _num(v, f"costs.travel.{fy}") for fy in COST_YEARS}
    planned = [k for k in TRAVEL_METHODS if v.get(f"methods.status.{k}") in PLANNED]
    if planned and not any(travel.values()):
        names = "・".join(_METHOD_LABELS[k] for k in planned)
        figures = {"found": 0, "expected": "1円以上", "threshold": 0, "methods": planned,
                   **{f"travel_{fy}": x for fy, x in travel.items()}}
        message = (f"{names}を実施（予定）としていますが、旅費（出張申請受付・申請サポート）が"
                   f"{years}とも0円です。")
        yield _finding("R401", "advise", message, code, f"costs.travel.{COST_YEARS[0]}", figures,
                       "1円以上")

    lease = {fy: _num(v, f"costs.terminal_lease.{fy}") for fy in COST_YEARS}
    quarters = [q for q in periods.quarters() if q <= LEASE_QUARTERS_LAST]
    terminals = {q: _num(v, f"capacity.terminals.{q}") for q in quarters}
    first = quarters[0]
    peak = max(quarters, key=lambda q: terminals[q])  # earliest quarter of the peak
    if terminals[peak] > terminals[first] and not any(lease.values()):
        figures = {"found": 0, "expected": "1円以上", "threshold": 0,
                   "first_quarter": first, "terminals_first": terminals[first],
                   "peak_quarter": peak, "terminals_peak": terminals[peak],
                   **{f"terminal_lease_{fy}": x for fy, x in lease.items()}}
        message = (f"統合端末を{periods.quarter_label(first)}の {terminals[first]} 台から"
                   f"{periods.quarter_label(peak)}に {terminals[peak]} 台へ増やす計画ですが、"
                   f"統合端末の追加リース経費が{years}とも0円です。")
        yield _finding("R402", "advise", message, code, f"costs.terminal_lease.{COST_YEARS[0]}",
                       figures, "1円以上")

    total = sum(_num(v, f"costs.{k}.{fy}") for k, _ in forms.COST_ROWS for fy in COST_YEARS)
    if total == 0:
        figures = {"found": 0, "expected": "1円以上", "threshold": 0}
        message = f"補助対象経費の見込額が{years}ともすべて0円です。"
        yield _finding("R403", "advise", message, code, f"costs.{forms.COST_ROWS[0][0]}.{COST_YEARS[0]}",
                       figures, "1円以上")


# --- the monthly follow-up (第4-2) --------------------------------------------------------------


def _follow_up(
    code: str, v: Mapping[str, Any], plan: Mapping[str, Any] | None, cfg: ReviewConfig
) -> Iterator[Finding]:
    rm = _month(v.get("basic.report_month"))
    if rm is None or rm < periods.FIRST_MONTH:
        return
    rm = min(rm, periods.LAST_MONTH)
    months = periods.months(periods.FIRST_MONTH, rm)
    issued = sum(_num(v, f"actuals.issued.{m}") for m in months)
    delivered = sum(_num(v, f"actuals.delivered.{m}") for m in months)
    cell = f"actuals.issued.{rm}"

    backlog = delivered - issued
    recent = months[-RECENT_MONTHS:]
    mean = sum(_num(v, f"actuals.issued.{m}") for m in recent) / len(recent)
    threshold = cfg.backlog_months * mean
    if backlog > 0 and backlog > threshold:
        held = backlog / mean if mean > 0 else None
        figures = {
            "report_month": rm, "found": backlog, "expected": round(threshold, 2),
            "threshold": round(threshold, 2), "delivered": delivered, "issued": issued,
            "mean_issued_recent": round(mean, 2), "recent_months": list(recent),
            "months_of_backlog": round(held, 2) if held is not None else None,
            "backlog_months": cfg.backlog_months,
        }
        held_text = (f"直近{len(recent)}か月の平均交付数 {_fmt(mean)} 枚の {held:.1f} か月分"
                     if held is not None else f"直近{len(recent)}か月の交付はありません")
        message = (
            f"{periods.wareki_month(rm)}末時点で、J-LISから送付されたカード {_fmt(delivered)} 枚の"
            f"うち交付済は {_fmt(issued)} 枚で、交付待ちのカードが {_fmt(backlog)} 枚滞留しています"
            f"（{held_text}。目安は {_num_text(cfg.backlog_months)} か月分以内）。"
        )
        yield _finding("F101", "urgent", message, code, cell, figures,
                       f"{_fmt(threshold)}枚以内")

    if plan is None:
        return
    planned = sum(_num(plan, f"forecast.planned_issued.{m}") for m in months)
    if planned <= 0:
        return
    threshold = cfg.plan_ratio * planned
    if issued >= threshold:
        return
    figures = {
        "report_month": rm, "first_month": periods.FIRST_MONTH, "found": issued,
        "expected": planned, "threshold": round(threshold, 2), "ratio": round(issued / planned, 4),
        "shortfall": planned - issued, "plan_ratio": cfg.plan_ratio,
    }
    message = (
        f"{_span(periods.FIRST_MONTH, rm)}の交付数の累計 {_fmt(issued)} 枚は、計画の想定 "
        f"{_fmt(planned)} 枚の {_pct(issued / planned)}で、目安の {_pct(cfg.plan_ratio)} を下回っています"
        f"（計画との差 {_fmt(planned - issued)} 枚）。"
    )
    yield _finding("F102", "advise", message, code, cell, figures,
                   f"{_fmt(math.ceil(threshold))}枚以上")


def _missing_monthly(code: str, v: Mapping[str, Any] | None, latest: str | None) -> Iterator[Finding]:
    rm = _month(v.get("basic.report_month")) if v is not None else None
    if v is not None and (latest is None or (rm is not None and rm >= latest)):
        return
    figures = {"found": rm, "expected": latest, "threshold": latest,
               "report_month": rm, "latest_month": latest}
    want = f"{periods.wareki_month(latest)}分の" if latest else ""
    if v is None:
        message = f"{want}実績報告が提出されていません。"
        cid = ""
    else:
        had = f"{periods.wareki_month(rm)}分" if rm else "対象月が不明なもの"
        message = f"提出された最新の実績報告は{had}で、{want}実績報告が提出されていません。"
        cid = "basic.report_month"
    yield _finding("F103", "advise", message, code, cid, figures,
                   f"{periods.wareki_month(latest)}分" if latest else "")
