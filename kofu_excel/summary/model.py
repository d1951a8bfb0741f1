"""What the summary workbook shows, and the figures derived from it.

:class:`Summary` is built by :func:`kofu_excel.merge.merge` and handed to the sheet writers of
this package; the aggregation helpers (sums for ``--json`` and 概要, the tidy index of データ,
population, cumulative forecasts and actuals, the issuance rate) are shared by them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from .. import forms, periods
from ..contract import FORM_KINDS, STATUSES
from ..findings import Finding
from ..refdata import Master, Municipality, Schedule
from ..write.xlsx import as_text

KINDS = FORM_KINDS


@dataclass(frozen=True)
class IntakeRow:
    """One file found by intake, as 取込記録 lists it."""

    path: str
    member: str
    kind: str
    muni_code: str
    status: str  # accepted | rejected | superseded | duplicate | ignored | opened
    reason: str
    sha256: str


@dataclass(frozen=True)
class FindingRow:
    """A finding with the workbook it is about (kind plan | monthly | summary | "")."""

    finding: Finding
    kind: str
    file: str


@dataclass
class Summary:
    """Everything the summary workbook shows; built by :func:`kofu_excel.merge.merge`.

    ``values[kind][code]`` holds the canonical values (catalog id → int / date / str / NA) of the
    accepted workbook of that municipality and kind; ``files[(kind, code)]`` names it and
    ``rejected`` holds the (kind, code) pairs that sent a rejected workbook (shown as 不受理 where
    none was accepted). ``kinds`` are
    the forms collected in this batch: 未提出 lists only those.
    """

    level: str  # prefecture | national
    pref_code: str  # 2 digits; "" for national
    master: Master
    schedule: Schedule
    scope: list[Municipality]
    values: dict[str, dict[str, dict[str, Any]]]
    files: dict[tuple[str, str], str] = field(default_factory=dict)
    rejected: set[tuple[str, str]] = field(default_factory=set)
    kinds: tuple[str, ...] = KINDS
    findings: list[FindingRow] = field(default_factory=list)
    intake: list[IntakeRow] = field(default_factory=list)
    created: date = field(default_factory=lambda: date.fromisoformat(forms.FORM_DATE))
    latest_month: str = periods.FIRST_MONTH
    # The prefecture does not collect its designated cities' returns: they are not in ``scope``.
    without_designated: bool = False
    _totals: dict[str, Any] | None = field(default=None, init=False, repr=False)

    # -- derived -------------------------------------------------------------------------------
    @property
    def scope_name(self) -> str:
        return self.master.prefectures.get(self.pref_code, "") if self.level == "prefecture" else "全国"

    def plan(self, code: str) -> Mapping[str, Any] | None:
        return self.values.get("plan", {}).get(code)

    def monthly(self, code: str) -> Mapping[str, Any] | None:
        return self.values.get("monthly", {}).get(code)

    def rows(self) -> list[Municipality]:
        """Scope municipalities, plus any accepted one outside it (never drop a value)."""
        known = {m.code for m in self.scope}
        extra = sorted({c for kind in self.values.values() for c in kind} - known)
        out = list(self.scope)
        for code in extra:
            m = self.master.by_code.get(code)
            if m is None:
                v = self.plan(code) or self.monthly(code) or {}
                m = Municipality(code, code[:2], as_text(v.get("basic.pref_name")),
                                 as_text(v.get("basic.muni_name")), "")
            out.append(m)
        return sorted(out, key=lambda m: m.code)

    def missing(self) -> list[tuple[Municipality, str]]:
        """(municipality, kind) of the scope with no accepted workbook, by code then kind."""
        return [(m, kind) for m in self.scope for kind in KINDS
                if kind in self.kinds and m.code not in self.values.get(kind, {})]

    def totals(self) -> dict[str, Any]:
        """Counts and sums for ``--json`` (see :func:`kofu_excel.merge.merge`); computed once."""
        if self._totals is None:
            self._totals = self._compute_totals()
        return self._totals

    def _compute_totals(self) -> dict[str, Any]:
        counts = dict.fromkeys(STATUSES, 0)
        for it in self.intake:
            counts[it.status] = counts.get(it.status, 0) + 1
        out: dict[str, Any] = {"status": counts, "submitted": {}, "peak": {}}
        n = len(self.scope)
        for kind in KINDS:
            got = self.values.get(kind, {})
            out["submitted"][kind] = {"submitted": sum(1 for m in self.scope if m.code in got),
                                      "municipalities": n}
            out[kind] = sums(kind, got.values())
            out["peak"][kind] = {k: p for k, (p, _v) in peaks(kind, got.values()).items()}
        return out

    def period_totals(self, kind: str) -> dict[str, dict[str, int]]:
        """The stocks by period of the accepted ``kind`` workbooks, Σ over municipalities."""
        return period_totals(kind, self.values.get(kind, {}).values())


def sums(kind: str, books: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Σ of the numeric values per ``table.field`` (e.g. ``forecast.planned_issued``,
    ``costs.fy2019``): every numeric field of the form is present, 0 when nothing was given.

    Flows (and single values such as 人口) are summed over municipalities and rows. A stock of
    a table by period (窓口数, 統合端末台数, 職員数: ``Field.stock``) is never summed over time:
    its value is the total over municipalities in the period where that total peaks
    (:func:`peaks` names the period)."""
    books = list(books)
    groups = _sum_keys(kind)
    out = dict.fromkeys(groups, 0)
    for v in books:
        get = v.get
        for key, cids in groups.items():
            total = 0
            for cid in cids:
                x = get(cid)
                if type(x) is int or (type(x) is float and math.isfinite(x)):
                    total += x
            out[key] += total
    for key, (_period, value) in peaks(kind, books).items():
        out[key] = value
    return out


def period_totals(kind: str, books: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """``table.field`` of each stock of a table by period → period → Σ over municipalities."""
    books = list(books)
    out: dict[str, dict[str, int]] = {}
    for key, by_period in _stock_keys(kind).items():
        per = out[key] = dict.fromkeys(by_period, 0)
        for period, cid in by_period.items():
            total = 0
            for v in books:
                x = v.get(cid)
                if type(x) is int or (type(x) is float and math.isfinite(x)):  # is_number, inline
                    total += x
            per[period] = total
    return out


def peaks(kind: str, books: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, int]]:
    """``table.field`` of each stock of a table by period → (the period where its total over
    municipalities is highest, that total); the first such period on a tie, the first period
    when nothing was given."""
    out: dict[str, tuple[str, int]] = {}
    for key, per in period_totals(kind, books).items():
        best = max(per.values(), default=0)
        out[key] = (next((p for p, x in per.items() if x == best), ""), best)
    return out


@cache
def _sum_keys(kind: str) -> dict[str, tuple[str, ...]]:
    """table.field → the catalog ids it sums (every numeric field but the stocks by period)."""
    stocks = _stock_keys(kind)
    out: dict[str, list[str]] = {}
    for e in forms.catalog(kind):
        if e.spec.numeric:
            key = f"{e.table}.{e.spec.id}"
            ids = out.setdefault(key, [])
            if key not in stocks:
                ids.append(e.id)
    return {k: tuple(v) for k, v in out.items()}


@cache
def _stock_keys(kind: str) -> dict[str, dict[str, str]]:
    """table.field of each stock in a table by period → period → catalog id (form order)."""
    form = forms.FORMS[kind]
    out: dict[str, dict[str, str]] = {}
    for e in forms.catalog(kind):
        if e.spec.numeric and e.spec.stock and form.table(e.table).over_time and e.row:
            out.setdefault(f"{e.table}.{e.spec.id}", {})[e.row] = e.id
    return out


def is_stock_over_time(kind: str, key: str) -> bool:
    return key in _stock_keys(kind)


@cache
def tidy_index(kind: str) -> dict[str, tuple[str, str, str]]:
    """catalog id → (表, 項目, 期間) of the データ sheet, from :func:`forms.tidy_key`."""
    form = forms.FORMS[kind]
    out: dict[str, tuple[str, str, str]] = {}
    for e in forms.catalog(kind):
        table = form.table(e.table)
        # item×period tables list the item as the catalog's field and the period as its row.
        row_key = e.field if (table.tidy == "item_period" and not table.single) else e.row
        item, period = forms.tidy_key(table, row_key, e.spec)
        out[e.id] = (e.table, item, period)
    return out


# --- small helpers ----------------------------------------------------------------------------


def is_number(x: Any) -> bool:
    t = type(x)
    return t is int or (t is float and math.isfinite(x))


def as_count(v: Mapping[str, Any] | None, key: str) -> int:
    """A count for arithmetic: blank, 「－」 and anything not numeric count as 0."""
    if v is None:
        return 0
    x = v.get(key)
    return int(x) if is_number(x) else 0


def month_key_of(x: Any) -> str | None:
    if isinstance(x, date):
        return periods.month_key(x)
    if isinstance(x, str) and len(x) >= 7 and x[4] == "-":
        return x[:7]
    return None


# --- per-municipality figures -----------------------------------------------------------------


def population(summary: Summary, m: Municipality) -> int | None:
    plan = summary.plan(m.code)
    pop = plan.get("basic.population") if plan else None
    if is_number(pop):
        return int(pop)
    return m.population


def planned_cumulative(plan: Mapping[str, Any] | None, upto: str = periods.LAST_MONTH) -> int | None:
    """issued_to_date + Σ planned_issued to the end of ``upto``."""
    if plan is None:
        return None
    total = as_count(plan, "basic.issued_to_date")
    for m, key in _planned_keys():
        if m > upto:
            break
        total += as_count(plan, key)
    return total


@cache
def _planned_keys() -> tuple[tuple[str, str], ...]:
    return tuple((m, f"forecast.planned_issued.{m}") for m in periods.months())


def actual_series(monthly: Mapping[str, Any] | None, field_id: str) -> dict[str, int]:
    """Running totals of an actuals field by month, up to the report month."""
    out: dict[str, int] = {}
    if monthly is None:
        return out
    rm = month_key_of(monthly.get("basic.report_month")) or periods.LAST_MONTH
    total = 0
    for m in periods.months():
        if m > rm:
            break
        total += as_count(monthly, f"actuals.{field_id}.{m}")
        out[m] = total
    return out


def issuance_rate(summary: Summary, m: Municipality) -> tuple[int | None, float | None, str]:
    """(cumulative cards, rate, basis): actual issued (with cards issued before the plan) where a
    monthly report exists, else the plan's cumulative forecast at the latest month."""
    pop = population(summary, m)
    plan, monthly = summary.plan(m.code), summary.monthly(m.code)
    if monthly is not None:
        issued = actual_series(monthly, "issued")
        cum = as_count(plan, "basic.issued_to_date") + (issued[max(issued)] if issued else 0)
        basis = "実績"
    elif plan is not None:
        cum = planned_cumulative(plan, summary.latest_month) or 0
        basis = "計画"
    else:
        return None, None, ""
    rate = cum / pop if pop else None
    return cum, rate, basis
