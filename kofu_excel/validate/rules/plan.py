"""Cross-field rules of the plan, one per code, each vectorised over the batch's plans.

Decisions where the spec is silent (one fault, one finding, at the cell to correct):
- issued_to_date > population: E307 only; E301 would restate it at the first month.
- E301 uses running totals of valid cells (invalid months count as missing; NA as 0).
- Terminals 0 in a quarter with forecast > 0: only E302 (it says more than E203 for
  terminals ≥ 1); terminals 0 in a quarter with no forecast: E203.
"""

from __future__ import annotations

import numpy as np

from ... import forms, periods
from ...codes import render
from ..prepare import Run
from .base import first_true, rule


def _population_and_issued(run: Run) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Population and issued_to_date per book (NaN when not valid), and where issued > population
    (NaN compares False: unknown population → no finding)."""
    basic = run.frames["basic"]
    pop = basic.num("population")[:, 0]
    issued0 = basic.num("issued_to_date")[:, 0]
    return pop, issued0, issued0 > pop


@rule("E307")
def e307_issued_over_population(run: Run) -> None:
    pop, issued0, over = _population_and_issued(run)
    e = run.entry("basic", 0, "issued_to_date")
    for k in np.flatnonzero(over):
        figures = {"issued_to_date": int(issued0[k]), "population": int(pop[k])}
        run.add(run.members[k], e, "E307", render("E307", **figures),
                expected=f"{int(pop[k]):,}以下の整数", figures=figures)


@rule("E301")
def e301_forecast_over_population(run: Run) -> None:
    """The first month whose running total (issued_to_date + forecast so far) exceeds the
    population; when issued_to_date alone exceeds it, E307 says so once."""
    pop, issued0, over = _population_and_issued(run)
    fc = run.frames["forecast"]
    cum = np.nan_to_num(issued0)[:, None] + np.nancumsum(fc.num("planned_issued"), axis=1)
    exceed = (cum > pop[:, None]) & ~over[:, None]
    for k, r in zip(*first_true(exceed), strict=True):
        figures = {"cumulative": int(cum[k, r]), "population": int(pop[k]),
                   "issued_to_date": int(np.nan_to_num(issued0[k])), "month": fc.spec.row_keys[r]}
        run.add(run.members[k], run.entry("forecast", r, "planned_issued"), "E301",
                render("E301", **figures), expected=f"累計が人口（{int(pop[k]):,}人）以下となる枚数",
                figures=figures)


@rule("E302")
def e302_no_terminal(run: Run) -> None:
    """Terminals 0 in a quarter with forecast > 0. The explicit 0 also breaks terminals ≥ 1
    (E203); E302 says more, so it is that cell's only finding."""
    fc, cap = run.frames["forecast"], run.frames["capacity"]
    months, quarters = fc.spec.row_keys, cap.spec.row_keys
    to_q = np.zeros((len(months), len(quarters)))
    for i, m in enumerate(months):
        to_q[i, quarters.index(periods.quarter_of(m))] = 1
    q_forecast = np.nan_to_num(fc.num("planned_issued")) @ to_q
    terminals = cap.raw_num("terminals")
    for k, r in zip(*np.nonzero((terminals == 0) & (q_forecast > 0)), strict=True):
        b = run.members[k]
        e = run.entry("capacity", r, "terminals")
        figures = {"forecast": int(q_forecast[k, r]), "terminals": 0, "quarter": quarters[r]}
        run.add(b, e, "E302", render("E302", **figures), expected="1以上の整数", figures=figures)
        run.claim(b, e, "E302")


@rule("W401")
def w401_temporary_staff(run: Run) -> None:
    """Temporary staff while terminals outnumber regular staff (第2-2(2))."""
    cap = run.frames["capacity"]
    temp, term, reg = cap.num("staff_temporary"), cap.num("terminals"), cap.num("staff_regular")
    for k, r in zip(*np.nonzero((temp > 0) & (term > reg)), strict=True):
        figures = {"terminals": int(term[k, r]), "staff_regular": int(reg[k, r]),
                   "staff_temporary": int(temp[k, r]), "quarter": cap.spec.row_keys[r]}
        run.add(run.members[k], run.entry("capacity", r, "staff_temporary"), "W401",
                render("W401", **figures), severity="warning", expected="", figures=figures)


@rule("E303")
def e303_first_year_costs(run: Run) -> None:
    """Items eligible in FY2019 only, costed in FY2020."""
    costs = run.frames["costs"]
    fy2020 = costs.num("fy2020")
    rows = [costs.spec.row_keys.index(item) for item in forms.R1_ONLY_COSTS]
    for k, i in zip(*np.nonzero(fy2020[:, rows] > 0), strict=True):
        r = rows[i]
        run.add(run.members[k], run.entry("costs", r, "fy2020"), "E303",
                render("E303", label=forms.COSTS.rows[r].label), expected="0",
                figures={"item": costs.spec.row_keys[r], "amount": int(fy2020[k, r])})


RULES = [e307_issued_over_population, e301_forecast_over_population, e302_no_terminal,
         w401_temporary_staff, e303_first_year_costs]
