"""What every review rule shares: the subject under review, number and month helpers, the
wording helpers, and :func:`finding`, which locates a finding at its cell."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache, cached_property
from typing import Any

from .. import codes, forms, periods
from ..findings import Finding
from ..refdata import Master, ReviewConfig, Schedule, working_days

PLANNED = ("実施済", "実施予定")
RENEWAL_FROM = "2020Q1"  # certificate renewals start in January 2020 (第2-2(5))
METHOD_LABELS = dict(forms.METHOD_ROWS)


@dataclass
class Subject:
    """One municipality under review: its accepted plan and monthly report (canonical values:
    catalog id → int / date / str / NA; a blank cell is an absent key) and the references."""

    code: str
    plan: Mapping[str, Any] | None
    monthly: Mapping[str, Any] | None
    master: Master
    schedule: Schedule
    config: ReviewConfig
    latest: str | None  # the month every monthly report should cover ('YYYY-MM')

    @cached_property
    def forecast(self) -> dict[str, int]:
        """The plan's forecast issuance per month."""
        v = self.plan or {}
        return {m: num(v, f"forecast.planned_issued.{m}") for m in periods.months()}

    @cached_property
    def report_month(self) -> str | None:
        """The monthly report's month within the form's months (None: unknown or before them)."""
        rm = month(self.monthly.get("basic.report_month")) if self.monthly is not None else None
        if rm is None or rm < periods.FIRST_MONTH:
            return None
        return min(rm, periods.LAST_MONTH)

    @cached_property
    def months(self) -> list[str]:
        """The months the monthly report covers (first month to its report month)."""
        rm = self.report_month
        return periods.months(periods.FIRST_MONTH, rm) if rm is not None else []

    @cached_property
    def issued(self) -> int:
        """Cards issued up to the report month."""
        return sum(num(self.monthly or {}, f"actuals.issued.{m}") for m in self.months)


Rule = Callable[[Subject], Iterator[Finding]]


def num(values: Mapping[str, Any], key: str) -> int:
    """A count as a number: blank, 「－」 (NA) and anything not numeric count as 0."""
    v = values.get(key)
    if type(v) is int:  # the common case first: this runs ~300 times a municipality
        return v
    return int(v) if isinstance(v, float) else 0  # bool, text, NA, blank: 0


def month(v: Any) -> str | None:
    """A month value (date, or 'YYYY-MM[-DD]' text) as its 'YYYY-MM' key."""
    if isinstance(v, date):
        return periods.month_key(v)
    if isinstance(v, str) and len(v) >= 7 and v[4] == "-" and v[:4].isdigit() and v[5:7].isdigit():
        return v[:7]
    return None


def fmt(n: float) -> str:
    return f"{round(n):,}"


def pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def num_text(x: float) -> str:
    """A parameter as people write it: 1.0 → 1, 0.25 → 0.25."""
    return f"{x:g}"


@cache
def quarter_working_days() -> dict[str, int]:
    """Working days of every quarter of the form, counted once (it walks the calendar)."""
    return {q: working_days(q) for q in periods.quarters()}


@cache
def _cells(kind: str) -> dict[str, forms.CatalogEntry]:
    return {e.id: e for e in forms.catalog(kind)}


def finding(code: str, severity: str, message: str, muni_code: str, cid: str,
            figures: dict[str, Any], expected: str) -> Finding:
    """A review finding at the cell ``cid`` of its form (none when ``cid`` is not a cell)."""
    entry = _cells(codes.kind_of(code)).get(cid)
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
        check=codes.check_of(code),
        figures=figures,
    )


def _quarter_name(q: str) -> str:
    """令和2年度第1四半期 (the label without its months, for lists)."""
    return periods.quarter_label(q).split("（")[0]


def quarter_runs(qs: Sequence[str]) -> str:
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


def span(first: str, last: str) -> str:
    """令和元年10月～令和2年7月."""
    a, b = periods.wareki_month(first), periods.wareki_month(last)
    return a if a == b else f"{a}～{b}"
