"""Review: the prefecture's advice on each accepted plan (第4-1) and the monthly follow-up (第4-2).

Pure functions over canonical values (catalog id → int / date / str / NA; a blank cell is an
absent key). Findings never reject a workbook; each carries the numbers that triggered it
(``figures``: always ``found``, ``expected`` and ``threshold``) so a letter can state them and a
person can check them by hand. Thresholds come from :class:`~kofu_excel.refdata.ReviewConfig`.

The rules are small functions registered per subject in :data:`RULES` (FAC's
``checks = general_checks + [...]``): ``plan`` rules (R*, :mod:`.plan`) run on an accepted plan,
``monthly`` rules (F101, F102, :mod:`.follow_up`) on an accepted monthly report, ``scope`` rules
(F103) for each municipality expected to report monthly. Each code's severity, title, notice
clause and message templates are in :mod:`kofu_excel.codes`. To add a rule: one row in the codes
table, one function in the rule module, listed in that module's ``RULES``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import codes
from ..findings import Finding
from ..refdata import Master, ReviewConfig, Schedule
from . import follow_up, plan
from .common import Rule, Subject, month

__all__ = ["CHECKS", "RULES", "kind_of", "review"]

# The notice's check each code answers (第4 of the notice), from the codes table.
CHECKS: Mapping[str, str] = codes.checks()
kind_of = codes.kind_of

RULES: dict[str, list[Rule]] = {
    "plan": plan.RULES,
    "monthly": follow_up.RULES,
    "scope": follow_up.SCOPE_RULES,
}


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
    latest = month(latest_month) if latest_month is not None else None
    if latest is None:
        reported = [m for v in monthlies.values() if (m := month(v.get("basic.report_month")))]
        latest = max(reported, default=None)
    expected = set(scope)
    out: list[Finding] = []
    for code in sorted(set(plans) | set(monthlies) | expected):
        s = Subject(code, plans.get(code), monthlies.get(code), master, schedule, config, latest)
        groups = [("plan", s.plan is not None), ("monthly", s.monthly is not None),
                  ("scope", code in expected)]
        for group, applies in groups:
            if applies:
                for rule in RULES[group]:
                    out.extend(rule(s))
    return out
