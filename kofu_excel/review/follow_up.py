"""The monthly follow-up (第4-2): one rule per code over a municipality's monthly report.

:data:`RULES` run when the municipality has a monthly report; :data:`SCOPE_RULES` when it is
expected to report (F103 also fires when it has none). To add a rule: add its code to
``kofu_excel/codes.py``, write the function here with ``@rule("F…")`` and list it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from .. import periods
from ..codes import render, rule
from ..findings import Finding
from .common import Rule, Subject, finding, fmt, month, num, num_text, pct, span

RECENT_MONTHS = 3  # F101: mean issuance of the last three months


@rule("F101")
def f101_backlog(s: Subject) -> Iterator[Finding]:
    """Cards delivered but not handed over: at most the configured months of recent issuance."""
    rm, v, cfg = s.report_month, s.monthly, s.config
    if rm is None or v is None:
        return
    months, issued = s.months, s.issued
    delivered = sum(num(v, f"actuals.delivered.{m}") for m in months)
    backlog = delivered - issued
    recent = months[-RECENT_MONTHS:]
    mean = sum(num(v, f"actuals.issued.{m}") for m in recent) / len(recent)
    threshold = cfg.backlog_months * mean
    if not (backlog > 0 and backlog > threshold):
        return
    held = backlog / mean if mean > 0 else None
    figures = {
        "report_month": rm, "found": backlog, "expected": round(threshold, 2),
        "threshold": round(threshold, 2), "delivered": delivered, "issued": issued,
        "mean_issued_recent": round(mean, 2), "recent_months": list(recent),
        "months_of_backlog": round(held, 2) if held is not None else None,
        "backlog_months": cfg.backlog_months,
    }
    held_text = (f"直近{len(recent)}か月の平均交付数 {fmt(mean)} 枚の {held:.1f} か月分"
                 if held is not None else f"直近{len(recent)}か月の交付はありません")
    message = render("F101", report_month=periods.wareki_month(rm), delivered=fmt(delivered),
                     issued=fmt(issued), found=fmt(backlog), held=held_text,
                     backlog_months=num_text(cfg.backlog_months))
    yield finding("F101", "urgent", message, s.code, f"actuals.issued.{rm}", figures,
                  f"{fmt(threshold)}枚以内")


@rule("F102")
def f102_behind_plan(s: Subject) -> Iterator[Finding]:
    """Cards issued so far reach the configured share of the plan's forecast."""
    rm, plan, cfg = s.report_month, s.plan, s.config
    if rm is None or plan is None:
        return
    issued = s.issued
    planned = sum(num(plan, f"forecast.planned_issued.{m}") for m in s.months)
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
    message = render("F102", span=span(periods.FIRST_MONTH, rm), found=fmt(issued),
                     expected=fmt(planned), ratio=pct(issued / planned), plan_ratio=pct(cfg.plan_ratio),
                     shortfall=fmt(planned - issued))
    yield finding("F102", "advise", message, s.code, f"actuals.issued.{rm}", figures,
                  f"{fmt(math.ceil(threshold))}枚以上")


@rule("F103")
def f103_missing(s: Subject) -> Iterator[Finding]:
    """A municipality expected to report has a report for the latest month."""
    v, latest = s.monthly, s.latest
    rm = month(v.get("basic.report_month")) if v is not None else None
    if v is not None and (latest is None or (rm is not None and rm >= latest)):
        return
    figures = {"found": rm, "expected": latest, "threshold": latest,
               "report_month": rm, "latest_month": latest}
    want = f"{periods.wareki_month(latest)}分の" if latest else ""
    if v is None:
        message = render("F103", "missing", want=want)
        cid = ""
    else:
        had = f"{periods.wareki_month(rm)}分" if rm else "対象月が不明なもの"
        message = render("F103", "old", had=had, want=want)
        cid = "basic.report_month"
    yield finding("F103", "advise", message, s.code, cid, figures,
                  f"{periods.wareki_month(latest)}分" if latest else "")


RULES: list[Rule] = [f101_backlog, f102_behind_plan]
SCOPE_RULES: list[Rule] = [f103_missing]
