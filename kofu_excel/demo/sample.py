"""Filled sample workbooks with fictitious but plausible values (``kofu sample``).

Canonical values are drawn first from a generator seeded per municipality, so the same seed
gives the same numbers whether typed cleanly or ``--messy`` (full-width digits, 和暦, units):
a test can compare the two. ``--errors`` injects one known error per workbook and records it.
"""

from __future__ import annotations

import json
import math
import random
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from kofu_excel import forms, periods
from kofu_excel.refdata import Master, Municipality, Schedule, load_schedule
from kofu_excel.write.atomic import write_atomic
from kofu_excel.write.guard import refuse_different
from kofu_excel.write.template import file_name, workbook_bytes

FICTITIOUS_NOTE = "架空の数値です（kofu sample により生成）"
ONLY_R1 = forms.R1_ONLY_COSTS


def sample_population(muni: Municipality, seed: int) -> int:
    """A plausible population by municipality kind (the built-in master carries none)."""
    if muni.population:
        return muni.population
    rng = random.Random(zlib.crc32(f"{seed}:{muni.code}:pop".encode()))
    lo, hi = {"指定都市": (700_000, 3_700_000), "特別区": (60_000, 900_000), "市": (25_000, 450_000),
              "町": (2_500, 45_000), "村": (300, 9_000)}.get(muni.kind, (5_000, 50_000))
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def plan_values(muni: Municipality, schedule: Schedule, seed: int) -> dict[str, Any]:
    """Canonical plan values (catalog id → value) for one municipality."""
    rng = random.Random(zlib.crc32(f"{seed}:{muni.code}:plan".encode()))
    pop = sample_population(muni, seed)
    v: dict[str, Any] = {
        "basic.muni_code": muni.code, "basic.pref_name": muni.pref_name, "basic.muni_name": muni.name,
        "basic.department": rng.choice(["市民課", "住民課", "戸籍住民課", "市民窓口課", "町民課"]),
        "basic.contact_person": rng.choice(["交付 一郎", "番号 花子", "住基 次郎", "窓口 三郎"]),
        "basic.phone": f"0{rng.randint(11, 99)}-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
        "basic.email": f"kofu{muni.code}@example.lg.jp",
        "basic.population": pop,
        "basic.population_date": date(2019, 9, 30),
        "basic.plan_revision": "当初",
        "basic.issued_date": date(2019, 9, 30),
        "basic.promotion_body": rng.choice(["推進本部", "プロジェクトチーム", "その他"]),
        "basic.promotion_since": date(2019, rng.choice([9, 10, 11]), 1),
        "basic.submitted_on": date(2019, 12, rng.randint(2, 20)),
    }
    issued0 = int(pop * rng.uniform(0.10, 0.17))
    v["basic.issued_to_date"] = issued0
    # Forecast: follow the schedule's milestones with a municipality-specific factor; about one
    # in six falls clearly short (what review R1 is for).
    factor = rng.uniform(0.55, 0.8) if rng.random() < 1 / 6 else rng.uniform(0.97, 1.0)
    months = periods.months()
    targets = {m.month: min(pop, int(schedule.benchmark(pop, m.month) * factor)) for m in schedule.milestones}
    # Most plans front-load towards July 2020 as the notice asks (第2-1); the rest follow the
    # schedule's own pace and get the R102 note.
    if rng.random() > 1 / 6 and {"2020-07", "2021-03"} <= targets.keys():
        targets["2020-07"] = max(targets["2020-07"], issued0 + int(0.55 * (targets["2021-03"] - issued0)))
    prev_m, prev_cum = None, issued0
    cum_at: dict[str, int] = {}
    for m in sorted(targets):
        span = [k for k in months if (prev_m is None or k > prev_m) and k <= m]
        need = max(targets[m] - prev_cum, 0)
        weights = [1.0 + 0.3 * rng.random() for _ in span]
        total_w = sum(weights)
        acc = 0
        for i, k in enumerate(span):
            inc = need - acc if i == len(span) - 1 else int(need * weights[i] / total_w)
            acc += inc
            cum_at[k] = inc
        prev_m, prev_cum = m, prev_cum + need
    for k in months:
        v[f"forecast.planned_issued.{k}"] = cum_at.get(k, 0)
    # Capacity: terminals sized for the busiest quarter, mostly enough (R2 flags the rest).
    cards_per_q = {q: sum(cum_at.get(k, 0) for k in periods.quarter_months(q)) for q in periods.quarters()}
    enough = rng.random() > 1 / 6
    per_terminal_q = 20 * 58
    for q in periods.quarters():
        need_t = max(1, math.ceil(cards_per_q[q] * (1.3 if enough else 0.5) / per_terminal_q))
        v[f"capacity.terminals.{q}"] = need_t
        v[f"capacity.counters.{q}"] = max(1, math.ceil(need_t / 2))
        v[f"capacity.staff_regular.{q}"] = need_t + rng.randint(0, 3) if enough else max(1, need_t // 2)
        v[f"capacity.staff_temporary.{q}"] = rng.randint(0, 2) if enough else 0
        v[f"capacity.staff_contractor.{q}"] = rng.randint(0, 4)
        v[f"capacity.weekend_days.{q}"] = rng.randint(0, 6)
        v[f"capacity.evening_days.{q}"] = rng.randint(0, 12)
    if not enough:
        # Staff cover the terminals so this municipality is flagged for capacity only.
        for q in periods.quarters():
            v[f"capacity.staff_regular.{q}"] = v[f"capacity.terminals.{q}"]
    # Methods.
    late = rng.random() < 1 / 6
    for key, _label in forms.METHOD_ROWS:
        status = rng.choice(["実施済", "実施済", "実施予定"])
        if late and key in ("visit_apply", "outreach"):
            status = "検討中"
        if key == "other_residents":
            status = rng.choice(["実施済", "予定なし"])
        v[f"methods.status.{key}"] = status
        if status in ("実施済", "実施予定"):
            v[f"methods.start.{key}"] = date(2019 if status == "実施済" else 2020,
                                             rng.choice([4, 7, 10]) if status == "実施済" else rng.choice([1, 2, 3]), 1)
        if key in ("outreach", "apply_support", "outreach_company"):
            v[f"methods.volume.{key}"] = int(pop * rng.uniform(0.002, 0.02))
    v["methods.status.restricted_mail"] = "実施済"
    v["methods.start.restricted_mail"] = date(2019, 10, 1)
    # Costs (yen).
    for key, _label in forms.COST_ROWS:
        for fy in ("FY2019", "FY2020"):
            amount = 0 if (fy == "FY2020" and key in ONLY_R1) else rng.choice([0, 1, 2, 3]) * int(pop * rng.uniform(1, 20))
            v[f"costs.{key}.{fy}"] = amount
    v["costs.travel.FY2019"] = max(v["costs.travel.FY2019"], 10_000)
    v["costs.terminal_lease.FY2020"] = max(v["costs.terminal_lease.FY2020"], 100_000)
    for key, _label in forms.PUBLICITY_ROWS:
        v[f"publicity.status.{key}"] = rng.choice(["実施済", "実施予定"])
    v["mykey.desk_near_counter"] = rng.choice(["設置済", "設置予定"])
    v["mykey.facility_support"] = rng.choice(["実施予定", "予定なし"])
    v["mykey.support_terminals"] = rng.randint(1, 5)
    v["mykey.start"] = date(2020, rng.choice([4, 7]), 1)
    return v


def monthly_values(muni: Municipality, schedule: Schedule, seed: int, report_month: str) -> dict[str, Any]:
    """Canonical monthly-report values that follow the municipality's own sample plan.

    Flows are built from running totals that keep the pipeline order (applications ≥ delivered
    ≥ setup ≥ notices, setup ≥ issued). Most municipalities issue close to plan with under a
    month of cards waiting; about one in five is slow: cards pile up (F101) and issuance falls
    below plan (F102).
    """
    rng = random.Random(zlib.crc32(f"{seed}:{muni.code}:monthly".encode()))
    plan = plan_values(muni, schedule, seed)
    v: dict[str, Any] = {
        "basic.muni_code": muni.code, "basic.pref_name": muni.pref_name, "basic.muni_name": muni.name,
        "basic.department": plan["basic.department"], "basic.contact_person": plan["basic.contact_person"],
        "basic.phone": plan["basic.phone"], "basic.email": plan["basic.email"],
        "basic.report_month": periods.month_date(report_month),
        "basic.submitted_on": periods.month_date(periods.add_months(report_month, 1)).replace(day=10),
    }
    slow = rng.random() < 1 / 5
    cum = dict.fromkeys(("applications", "delivered", "setup", "notices", "issued"), 0)
    for m in periods.months():
        if m > report_month:
            break
        planned = plan[f"forecast.planned_issued.{m}"]
        issued_m = int(planned * (rng.uniform(0.4, 0.6) if slow else rng.uniform(0.88, 1.05)))
        i = cum["issued"] + issued_m
        waiting = int(max(issued_m, 1) * (rng.uniform(2.0, 3.0) if slow else rng.uniform(0.1, 0.4)))
        s = max(cum["setup"], i + waiting)
        d = max(cum["delivered"], s + int(issued_m * rng.uniform(0.0, 0.1)))
        a = max(cum["applications"], int(d * rng.uniform(1.05, 1.15)))
        n = max(cum["notices"], int(s * rng.uniform(0.85, 0.95)))
        new = {"applications": a, "delivered": d, "setup": s, "notices": n, "issued": i}
        for f, total in new.items():
            v[f"actuals.{f}.{m}"] = total - cum[f]
        cum = new
    return v


# --- typing values the messy way -------------------------------------------------------------
FW = str.maketrans("0123456789,-/.", "０１２３４５６７８９，－／．")


def _messy(entry: forms.CatalogEntry, value: Any, rng: random.Random) -> Any:
    """Type a canonical value as a person might; the normaliser must read it back exactly."""
    if value is None:
        return None
    t = entry.type
    if t in ("int", "yen") and isinstance(value, int):
        unit = {"int": entry.unit or "件", "yen": "円"}[t]
        return rng.choice([
            f"{value:,}".translate(FW), f"{value:,}{unit}", str(value), f" {value} ", f"{value}.0",
            value, f"{value:,}",
        ])
    if t == "month" and isinstance(value, date):
        key = periods.month_key(value)
        return rng.choice([periods.wareki_month(key), f"R{value.year - 2018}.{value.month}"
                           if value >= date(2019, 5, 1) else f"{value.year}/{value.month}",
                           f"{value.year}/{value.month}", f"{value.year}年{value.month}月", value,
                           periods.wareki_month(key).translate(FW)])
    if t == "date" and isinstance(value, date):
        return rng.choice([periods.wareki_date(value), f"{value.year}/{value.month}/{value.day}", value])
    if t == "phone" and isinstance(value, str):
        return value.translate(FW) if rng.random() < 0.5 else value
    return value


# Pre-filled identity cells are locked in the template: nobody retypes those.
_PREFILLED = ("basic.muni_code", "basic.pref_name", "basic.muni_name")


def _typed_by_hand(cid: str) -> bool:
    return cid not in _PREFILLED


# --- injected errors -------------------------------------------------------------------------


@dataclass(frozen=True)
class Injected:
    file: str
    muni_code: str
    code: str
    field: str  # catalog id of the cell where the error is reported
    value: Any

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "muni_code": self.muni_code, "code": self.code,
                "field": self.field, "value": self.value if not isinstance(self.value, date) else self.value.isoformat()}


def _inject(kind: str, v: dict[str, Any], rng: random.Random, report_month: str) -> tuple[str, str, Any]:
    """Change one value so that exactly one known error appears; return (code, field, value)."""
    if kind == "plan":
        month = rng.choice(periods.months()[3:20])
        choices = [
            ("E203", f"forecast.planned_issued.{month}", "▲100"),
            ("E202", f"forecast.planned_issued.{month}", "約100"),
            ("E201", "basic.department", None),
            ("E204", "methods.status.outreach", "やる"),
            ("E303", "costs.tablets.FY2020", 50_000),
            ("E209", "basic.email", "kofu-at-example"),
            ("E308", "methods.start.visit_apply", None),
            ("E301", f"forecast.planned_issued.{periods.LAST_MONTH}", None),
        ]
        code, fid, value = rng.choice(choices)
        if code == "E308":
            v["methods.status.visit_apply"] = "実施済"
        if code == "E301":
            cum = v["basic.issued_to_date"] + sum(v[f"forecast.planned_issued.{m}"] for m in periods.months())
            value = v[fid] + (v["basic.population"] - cum) + 1000
    else:
        months = [m for m in periods.months() if m <= report_month]
        later = periods.add_months(report_month, 1)
        choices = [
            ("E304", f"actuals.setup.{months[-1]}", None),
            ("E305", f"actuals.issued.{later}", 10),
            # notices and issued: a blank or negative there cannot break the cumulative order
            ("E306", f"actuals.notices.{months[len(months) // 2]}", None),
            ("E203", f"actuals.issued.{months[1]}", "△5"),
        ]
        code, fid, value = rng.choice(choices)
        if code == "E304":
            cum_d = sum(v[f"actuals.delivered.{m}"] for m in months)
            cum_s = sum(v[f"actuals.setup.{m}"] for m in months)
            value = v[fid] + (cum_d - cum_s) + 50
    v[fid] = value
    return code, fid, value


@dataclass
class SampleResult:
    kind: str
    files: list[Path] = field(default_factory=list)
    injected: list[Injected] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "note": FICTITIOUS_NOTE, "files": [str(p) for p in self.files],
                "injected": [i.to_json() for i in self.injected]}


def sample_values(kind: str, muni: Municipality, schedule: Schedule, seed: int,
                  report_month: str = "2020-03") -> dict[str, Any]:
    return plan_values(muni, schedule, seed) if kind == "plan" else monthly_values(muni, schedule, seed, report_month)


def make_samples(
    kind: str,
    out_dir: str | Path,
    master: Master,
    schedule: Schedule | None = None,
    count: int | None = None,
    pref: str | None = None,
    munis: Iterable[str] = (),
    seed: int = 2019,
    messy: bool = False,
    errors: bool = False,
    report_month: str = "2020-03",
    force: bool = False,
) -> SampleResult:
    schedule = schedule or load_schedule(None)
    targets = master.select(pref=pref, munis=list(munis) or None)
    if count is not None:
        targets = targets[:count]
    by_id = {e.id: e for e in forms.catalog(kind)}
    result = SampleResult(kind)
    out = Path(out_dir)
    planned: list[tuple[Path, bytes]] = []
    for muni in targets:
        pop = sample_population(muni, seed)
        muni_p = replace(muni, population=pop) if kind == "plan" and not muni.population else muni
        values = sample_values(kind, muni_p, schedule, seed, report_month)
        rng = random.Random(zlib.crc32(f"{seed}:{muni.code}:typing".encode()))
        if errors:
            code, fid, value = _inject(kind, values, rng, report_month)
        if messy:
            values = {k: _messy(by_id[k], x, rng) if _typed_by_hand(k) else x
                      for k, x in values.items()}
        path = out / file_name(kind, muni)
        planned.append((path, workbook_bytes(kind, muni_p, values=values, schedule=schedule)))
        if errors:
            result.injected.append(Injected(path.name, muni.code, code, fid, value))
    if errors:
        planned.append((out / "injected.json", json.dumps([i.to_json() for i in result.injected],
                                                          ensure_ascii=False, indent=1,
                                                          allow_nan=False).encode()))
    # A municipality's filled return may carry the standard name: nothing is replaced unless it
    # holds exactly these bytes, or ``force`` (E901 before the first file is written).
    refuse_different([(path, (lambda d=data: d)) for path, data in planned], force, "--force")
    for path, data in planned:
        write_atomic(path, data)
        if path.name != "injected.json" or not errors:
            result.files.append(path)
    return result
