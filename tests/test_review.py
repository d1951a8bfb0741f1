"""Review findings (第4-1 advice on the plan, 第4-2 monthly follow-up): kofu_excel.review."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kofu_excel import forms, periods
from kofu_excel.demo.sample import monthly_values, plan_values, sample_population
from kofu_excel.findings import CODES
from kofu_excel.refdata import load_config, working_days
from kofu_excel.review import CHECKS, kind_of, review

CODE = "012025"  # 函館市
POP = 100_000
ISSUED0 = 15_000
PER_MONTH = 2_000  # on schedule at every milestone, and front-loaded (20,000 of 36,000 by July 2020)
TERMINALS = 6


def clean_plan(code: str = CODE) -> dict[str, Any]:
    """A plan that passes every review check (worked out by hand, see the constants)."""
    v: dict[str, Any] = {
        "basic.muni_code": code, "basic.population": POP, "basic.issued_to_date": ISSUED0,
    }
    for m in periods.months():
        v[f"forecast.planned_issued.{m}"] = PER_MONTH
    for q in periods.quarters():
        v |= {f"capacity.terminals.{q}": TERMINALS, f"capacity.counters.{q}": 3,
              f"capacity.staff_regular.{q}": TERMINALS, f"capacity.staff_temporary.{q}": 1,
              f"capacity.staff_contractor.{q}": 0, f"capacity.weekend_days.{q}": 0,
              f"capacity.evening_days.{q}": 0}
    for key, _label in forms.METHOD_ROWS:
        v[f"methods.status.{key}"] = "実施済"
        v[f"methods.start.{key}"] = date(2019, 10, 1)
    for key, _label in forms.COST_ROWS:
        v[f"costs.{key}.FY2019"] = 100_000
        v[f"costs.{key}.FY2020"] = 0 if key in forms.R1_ONLY_COSTS else 100_000
    return v


def clean_monthly(code: str = CODE, report_month: str = "2020-03", delivered: int = 1_900,
                  issued: int = 1_900) -> dict[str, Any]:
    v: dict[str, Any] = {"basic.muni_code": code,
                         "basic.report_month": periods.month_date(report_month)}
    for m in periods.months(periods.FIRST_MONTH, report_month):
        v |= {f"actuals.applications.{m}": delivered + 100, f"actuals.delivered.{m}": delivered,
              f"actuals.setup.{m}": delivered, f"actuals.notices.{m}": delivered,
              f"actuals.issued.{m}": issued}
    return v


@pytest.fixture(scope="module")
def config():
    return load_config(None)


def run(master, schedule, config, plan=None, monthly=None, **kw):
    return review({CODE: plan} if plan is not None else {},
                  {CODE: monthly} if monthly is not None else {}, master, schedule, config, **kw)


def only(findings, code):
    hits = [f for f in findings if f.code == code]
    return hits


def cell_of(kind: str, cid: str) -> tuple[str, str]:
    e = {x.id: x for x in forms.catalog(kind)}[cid]
    return e.sheet, e.cell


def test_compliant_municipality_has_no_findings(master, schedule, config):
    assert run(master, schedule, config, clean_plan(), clean_monthly(), scope=[CODE]) == []


def test_forecast_below_schedule_gets_R101_with_milestone_and_shortfall(master, schedule, config):
    plan = clean_plan()
    for m in periods.months(periods.FIRST_MONTH, "2020-07"):
        plan[f"forecast.planned_issued.{m}"] = 500
    found = only(run(master, schedule, config, plan), "R101")
    # 15,000 short from July 2020 on: every milestone, each named with its own shortfall
    assert [f.figures["milestone"] for f in found] == ["2020-07", "2021-03", "2022-03", "2023-03"]
    f = found[0]
    bench = schedule.benchmark(POP, "2020-07")
    cumulative = ISSUED0 + 10 * 500
    assert bench == round(POP * 30_000_000 / 127_138_033)
    assert (f.severity, f.check) == ("advise", "第4-1(1)")
    assert f.figures["found"] == cumulative == f.value
    assert f.figures["expected"] == bench
    assert f.figures["shortfall"] == bench - cumulative
    assert f.figures["threshold"] == pytest.approx(bench * 0.95)
    assert f.field == "forecast.planned_issued.2020-07"
    assert (f.sheet, f.cell) == cell_of("plan", f.field)
    assert f.message.startswith(
        f"令和2年7月末の交付枚数（累計）の想定 {cumulative:,} 枚")
    assert f"目安 {bench:,} 枚を {bench - cumulative:,} 枚下回っています。" in f.message
    # within the tolerance: no finding
    plan2 = clean_plan()
    plan2["forecast.planned_issued.2019-10"] = PER_MONTH - 1
    assert only(run(master, schedule, config, plan2), "R101") == []


def test_front_loading_info_R102(master, schedule, config):
    plan = clean_plan()
    for m in periods.months(periods.FIRST_MONTH, "2021-03"):
        plan[f"forecast.planned_issued.{m}"] = 1_000 if m <= "2020-07" else 3_500
    (f,) = only(run(master, schedule, config, plan), "R102")
    early, total = 10 * 1_000, 10 * 1_000 + 8 * 3_500
    assert f.severity == "info"
    assert f.figures["found"] == pytest.approx(early / total, abs=1e-4)
    assert f.figures["expected"] == f.figures["threshold"] == 0.5
    assert (f.figures["forecast_to_cutoff"], f.figures["forecast_total"]) == (early, total)
    assert "令和2年7月末までの想定は 10,000 枚（26.3%）" in f.message


def test_capacity_shortage_R201_states_quarter_and_figures(master, schedule, config):
    plan = clean_plan()
    plan |= {"capacity.terminals.2020Q2": 1, "capacity.weekend_days.2020Q2": 4,
             "capacity.evening_days.2020Q2": 8, "capacity.terminals.2020Q3": 5}
    (f,) = only(run(master, schedule, config, plan), "R201")
    # by hand: 1 terminal × 20 cards × (weekdays less holidays + 4 weekend days + 8 × 0.25)
    capacity = 1 * 20 * (working_days("2020Q2") + 4 + 0.25 * 8)
    demand = 3 * PER_MONTH + 0.1 * ISSUED0 / 4
    assert working_days("2020Q2") == 61  # 65 weekdays less 昭和の日, 憲法記念日…こどもの日の振替
    assert f.figures["quarter"] == "2020Q2"
    assert f.figures["quarters"] == ["2020Q2", "2020Q3"]
    assert f.figures["expected"] == pytest.approx(capacity) == f.figures["threshold"]
    assert f.figures["found"] == pytest.approx(demand)
    assert f.figures["renewal"] == pytest.approx(375)
    assert f.figures["ratio"] == pytest.approx(demand / capacity, rel=1e-3)
    assert f.figures["needed_terminals"] == math.ceil(demand / (20 * (61 + 4 + 2)))
    assert f.severity == "urgent"  # 4.8× the capacity, above urgent_ratio 1.5
    assert f.field == "capacity.terminals.2020Q2"
    assert "令和2年度第1四半期（4～6月）" in f.message and f"{round(capacity):,} 枚" in f.message
    assert "令和2年度第1四半期～令和2年度第2四半期" in f.message
    # only the mild shortage left: advise, not urgent
    plan["capacity.terminals.2020Q2"] = TERMINALS
    (f,) = only(run(master, schedule, config, plan), "R201")
    assert (f.severity, f.figures["quarter"]) == ("advise", "2020Q3")
    assert f.figures["expected"] == pytest.approx(5 * 20 * working_days("2020Q3"))
    # renewals only from January 2020: the same forecast in 2019Q4 fits 6 terminals exactly
    assert f.figures["quarters"] == ["2020Q3"]


def test_terminals_beyond_staff_R202(master, schedule, config):
    plan = clean_plan()
    plan |= {"capacity.staff_regular.2021Q1": 3, "capacity.staff_temporary.2021Q1": 1,
             "capacity.staff_regular.2021Q2": 4, "capacity.staff_temporary.2021Q2": 1}
    (f,) = only(run(master, schedule, config, plan), "R202")
    assert (f.severity, f.check) == ("advise", "第4-1(2)")
    assert f.figures["quarter"] == "2021Q1" and f.figures["quarters"] == ["2021Q1", "2021Q2"]
    assert (f.figures["found"], f.figures["expected"], f.figures["shortfall"]) == (4, 6, 2)
    assert "統合端末 6 台に対し" in f.message and "2 人不足" in f.message


def test_visit_apply_late_R301(master, schedule, config):
    plan = clean_plan()
    plan |= {"methods.status.visit_apply": "実施予定", "methods.start.visit_apply": date(2020, 7, 1),
             "methods.status.outreach": "検討中"}
    del plan["methods.start.outreach"]
    late, undecided = only(run(master, schedule, config, plan), "R301")
    assert late.field == "methods.start.visit_apply"
    assert (late.figures["found"], late.figures["expected"]) == ("2020-07", "2020-03")
    assert "申請時来庁方式の開始（予定）が令和2年7月" in late.message
    assert undecided.field == "methods.status.outreach"
    assert undecided.figures["found"] == "検討中" and "「検討中」" in undecided.message
    assert {late.severity, undecided.severity} == {"advise"}
    # starting in the deadline month is in time
    plan |= {"methods.start.visit_apply": date(2020, 3, 1), "methods.status.outreach": "実施済",
             "methods.start.outreach": date(2019, 12, 1)}
    assert only(run(master, schedule, config, plan), "R301") == []


def test_other_residents_without_restricted_mail_R302(master, schedule, config):
    plan = clean_plan()
    plan["methods.status.restricted_mail"] = "予定なし"
    (f,) = only(run(master, schedule, config, plan), "R302")
    assert (f.severity, f.check, f.field) == ("advise", "第4-1(3)", "methods.status.restricted_mail")
    plan["methods.status.other_residents"] = "予定なし"
    assert only(run(master, schedule, config, plan), "R302") == []


def test_costs_R401_R402_R403(master, schedule, config):
    plan = clean_plan()
    plan |= {"costs.travel.FY2019": 0, "costs.travel.FY2020": 0}
    assert [f.code for f in run(master, schedule, config, plan)] == ["R401"]

    plan = clean_plan()
    plan |= {"costs.terminal_lease.FY2019": 0, "costs.terminal_lease.FY2020": 0}
    assert run(master, schedule, config, plan) == []  # same terminals throughout: no lease needed
    for q in periods.quarters():
        if q >= "2020Q3":
            plan[f"capacity.terminals.{q}"] = 8
            plan[f"capacity.staff_regular.{q}"] = 8
    (f,) = run(master, schedule, config, plan)
    assert f.code == "R402"
    assert (f.figures["terminals_first"], f.figures["peak_quarter"], f.figures["terminals_peak"]) == (
        6, "2020Q3", 8)
    plan["costs.terminal_lease.FY2020"] = 500_000
    assert run(master, schedule, config, plan) == []
    # terminals added after the years the cost estimate covers need no lease there
    plan = clean_plan()
    plan |= {"costs.terminal_lease.FY2019": 0, "costs.terminal_lease.FY2020": 0,
             "capacity.terminals.2022Q2": 8, "capacity.staff_regular.2022Q2": 8}
    assert run(master, schedule, config, plan) == []

    plan = clean_plan()
    for key, _label in forms.COST_ROWS:
        plan[f"costs.{key}.FY2019"] = plan[f"costs.{key}.FY2020"] = 0
    codes = [f.code for f in run(master, schedule, config, plan)]
    assert codes == ["R401", "R403"]
    (f,) = only(run(master, schedule, config, plan), "R403")
    assert (f.check, f.figures["found"], f.figures["threshold"]) == ("第4-1(4)", 0, 0)


def test_backlog_urgent_F101(master, schedule, config):
    monthly = clean_monthly(delivered=3_000, issued=1_500)
    (f,) = only(run(master, schedule, config, None, monthly), "F101")
    assert (f.severity, f.check) == ("urgent", "第4-2")
    assert f.figures["found"] == 6 * 1_500  # delivered 18,000 − issued 9,000
    assert f.figures["mean_issued_recent"] == 1_500
    assert f.figures["threshold"] == 1_500 and f.figures["months_of_backlog"] == 6.0
    assert f.figures["recent_months"] == ["2020-01", "2020-02", "2020-03"]
    assert f.field == "actuals.issued.2020-03"
    assert (f.sheet, f.cell) == cell_of("monthly", f.field)
    assert "交付待ちのカードが 9,000 枚滞留しています" in f.message
    # less than a month's issuance waiting: fine
    monthly = clean_monthly(delivered=1_650, issued=1_500)
    assert only(run(master, schedule, config, None, monthly), "F101") == []


def test_actuals_below_plan_F102(master, schedule, config):
    monthly = clean_monthly(delivered=1_000, issued=1_000)
    (f,) = only(run(master, schedule, config, clean_plan(), monthly), "F102")
    assert f.severity == "advise"
    assert (f.figures["found"], f.figures["expected"]) == (6_000, 6 * PER_MONTH)
    assert f.figures["threshold"] == pytest.approx(0.8 * 12_000)
    assert "令和元年10月～令和2年3月の交付数の累計 6,000 枚は、計画の想定 12,000 枚の 50.0%" in f.message
    assert only(run(master, schedule, config, None, monthly), "F102") == []  # no plan: no comparison


def test_missing_monthly_F103(master, schedule, config):
    a, b, c = "011002", "012025", "012033"
    monthlies = {a: clean_monthly(a, "2020-03"), b: clean_monthly(b, "2020-01")}
    found = review({}, monthlies, master, schedule, config, scope=[a, b, c])
    f103 = only(found, "F103")
    assert [f.muni_code for f in f103] == [b, c]
    late, none = f103
    assert late.severity == none.severity == "advise"
    assert (late.figures["found"], late.figures["expected"]) == ("2020-01", "2020-03")
    assert "令和2年1月分" in late.message and "令和2年3月分の実績報告が提出されていません" in late.message
    assert none.message == "令和2年3月分の実績報告が提出されていません。"
    assert none.sheet == "" and late.field == "basic.report_month"
    later = review({}, monthlies, master, schedule, config, scope=[a, b, c], latest_month="2020-04")
    assert [f.muni_code for f in only(later, "F103")] == [a, b, c]
    # outside the scope: nobody expects a report
    assert only(review({}, monthlies, master, schedule, config, scope=[a]), "F103") == []


def test_config_overrides_threshold(master, schedule, config, tmp_path: Path):
    plan = clean_plan()
    for m in periods.months(periods.FIRST_MONTH, "2020-07"):
        plan[f"forecast.planned_issued.{m}"] = 500  # 20,000 by July 2020: 15% short
    monthly = clean_monthly(delivered=3_000, issued=1_500)
    before = {f.code for f in run(master, schedule, config, plan, monthly)}
    assert {"R101", "F101"} <= before
    path = tmp_path / "review.toml"
    path.write_text("[r1]\ntol = 0.2\n[f1]\nbacklog_months = 10\n[r2]\ncards_per_terminal_day = 5\n",
                    encoding="utf-8")
    loose = load_config(path)
    after = run(master, schedule, loose, plan, monthly)
    assert not only(after, "F101")
    assert [f.figures["milestone"] for f in only(after, "R101")] == ["2021-03"]  # 23.7% short there
    (f,) = [f for f in after if f.code == "R201"][:1]  # 5 cards a terminal-day: far too few
    assert f.figures["cards_per_terminal_day"] == 5


def test_every_finding_carries_found_expected_threshold(master, schedule, config):
    """Sample municipalities: every finding is checkable by hand and points at a real cell."""
    plans, monthlies = {}, {}
    for muni in master.municipalities[:40]:
        m = replace(muni, population=sample_population(muni, 2019))
        plans[m.code] = plan_values(m, schedule, 2019)
        monthlies[m.code] = monthly_values(m, schedule, 2019, "2020-03")
    found = review(plans, monthlies, master, schedule, config, scope=list(plans))
    assert {"R101", "R102", "R201", "R301", "F101", "F102"} <= {f.code for f in found}
    catalog = {k: {e.id: e for e in forms.catalog(k)} for k in forms.KINDS}
    for f in found:
        assert f.code in CODES and f.check == CHECKS[f.code]
        assert {"found", "expected", "threshold"} <= set(f.figures), f
        assert f.severity in ("info", "advise", "urgent")
        if f.field:
            e = catalog[kind_of(f.code)][f.field]
            assert (f.sheet, f.cell) == (e.sheet, e.cell)
    assert found == sorted(found, key=lambda f: f.muni_code)
    assert review(plans, monthlies, master, schedule, config, scope=list(plans)) == found
