"""kofu-merge as a library: totals, the summary's sheets and their contract, safety, round trips."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from conftest import convert

from kofu_excel import forms, periods
from kofu_excel.contract import (
    DATA_COLUMNS,
    FINDINGS_COLUMNS,
    INTAKE_COLUMNS,
    MISSING_COLUMNS,
)
from kofu_excel.contract import SUMMARY_SHEETS as SHEETS
from kofu_excel.demo.sample import sample_population, sample_values
from kofu_excel.findings import KofuError
from kofu_excel.merge import merge
from kofu_excel.model import NA, BatchOptions
from kofu_excel.refdata import Municipality
from kofu_excel.summary.model import tidy_index
from kofu_excel.write.template import file_name, workbook_bytes

PREF = "31"  # 鳥取県: 19 municipalities
SEED = 2019
REMOVED = ("313025", "313645", "314030")  # 岩美町, 三朝町, 日南町: never sent a workbook


# --- helpers ------------------------------------------------------------------------------------


def canonical(muni: Municipality, schedule: Any, kind: str = "plan") -> dict[str, Any]:
    """The values kofu sample wrote for this municipality (population as make_samples fills it)."""
    if kind == "plan" and not muni.population:
        muni = replace(muni, population=sample_population(muni, SEED))
    return sample_values(kind, muni, schedule, SEED)


def write_workbook(path: Path, muni: Municipality, values: dict[str, Any], schedule: Any) -> Path:
    muni_p = replace(muni, population=values.get("basic.population") or muni.population)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(workbook_bytes("plan", muni_p, values=values, schedule=schedule))
    return path


def sheet_rows(path: Path, sheet: str) -> list[tuple[Any, ...]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return [tuple(r) for r in wb[sheet].iter_rows(values_only=True)]
    finally:
        wb.close()


def is_stock_over_time(kind: str, e: forms.CatalogEntry) -> bool:
    """窓口数, 端末, 職員 by quarter: totalled per quarter over municipalities, shown at the peak."""
    return e.spec.stock and forms.FORMS[kind].table(e.table).over_time


def peak_or_sum(kind: str, per: dict[tuple[str, str], int]) -> dict[str, int]:
    """(table.field, period) → Σ  ⇒  table.field → Σ over periods, or the peak period's Σ for a
    stock by quarter (never summed over time)."""
    stocks = {f"{e.table}.{e.spec.id}" for e in forms.catalog(kind) if is_stock_over_time(kind, e)}
    out: dict[str, int] = {}
    for (key, _period), v in per.items():
        out[key] = max(out.get(key, 0), v) if key in stocks else out.get(key, 0) + v
    return out


def data_sums(rows: list[tuple[Any, ...]]) -> dict[str, dict[str, int]]:
    """The totals of the numeric データ values per kind and ``table.field`` (the field from the
    catalog): summed, but a stock by quarter at its peak quarter."""
    field_of = {kind: {key: f"{e.table}.{e.spec.id}" for e in forms.catalog(kind)
                       for cid, key in tidy_index(kind).items() if cid == e.id}
                for kind in ("plan", "monthly")}
    per: dict[str, dict[tuple[str, str], int]] = {"plan": {}, "monthly": {}}
    for _code, kind, table, item, period, value in rows[1:]:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            key = (field_of[kind][(table, item, period or "")], period or "")
            per[kind][key] = per[kind].get(key, 0) + value
    return {kind: peak_or_sum(kind, p) for kind, p in per.items()}


def expected_sums(books: list[dict[str, Any]], kind: str = "plan") -> dict[str, int]:
    per: dict[tuple[str, str], int] = {}
    for e in forms.catalog(kind):
        if not e.spec.numeric:
            continue
        key = (f"{e.table}.{e.spec.id}", e.row or "")
        per.setdefault(key, 0)
        for v in books:
            x = v.get(e.id)
            if isinstance(x, int) and not isinstance(x, bool):
                per[key] += x
    return peak_or_sum(kind, per)


def as_data_value(v: Any) -> Any:
    """A canonical value as データ holds it."""
    if v is NA:
        return "－"
    if isinstance(v, date):
        return v.isoformat()
    return v


@pytest.fixture(scope="module")
def inbox(tmp_path_factory, make_sample, master, schedule) -> dict[str, Any]:
    """鳥取県's inbox: 16 clean plans, an invalid one, a revised resubmission and a byte copy."""
    root = tmp_path_factory.mktemp("inbox31")
    clean = make_sample("plan", pref=PREF)
    bad = make_sample("plan", pref=PREF, errors=True)
    for p in clean.files:
        if not p.name.startswith(REMOVED):
            shutil.copy(p, root / p.name)
    # A municipality that sent only an invalid workbook: rejected, and listed as missing.
    bad_file = next(p for p in bad.files if p.name.startswith(REMOVED[0]))
    shutil.copy(bad_file, root / ("再提出待ち_" + bad_file.name))
    # 米子市 revises its plan: 改訂1 supersedes 当初, with other numbers.
    yonago = master.by_code["312029"]
    revised = canonical(yonago, schedule)
    revised["basic.plan_revision"] = "改訂1"
    revised["forecast.planned_issued.2020-04"] -= 123  # fewer: the cumulative stays ≤ population
    revised["costs.overtime.FY2020"] += 5678
    write_workbook(root / "改訂" / file_name("plan", yonago), yonago, revised, schedule)
    # 鳥取市 mailed the same file twice.
    tottori = next(p for p in clean.files if p.name.startswith("312011"))
    (root / "再送").mkdir()
    shutil.copy(tottori, root / "再送" / tottori.name)

    accepted = {}
    for m in master.select(pref=PREF):
        if m.code not in REMOVED:
            accepted[m.code] = revised if m.code == "312029" else canonical(m, schedule)
    out = tmp_path_factory.mktemp("out31") / "鳥取県とりまとめ.xlsx"
    result = merge([root], out, BatchOptions(master=master), schedule=schedule)
    return {"root": root, "out": out, "result": result, "accepted": accepted,
            "n_files": len(list(p for p in root.rglob("*") if p.is_file()))}


# --- totals and contents -------------------------------------------------------------------------


def test_prefecture_merge_totals_equal_generated_numbers(inbox):
    result, out, accepted = inbox["result"], inbox["out"], inbox["accepted"]
    assert result.exit_code == 1  # written, but one input was rejected
    assert result.output == out and out.exists()
    assert result.pref_code == PREF

    statuses = [it.status for it in result.items]
    assert len(result.items) == inbox["n_files"]
    assert statuses.count("rejected") == 1
    assert statuses.count("superseded") == 1
    assert statuses.count("duplicate") == 1
    assert statuses.count("accepted") == len(accepted) == 16

    expected = expected_sums(list(accepted.values()))
    assert result.totals["plan"] == expected
    assert result.totals["status"]["accepted"] == 16
    assert result.totals["submitted"]["plan"] == {"submitted": 16, "municipalities": 19}

    # データ holds every accepted value exactly, and its sums are the generated numbers.
    rows = sheet_rows(out, "データ")
    assert rows[0] == DATA_COLUMNS
    assert {**dict.fromkeys(expected, 0), **data_sums(rows)["plan"]} == expected
    got: dict[str, dict[tuple[str, str, str], Any]] = {}
    for code, kind, table, item, period, value in rows[1:]:
        assert kind == "plan" and isinstance(code, str) and len(code) == 6
        got.setdefault(code, {})[(table, item, period or "")] = value
    assert set(got) == set(accepted)
    index = tidy_index("plan")
    for code, values in accepted.items():
        want = {index[cid]: as_data_value(v) for cid, v in values.items() if v is not None}
        assert got[code] == want, code
    # Sorted deterministically: by code, then the form's order.
    codes = [r[0] for r in rows[1:]]
    assert codes == sorted(codes)

    # 未提出 is exactly the municipalities that sent no acceptable plan.
    missing = sheet_rows(out, "未提出")
    assert [r[0] for r in missing[1:]] == sorted(REMOVED)
    assert {r[4] for r in missing[1:]} == {"plan"}
    assert result.missing == sorted(REMOVED)

    # Every input is in 取込記録 exactly once, with its Japanese status.
    log = sheet_rows(out, "取込記録")
    assert log[0] == INTAKE_COLUMNS
    assert sorted((r[0], r[1] or "") for r in log[1:]) == sorted((it.path, it.member) for it in result.items)
    assert sorted(r[4] for r in log[1:]) == sorted(
        {"accepted": "受理", "rejected": "不受理", "superseded": "差替え済", "duplicate": "重複"}[s]
        for s in statuses)


def test_overview_never_sums_stocks_over_time(inbox):
    """窓口数, 端末, 職員 by quarter: 合計 shows the peak quarter's total over municipalities, says
    so, and a per-quarter table shows every quarter; flows (cards, yen) are summed and say so."""
    accepted = list(inbox["accepted"].values())
    ws = openpyxl.load_workbook(inbox["out"])["概要"]
    rows = [tuple(c.value for c in r[:6]) for r in ws.iter_rows()]
    totals = {r[1]: r[2] for r in rows if r[0] == "交付円滑化計画" and isinstance(r[1], str)}
    per_quarter = {q: sum(v[f"capacity.counters.{q}"] for v in accepted) for q in periods.quarters()}
    peak_q = max(per_quarter, key=lambda q: (per_quarter[q], -periods.quarters().index(q)))
    (label,) = [k for k in totals if k.startswith("交付体制：窓口数")]
    assert totals[label] == per_quarter[peak_q] < sum(per_quarter.values())
    assert label == f"交付体制：窓口数（最も多い四半期の全団体の計：{periods.quarter_label(peak_q)}）"
    assert inbox["result"].totals["peak"]["plan"]["capacity.counters"] == peak_q
    assert inbox["result"].totals["plan"]["capacity.counters"] == per_quarter[peak_q]
    # flows: summed over municipalities and months, and labelled so
    assert totals["交付枚数想定：交付枚数（想定）（全団体・全月の計）"] == sum(
        v[f"forecast.planned_issued.{m}"] for v in accepted for m in periods.months())
    assert totals["基本情報：住民基本台帳人口（全団体の計）"] == sum(v["basic.population"] for v in accepted)
    # the per-quarter table: one row per quarter, the counters column Σ over municipalities
    head = rows.index(next(r for r in rows if r[0] == "交付体制（四半期別・全団体の計）"))
    assert rows[head + 1][:3] == ("四半期", "窓口数", "統合端末台数")
    table = {r[0]: r[1] for r in rows[head + 2: head + 2 + len(periods.quarters())]}
    assert table == {periods.quarter_label(q): n for q, n in per_quarter.items()}
    # every stock field of the form is one of these: the nature comes from forms.py
    stocks = [f for f in forms.FORMS["plan"].table("capacity").fields if f.stock]
    assert [f.id for f in stocks] == ["counters", "terminals", "staff_regular", "staff_temporary",
                                      "staff_contractor"]
    assert all(any(k.startswith(f"交付体制：{f.label}（最も多い四半期の全団体の計") for k in totals)
               for f in stocks)


def test_municipality_list_and_table_sheets_agree_with_the_values(inbox, master, schedule):
    out, accepted = inbox["out"], inbox["accepted"]
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [*SHEETS, "_summary"]
    assert wb["_summary"].sheet_state == "hidden"
    meta = {r[0].value: r[1].value for r in wb["_summary"].iter_rows()}
    assert meta["kind"] == "summary" and meta["level"] == "prefecture" and meta["pref"] == PREF
    # The data date is the latest submission date, not the clock, and is labelled as such.
    latest = max(v["basic.submitted_on"] for v in accepted.values())
    overview = {r[0].value: r[1].value for r in wb["概要"].iter_rows(min_row=3, max_row=8) if r[0].value}
    assert overview["データの基準日（最新の提出日）"].date() == latest and "作成日" not in overview

    ws = wb["市町村別一覧"]
    header = [c.value for c in ws[1]]
    assert header[:13] == ["団体コード", "市区町村名", "計画の提出状況", "計画ファイル", "実績報告の提出状況",
                           "実績報告ファイル", "人口", "交付済枚数", "想定累計（令和5年3月末）",
                           "目安（令和5年3月末）", "実績累計交付数", "交付滞留", "エラー件数"]
    assert header[13:18] == ["第4-1(1)", "第4-1(2)", "第4-1(3)", "第4-1(4)", "第4-2"]
    rows = {r[0]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert len(rows) == 19
    assert rows[REMOVED[0]][2] == "不受理" and rows[REMOVED[0]][12] >= 1
    assert rows[REMOVED[1]][2] == "未提出"
    v = accepted["312029"]
    cum = v["basic.issued_to_date"] + sum(v[f"forecast.planned_issued.{m}"] for m in periods.months())
    assert rows["312029"][2] == "受理" and "改訂" in rows["312029"][3]
    assert rows["312029"][6] == v["basic.population"]
    assert rows["312029"][8] == cum
    assert rows["312029"][9] == schedule.benchmark(v["basic.population"], "2023-03")
    assert ws.freeze_panes == "C2" and ws.auto_filter.ref

    # The forecast matrix: the total row is the sum of the planned numbers.
    fm = list(wb["交付枚数想定"].iter_rows(values_only=True))
    total_row = fm[-1]
    assert total_row[1] == "合計"
    assert total_row[-1] == sum(sum(x[f"forecast.planned_issued.{m}"] for m in periods.months())
                                for x in accepted.values())
    costs = list(wb["補助対象経費"].iter_rows(values_only=True))
    assert costs[-1][-1] == sum(x[e.id] for x in accepted.values()
                                for e in forms.catalog("plan") if e.table == "costs")


def test_findings_sheet_header_contract(inbox):
    rows = sheet_rows(inbox["out"], "指摘事項")
    assert rows[0] == FINDINGS_COLUMNS
    body = rows[1:]
    assert body, "the invalid workbook and the review give findings"
    severities = {r[5] for r in body}
    assert severities <= {"エラー", "警告", "参考", "助言", "至急"}
    kinds = {r[3] for r in body}
    assert kinds <= {"交付円滑化計画", "実績報告", None}
    # The rejected workbook's error is there, with its file and cell.
    errors = [r for r in body if r[5] == "エラー"]
    assert any(r[0] == REMOVED[0] and r[8] and "再提出待ち_" in r[8] for r in errors)
    # Review findings carry the check and their numbers as JSON.
    review_rows = [r for r in body if r[4][:1] in ("R", "F")]
    assert review_rows and all(r[6] for r in review_rows)
    for r in review_rows:
        figures = json.loads(r[14])
        assert "found" in figures and "expected" in figures


def test_missing_sheet_header_contract(inbox):
    rows = sheet_rows(inbox["out"], "未提出")
    assert rows[0] == MISSING_COLUMNS
    for _code, pref_name, muni_name, label, kind in rows[1:]:
        assert pref_name == "鳥取県" and muni_name
        assert (label, kind) == ("交付円滑化計画", "plan")


# --- national -------------------------------------------------------------------------------------


def test_national_merge_of_two_prefectural_summaries_keeps_every_value(tmp_path, make_sample, master,
                                                                        schedule):
    summaries = tmp_path / "各県"
    summaries.mkdir()
    per_pref = {}
    for pref in ("31", "32"):
        res = merge(make_sample("plan", pref=pref).files[0].parent.glob("*.xlsx"),
                    summaries / f"{pref}_とりまとめ.xlsx", BatchOptions(master=master),
                    schedule=schedule)
        assert res.exit_code == 0
        per_pref[pref] = res
    out = tmp_path / "全国.xlsx"
    nat = merge([summaries], out, BatchOptions(master=master), schedule=schedule, level="national")
    assert nat.exit_code == 0
    assert [it.status for it in nat.items] == ["accepted", "accepted"]
    assert {it.muni_code for it in nat.items} == {"310000", "320005"}

    want = {**per_pref["31"].summary.values["plan"], **per_pref["32"].summary.values["plan"]}
    assert nat.summary is not None
    assert nat.summary.values["plan"] == want  # every value, with its canonical type
    assert nat.totals["plan"] == expected_sums(list(want.values()))
    # The データ sheets agree row for row.
    rows = sorted(sheet_rows(out, "データ")[1:])
    pref_rows = sorted(sheet_rows(summaries / "31_とりまとめ.xlsx", "データ")[1:]
                       + sheet_rows(summaries / "32_とりまとめ.xlsx", "データ")[1:])
    assert rows == pref_rows
    assert len(nat.missing) == len(master) - len(want)
    assert sheet_rows(out, "_summary")[1] == ("level", "national")


# --- the workbook as a file ------------------------------------------------------------------------


def test_summary_opens_in_libreoffice_and_has_charts(inbox, tmp_path):
    out = inbox["out"]
    names = zipfile.ZipFile(out).namelist()
    charts = [n for n in names if n.startswith("xl/charts/chart")]
    assert len(charts) == 2
    pdf = convert(out, "pdf", tmp_path)
    assert pdf.stat().st_size > 10_000
    assert pdf.read_bytes().startswith(b"%PDF")
    # Printing the whole workbook gives the sheets a person reads: データ (~6,700 rows here,
    # ~150 pages) prints its header only.
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
    assert 10 <= pages <= 30, pages


def test_printing_the_summary_gives_the_read_sheets_each_one_a4_page_wide(inbox):
    wb = openpyxl.load_workbook(inbox["out"])
    for ws in wb.worksheets:
        if ws.sheet_state == "hidden":
            continue
        assert ws.page_setup.paperSize == 9, ws.title  # A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.page_setup.fitToWidth in (None, 1), ws.title  # one page wide (1 is the default)
        assert ws.page_setup.fitToHeight == 0, ws.title  # as many pages down as it takes
    assert wb["データ"].print_area == "'データ'!$A$1:$F$1"  # the header: one page
    assert not any(wb[n].print_area for n in ("概要", "市町村別一覧", "指摘事項", "未提出"))
    # long text wraps inside its column instead of running off the page
    findings = wb["指摘事項"]
    assert findings.cell(2, 8).alignment.wrap_text and findings.cell(2, 15).alignment.wrap_text


def test_same_inputs_same_bytes(inbox, tmp_path, master, schedule):
    again = tmp_path / "again.xlsx"
    res = merge([inbox["root"]], again, BatchOptions(master=master), schedule=schedule)
    assert res.exit_code == inbox["result"].exit_code
    assert again.read_bytes() == inbox["out"].read_bytes()


def test_input_text_never_formula_in_summary(tmp_path, master, schedule):
    texts = ['=HYPERLINK("http://x")', "@SUM(1)", "-1+2", "＝1+1"]
    munis = master.select(pref=PREF)[: len(texts)]
    for muni, text in zip(munis, texts, strict=True):
        v = canonical(muni, schedule)
        v["basic.department"] = text
        write_workbook(tmp_path / "in" / file_name("plan", muni), muni, v, schedule)
    out = tmp_path / "out.xlsx"
    res = merge([tmp_path / "in"], out, BatchOptions(master=master), schedule=schedule)
    assert res.exit_code == 0
    wb = openpyxl.load_workbook(out)
    found = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"{ws.title}!{c.coordinate} is a formula"
    for row in wb["データ"].iter_rows(min_row=2):
        if row[3].value == "department":
            found[row[0].value] = row[5]
    for muni, text in zip(munis, texts, strict=True):
        cell = found[muni.code]
        assert cell.data_type == "s" and cell.value == text
        assert cell.quotePrefix
    assert not any(n.startswith("xl/externalLinks") for n in zipfile.ZipFile(out).namelist())


# --- refusing and failing safely -------------------------------------------------------------------


def test_nothing_usable_exit_2_and_earlier_output_untouched(tmp_path, master):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "メモ.txt").write_text("関係のないファイル", encoding="utf-8")
    (inbox / "壊れた.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    out = tmp_path / "とりまとめ.xlsx"
    out.write_bytes(b"earlier summary")
    res = merge([inbox], out, BatchOptions(master=master, pref=PREF))
    assert res.exit_code == 2 and res.output is None
    assert out.read_bytes() == b"earlier summary"
    assert sorted(it.status for it in res.items) == ["ignored", "rejected"]
    doc = res.to_json()
    assert doc["output"] is None and len(doc["inputs"]) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".kofu-tmp-")]


def test_output_path_that_is_an_input_refused(inbox, tmp_path, master):
    src = next(inbox["root"].glob("312011*.xlsx"))
    target = tmp_path / src.name
    shutil.copy(src, target)
    before = target.read_bytes()
    with pytest.raises(KofuError) as e:
        merge([target], target, BatchOptions(master=master))
    assert e.value.code == "E903"
    assert target.read_bytes() == before
    # An earlier summary inside the folder being merged is an input too.
    with pytest.raises(KofuError) as e:
        merge([tmp_path], tmp_path / src.name, BatchOptions(master=master))
    assert e.value.code == "E903"


def test_several_prefectures_without_pref_refused(tmp_path, make_sample, master):
    for pref in ("31", "32"):
        shutil.copy(make_sample("plan", pref=pref).files[0], tmp_path)
    with pytest.raises(KofuError) as e:
        merge([tmp_path], tmp_path / "out" / "x.xlsx", BatchOptions(master=master))
    assert e.value.code == "E905"
    assert not (tmp_path / "out" / "x.xlsx").exists()


def test_summary_at_prefecture_level_is_set_aside(inbox, tmp_path, master, schedule):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(inbox["out"], folder / "前回のとりまとめ.xlsx")
    shutil.copy(next(inbox["root"].glob("312011*.xlsx")), folder)
    res = merge([folder], tmp_path / "out.xlsx", BatchOptions(master=master), schedule=schedule)
    by_name = {Path(it.path).name: it for it in res.items}
    assert by_name["前回のとりまとめ.xlsx"].status == "ignored"
    assert res.exit_code == 0


def test_tidy_keys_map_back_to_one_cell_each():
    for kind in ("plan", "monthly"):
        keys = list(tidy_index(kind).values())
        assert len(keys) == len(set(keys)) == len(forms.catalog(kind))


def test_plans_and_monthly_reports_merge_with_actuals_and_backlog(tmp_path, make_sample, master,
                                                                  schedule):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for kind in ("plan", "monthly"):
        for p in make_sample(kind, pref=PREF).files:
            shutil.copy(p, inbox / p.name)
    out = tmp_path / "out.xlsx"
    res = merge([inbox], out, BatchOptions(master=master), schedule=schedule)
    assert res.exit_code == 0 and res.missing == []
    monthly = {m.code: canonical(m, schedule, "monthly") for m in master.select(pref=PREF)}
    assert res.totals["monthly"] == expected_sums(list(monthly.values()), "monthly")
    assert {**dict.fromkeys(res.totals["monthly"], 0), **data_sums(sheet_rows(out, "データ"))["monthly"]} \
        == res.totals["monthly"]

    months = periods.months(periods.FIRST_MONTH, "2020-03")
    actual_rows = sheet_rows(out, "月次実績")
    assert len(actual_rows) - 1 == len(monthly) * len(months)
    backlog = {r[0]: r for r in sheet_rows(out, "交付滞留")[1:]}
    listing = {r[0]: r for r in sheet_rows(out, "市町村別一覧")[1:]}
    for code, v in monthly.items():
        delivered = sum(v[f"actuals.delivered.{m}"] for m in months)
        issued = sum(v[f"actuals.issued.{m}"] for m in months)
        assert backlog[code][-1] == delivered - issued
        assert listing[code][10] == issued and listing[code][11] == delivered - issued
        assert listing[code][4] == "受理"
    total = backlog.pop(None)
    assert total[1] == "合計" and total[-1] == sum(r[-1] for r in backlog.values())
    # The follow-up (第4-2) is counted per municipality and listed in 指摘事項.
    follow = [r for r in sheet_rows(out, "指摘事項")[1:] if r[6] == "第4-2"]
    assert follow and all(r[3] == "実績報告" for r in follow)
    assert sum(r[17] for r in listing.values()) == len(follow)


def test_progress_covers_reading_and_writing(tmp_path, make_sample, master, schedule, capsys):
    calls: list[tuple[int, int]] = []
    files = make_sample("plan", pref=PREF).files[:3]
    res = merge(files, tmp_path / "out.xlsx",
                BatchOptions(master=master, progress=lambda done, total: calls.append((done, total))),
                schedule=schedule)
    assert res.exit_code == 0
    assert calls[-1][0] == calls[-1][1]
    assert [d for d, _t in calls] == sorted(d for d, _t in calls)
    assert len({t for _d, t in calls}) == 1
    assert capsys.readouterr() == ("", "")  # the library never prints


# --- designated cities (指定都市) -------------------------------------------------------------------

OKAYAMA_CITY = "331007"  # 岡山県's designated city


def _without_designated(tmp_path: Path) -> Path:
    cfg = tmp_path / "指定都市を除く.toml"
    cfg.write_text("[scope]\ndesignated_cities = false\n", encoding="utf-8")
    return cfg


def test_a_prefecture_that_does_not_collect_its_designated_cities_never_lists_them(
        tmp_path, make_sample, master, schedule):
    from kofu_excel.letters import render_letters
    from kofu_excel.refdata import load_config

    plans = make_sample("plan", munis=["332020", "332038"])  # 倉敷市 and 津山市 only
    monthly = make_sample("monthly", munis=["332020", "332038"], report_month="2020-03")
    files = [*plans.files, *monthly.files]
    scope = master.select(pref="33")
    # the default, as before: 岡山市 is expected, listed as 未提出 and reminded
    out = tmp_path / "included.xlsx"
    res = merge(files, out, BatchOptions(master=master), schedule=schedule)
    assert OKAYAMA_CITY in res.missing and res.totals["submitted"]["plan"]["municipalities"] == len(scope)
    letters = render_letters(out, tmp_path / "r1", fmt="md", date="2020-04-20", missing=True)
    assert OKAYAMA_CITY in {f.muni_code for f in letters.letters}
    # said once in the config: never 未提出, never in F103, never reminded, and 概要 says so
    cfg = load_config(_without_designated(tmp_path))
    assert cfg.designated_cities is False and load_config(None).designated_cities is True
    out = tmp_path / "excluded.xlsx"
    res = merge(files, out, BatchOptions(master=master), schedule=schedule, config=cfg)
    assert OKAYAMA_CITY not in res.missing and len(res.missing) == len(scope) - 3
    assert res.totals["submitted"]["plan"]["municipalities"] == len(scope) - 1
    assert all(r[0] != OKAYAMA_CITY for r in sheet_rows(out, "未提出")[1:])
    assert all(r[0] != OKAYAMA_CITY for r in sheet_rows(out, "指摘事項")[1:])
    assert all(r[0] != OKAYAMA_CITY for r in sheet_rows(out, "市町村別一覧")[1:])
    overview = {r[0]: r[1] for r in sheet_rows(out, "概要")[:8] if r[0]}
    assert overview["対象"] == "岡山県（33。指定都市（岡山市）を除く）"
    letters = render_letters(out, tmp_path / "r2", fmt="md", date="2020-04-20", missing=True)
    assert letters.letters and OKAYAMA_CITY not in {f.muni_code for f in letters.letters}


def test_national_merge_takes_a_designated_citys_own_workbook_beside_the_summary_once(
        tmp_path, make_sample, master, schedule):
    from kofu_excel.refdata import load_config

    plans = make_sample("plan", munis=[OKAYAMA_CITY, "332020", "332038"])
    city = next(p for p in plans.files if p.name.startswith(OKAYAMA_CITY))
    others = [p for p in plans.files if p != city]
    cfg = load_config(_without_designated(tmp_path))
    # 岡山県 collects its municipalities but not 岡山市, which sends its plan to the state
    pref_summary = tmp_path / "岡山県.xlsx"
    merge(others, pref_summary, BatchOptions(master=master), schedule=schedule, config=cfg)
    out = tmp_path / "national.xlsx"
    nat = merge([pref_summary, city], out, BatchOptions(master=master), schedule=schedule,
                level="national")
    assert [it.status for it in nat.items] == ["accepted", "accepted"]
    assert nat.summary is not None
    got = nat.summary.values["plan"]
    assert set(got) == {OKAYAMA_CITY, "332020", "332038"} and OKAYAMA_CITY not in nat.missing
    want = [got[c] for c in sorted(got)]
    assert nat.totals["plan"] == expected_sums(want)
    assert nat.totals["submitted"]["plan"]["submitted"] == 3
    # a prefecture that did collect it too: the city's own workbook wins, counted once
    both = tmp_path / "岡山県_指定都市を含む.xlsx"
    merge(plans.files, both, BatchOptions(master=master), schedule=schedule)
    nat2 = merge([both, city], tmp_path / "national2.xlsx", BatchOptions(master=master),
                 schedule=schedule, level="national")
    assert nat2.summary is not None and nat2.summary.values["plan"] == got
    assert nat2.totals["plan"] == nat.totals["plan"]
    assert nat2.summary.files[("plan", OKAYAMA_CITY)].endswith(city.name)
    data = [r for r in sheet_rows(tmp_path / "national2.xlsx", "データ")[1:] if r[0] == OKAYAMA_CITY]
    assert len(data) == len({(r[1], r[2], r[3], r[4]) for r in data})  # each value once


def test_unknown_rows_of_a_summary_are_their_own_warning_not_a_foreign_workbook(tmp_path, make_sample,
                                                                                  master, schedule):
    """E117 means "not our form nor a summary"; rows a summary holds that are not ours are W408."""
    summaries = tmp_path / "各県"
    summaries.mkdir()
    pref_out = summaries / "31_とりまとめ.xlsx"
    merge(make_sample("plan", pref="31").files[0].parent.glob("*.xlsx"), pref_out,
          BatchOptions(master=master), schedule=schedule)
    wb = openpyxl.load_workbook(pref_out)
    ws = wb["データ"]
    ws.cell(row=2, column=1).value = "999999"
    wb.save(pref_out)
    nat = merge([summaries], tmp_path / "全国.xlsx", BatchOptions(master=master), schedule=schedule,
                level="national")
    assert nat.summary is not None
    codes = [r.finding.code for r in nat.summary.findings if "データ シートの" in r.finding.message]
    assert codes == ["W408"]


def test_a_rejected_workbook_corrected_by_a_later_resubmission_is_settled(tmp_path, make_sample, master,
                                                                           schedule):
    import os

    clean = make_sample("plan", pref=PREF)
    bad = make_sample("plan", pref=PREF, errors=True)
    inbox = tmp_path / "受信"
    inbox.mkdir()
    first_bad = next(p for p in bad.files if p.name.startswith(REMOVED[0]))
    old = inbox / ("1回目_" + first_bad.name)
    shutil.copy(first_bad, old)
    new = inbox / ("訂正_" + first_bad.name)
    shutil.copy(next(p for p in clean.files if p.name.startswith(REMOVED[0])), new)
    os.utime(old, (1_000_000, 1_000_000))
    os.utime(new, (2_000_000, 2_000_000))
    res = merge([inbox], tmp_path / "out.xlsx", BatchOptions(master=master), schedule=schedule)
    by_name = {Path(it.path).name: it for it in res.items}
    assert by_name[new.name].status == "accepted"
    settled = by_name[old.name]
    assert settled.status == "superseded" and settled.code.startswith("E")
    assert "不受理" in settled.reason and new.name in settled.reason and "解決済み" in settled.reason
    assert res.exit_code == 0 and REMOVED[0] not in res.missing
    assert res.summary is not None and (("plan", REMOVED[0]) not in res.summary.rejected)
    assert not [r for r in res.summary.findings if r.finding.severity == "error"]
    intake = {Path(r[0]).name: r for r in sheet_rows(tmp_path / "out.xlsx", "取込記録")[1:] if r[0]}
    assert "解決済み" in " ".join(str(c) for c in intake[old.name])
