"""Cross-field rules of the monthly report, one per code, each vectorised over the batch.

- A month after report_month: a figure (valid or not) is E305 and that cell's only finding;
  「－」 there is accepted (it claims nothing). Months up to report_month: E306 per blank cell.
  When report_month itself is unknown, E305/E306 are skipped and E304 runs on every month.
- E304 uses running totals. The earlier stage's total is known only up to its first blank or
  invalid month (no finding on a guess); the later stage counts what is valid. NA counts as 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import periods
from ...codes import render
from ..prepare import BAD, BLANK, NOT_APPLICABLE, VALUE, Run
from .base import first_true, rule

# Monthly cumulative order (docs/spec/forms.md): (later stage, earlier stage). NOT issued ≤ notices:
# cards applied for under 申請時来庁方式 are handed over with no 交付通知書.
MONTHLY_ORDER = (("delivered", "applications"), ("setup", "delivered"),
                 ("issued", "setup"), ("notices", "setup"))
_MONTH0 = np.datetime64(periods.FIRST_MONTH, "M")


@dataclass
class _Months:
    """Each book's report month against the months of the form (books × months masks)."""

    months: tuple[str, ...]
    rm_i: np.ndarray  # report month's position per book (-1: unknown), as a column
    known: np.ndarray  # report month known, as a column
    j: np.ndarray  # month positions, as a row

    def label(self, k: int) -> str:
        return periods.wareki_month(self.months[int(self.rm_i[k, 0])])


def _months(run: Run) -> _Months:
    basic, act = run.frames["basic"], run.frames["actuals"]
    rm = basic.df["report_month"].to_numpy().astype("datetime64[M]")
    known = (basic.states["report_month"] == VALUE) & ~np.isnat(rm)
    rm_i = np.where(known, (rm - _MONTH0).astype("int64", copy=False), -1)[:, None]
    return _Months(act.spec.row_keys, rm_i, known[:, None], np.arange(len(act.spec.row_keys))[None, :])


@rule("E305")
def e305_after_report_month(run: Run) -> None:
    """A month after report_month holds a figure (「－」 is harmless and accepted)."""
    act, m = run.frames["actuals"], _months(run)
    after = m.known & (m.j > m.rm_i)
    for f in act.spec.table.fields:
        st = act.state(f.id)
        for k, r in zip(*np.nonzero(after & ((st == VALUE) | (st == BAD))), strict=True):
            b = run.members[k]
            e = run.entry("actuals", r, f.id)
            run.add(b, e, "E305", render("E305", report_month=m.label(k)), expected="空欄")
            run.claim(b, e, "E305")
            run.books[b].values.pop(e.id, None)


@rule("E306")
def e306_blank_month(run: Run) -> None:
    """A month up to report_month left blank (「－」 counts as 0, not as blank)."""
    act, m = run.frames["actuals"], _months(run)
    upto = m.known & (m.j <= m.rm_i)
    for f in act.spec.table.fields:
        for k, r in zip(*np.nonzero(upto & (act.state(f.id) == BLANK)), strict=True):
            run.add(run.members[k], run.entry("actuals", r, f.id), "E306",
                    render("E306", report_month=m.label(k)), expected="0以上の整数または「－」")


@rule("E304")
def e304_cumulative_order(run: Run) -> None:
    """Running totals up to report_month keep the order of the stages (MONTHLY_ORDER)."""
    act, m = run.frames["actuals"], _months(run)
    upto = (m.j <= m.rm_i) | ~m.known  # report_month unknown: checked on every month
    names = {f.id: f for f in act.spec.table.fields}
    for later, earlier in MONTHLY_ORDER:
        l_cum = np.nancumsum(act.num(later), axis=1)
        e_st = act.state(earlier)
        e_cum = np.cumsum(np.where(e_st == VALUE, np.nan_to_num(act.num(earlier)), 0), axis=1)
        e_known = np.logical_and.accumulate((e_st == VALUE) | (e_st == NOT_APPLICABLE), axis=1)
        broken = (l_cum > e_cum) & e_known & upto
        for k, r in zip(*first_true(broken), strict=True):
            lf, ef = names[later], names[earlier]
            message = render("E304", month=periods.wareki_month(m.months[r]), later=lf.label,
                             later_total=int(l_cum[k, r]), earlier=ef.label,
                             earlier_total=int(e_cum[k, r]))
            run.add(run.members[k], run.entry("actuals", r, later), "E304", message,
                    expected=f"累計が{ef.label}の累計以下",
                    figures={later: int(l_cum[k, r]), earlier: int(e_cum[k, r]), "month": m.months[r]})


RULES = [e305_after_report_month, e306_blank_month, e304_cumulative_order]
