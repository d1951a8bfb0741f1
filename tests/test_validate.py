"""Validation (validate_books): values, findings and status of a batch of books."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pandera.pandas as pa
import pytest

from kofu_excel import forms
from kofu_excel.demo.sample import sample_values
from kofu_excel.model import NA, Book, RawCell
from kofu_excel.read import read_book
from kofu_excel.validate import validate_books

PLAN_CODES = {"E201", "E202", "E203", "E204", "E209", "E301", "E303", "E308"}
MONTHLY_CODES = {"E203", "E304", "E305", "E306"}


def read_all(result) -> list[Book]:
    return [read_book(p.read_bytes(), "xlsx", file=str(p)) for p in result.files]


@pytest.fixture(scope="module")
def plan_book(make_sample) -> Book:
    """One clean plan, read from a real sample workbook (copied by ``edit`` for each case)."""
    return read_all(make_sample("plan", count=1))[0]


@pytest.fixture(scope="module")
def monthly_book(make_sample) -> Book:
    return read_all(make_sample("monthly", count=1))[0]


def edit(book: Book, **changes: Any) -> Book:
    """A fresh copy of ``book`` with some raw cells retyped (catalog id with '.' → '__')."""
    cells = dict(book.cells)
    for key, value in changes.items():
        cid = key.replace("__", ".")
        entry = {e.id: e for e in forms.catalog(book.kind)}[cid]
        old = cells.get(cid)
        cells[cid] = RawCell(value, old.sheet if old else entry.sheet, old.cell if old else entry.cell)
    return dataclasses.replace(book, cells=cells, values={}, findings=list(book.findings), status="")


def check(book: Book, master, **kw: Any) -> list[tuple[str, str]]:
    validate_books([book], master, **kw)
    return [(f.code, f.field) for f in book.findings]


@pytest.mark.parametrize("kind", ["plan", "monthly"])
def test_messy_sample_validates_clean_with_exact_values(make_sample, master, schedule, kind):
    result = make_sample(kind, count=12, messy=True)
    books = read_all(result)
    validate_books(books, master)
    for book in books:
        assert [(f.code, f.message) for f in book.findings] == []
        assert book.status == "valid"
        expected = sample_values(kind, master.by_code[book.muni_code], schedule, 2019)
        assert book.values == expected


@pytest.mark.parametrize(("kind", "seed", "codes"),
                         [("plan", 2035, PLAN_CODES), ("monthly", 2019, MONTHLY_CODES)])
def test_each_injected_error_reported_at_its_cell_and_nothing_else(make_sample, master, kind, seed, codes):
    result = make_sample(kind, count=12, errors=True, seed=seed)
    assert {i.code for i in result.injected} == codes  # every injected code is exercised
    books = read_all(result)
    validate_books(books, master)
    for book, injected in zip(books, result.injected, strict=True):
        assert [(f.code, f.field) for f in book.findings] == [(injected.code, injected.field)]
        assert book.status == "invalid"
        finding = book.findings[0]
        entry = {e.id: e for e in forms.catalog(kind)}[injected.field]
        assert (finding.sheet, finding.cell) == (entry.sheet, entry.cell)
        assert finding.message.startswith(f"「{entry.sheet}」シート {entry.cell}「{entry.label}」：")
        assert finding.file == book.file and finding.muni_code == book.muni_code


def test_pandera_runs_once_per_table_for_a_batch(make_sample, master, monkeypatch):
    plans = read_all(make_sample("plan", count=20, messy=True))
    monthlies = read_all(make_sample("monthly", count=20, messy=True))
    calls: list[int] = []
    original = pa.DataFrameSchema.validate

    def spy(self, df, *args, **kwargs):
        calls.append(len(df))
        return original(self, df, *args, **kwargs)

    monkeypatch.setattr(pa.DataFrameSchema, "validate", spy)
    validate_books(plans + monthlies, master)
    n_tables = len(forms.FORMS["plan"].tables) + len(forms.FORMS["monthly"].tables)
    assert len(calls) == n_tables
    # each call sees every book: one row per (book, table row)
    assert calls[0] == 20  # plan basic: one row per book
    assert calls[1] == 20 * len(forms.FORECAST.rows)


def test_required_if_start_month_E308(plan_book, master):
    start = "methods.start.visit_apply"
    assert check(edit(plan_book, methods__status__visit_apply="実施予定", methods__start__visit_apply=None),
                 master) == [("E308", start)]
    # 「－」 does not answer a question that must be answered
    book = edit(plan_book, methods__status__visit_apply="実施済", methods__start__visit_apply="－")
    assert check(book, master) == [("E308", start)]
    assert "実施済" in book.findings[0].message
    # not started and not planned: no start month needed
    assert check(edit(plan_book, methods__status__visit_apply="予定なし",
                      methods__start__visit_apply=None), master) == []
    # promotion body: required unless 未設置
    assert check(edit(plan_book, basic__promotion_body="未設置", basic__promotion_since=None), master) == []
    assert check(edit(plan_book, basic__promotion_body="推進本部", basic__promotion_since=None),
                 master) == [("E308", "basic.promotion_since")]
    # mykey: either sibling triggers it
    assert check(edit(plan_book, mykey__desk_near_counter="予定なし", mykey__facility_support="予定なし",
                      mykey__start=None), master) == []
    assert check(edit(plan_book, mykey__desk_near_counter="予定なし", mykey__facility_support="実施予定",
                      mykey__start=None), master) == [("E308", "mykey.start")]
    # an invalid status is reported once, not again as a missing start month
    assert check(edit(plan_book, methods__status__visit_apply="やる", methods__start__visit_apply=None),
                 master) == [("E204", "methods.status.visit_apply")]


def test_choice_near_miss_warns_W403_and_counts_as_valid(plan_book, master):
    book = edit(plan_book, methods__status__outreach="実施済み")
    assert check(book, master) == [("W403", "methods.status.outreach")]
    assert book.findings[0].severity == "warning"
    assert book.values["methods.status.outreach"] == "実施済"
    assert book.status == "valid"


def _flows(book: Book, months: list[str], **columns: list[int]) -> Book:
    """The monthly book with report_month = the last of ``months`` and these flows."""
    later = ["2020-01", "2020-02", "2020-03"]
    changes: dict[str, Any] = {f"actuals__{fid}__{m}": None for fid in columns for m in later}
    changes.update({f"actuals__{fid}__{m}": v for fid, vals in columns.items()
                    for m, v in zip(months, vals, strict=True)})
    return edit(book, basic__report_month=months[-1].replace("-", "/"), **changes)


def test_monthly_cumulative_order_allows_issued_above_notices(monthly_book, master):
    months = ["2019-10", "2019-11", "2019-12"]
    base = {"applications": [100, 100, 100], "delivered": [90, 90, 90], "setup": [80, 80, 80]}
    # issued above notices (申請時来庁方式: no 交付通知書): fine
    ok = _flows(monthly_book, months, **base, notices=[10, 10, 10], issued=[70, 70, 70])
    assert check(ok, master) == []
    # a single month's flow may break the order while a backlog clears: running totals are fine
    ok2 = _flows(monthly_book, months, **base, notices=[10, 10, 10], issued=[10, 10, 200])
    assert check(ok2, master) == []
    # notices above setup (running totals): E304 at the first month it happens, at notices
    bad = _flows(monthly_book, months, **base, notices=[80, 90, 80], issued=[10, 10, 10])
    assert check(bad, master) == [("E304", "actuals.notices.2019-11")]
    assert "交付前設定数" in bad.findings[0].message


def test_not_applicable_kept_apart_from_blank_and_zero(monthly_book, plan_book, master):
    book = edit(monthly_book, **{"actuals__notices__2019-10": "－", "actuals__notices__2019-11": 0,
                                 "actuals__notices__2019-12": None})
    assert check(book, master) == [("E306", "actuals.notices.2019-12")]
    assert book.values["actuals.notices.2019-10"] is NA
    assert book.values["actuals.notices.2019-11"] == 0
    assert "actuals.notices.2019-12" not in book.values
    # optional count: 「－」 kept as NA; required count: 「－」 is E210 (use 0), blank is E201
    plan = edit(plan_book, methods__volume__outreach="ー", **{"forecast__planned_issued__2020-04": "－",
                                                              "forecast__planned_issued__2020-05": None})
    assert check(plan, master) == [("E210", "forecast.planned_issued.2020-04"),
                                   ("E201", "forecast.planned_issued.2020-05")]
    assert plan.values["methods.volume.outreach"] is NA


def test_future_submission_date_E208(plan_book, monthly_book, master):
    book = edit(plan_book, basic__submitted_on=date(2019, 12, 25))
    assert check(book, master, today=date(2019, 12, 24)) == [("E208", "basic.submitted_on")]
    assert "basic.submitted_on" not in book.values
    assert check(edit(plan_book, basic__submitted_on=date(2019, 12, 24)), master,
                 today=date(2019, 12, 24)) == []
    assert check(edit(plan_book, basic__population_date="令和2年1月1日"), master,
                 today=date(2019, 12, 31)) == [("E208", "basic.population_date")]
    assert check(edit(monthly_book), master, today=date(2020, 4, 1)) == [("E208", "basic.submitted_on")]


def test_code_outside_prefecture_E207(plan_book, master):
    assert plan_book.muni_code.startswith("01")
    assert check(edit(plan_book), master, pref="13") == [("E207", "basic.muni_code")]
    assert check(edit(plan_book), master, pref="北海道") == []
    # bad check digit, and a code not in the master
    assert check(edit(plan_book, basic__muni_code="011001"), master) == [("E205", "basic.muni_code")]
    assert check(edit(plan_book, basic__muni_code="019992"), master) == [("E206", "basic.muni_code")]


def test_terminals_zero_in_a_busy_quarter_is_E302_only(plan_book, master):
    busy = edit(plan_book, **{"capacity__terminals__2020Q2": 0})
    assert check(busy, master) == [("E302", "capacity.terminals.2020Q2")]
    # a quarter with no forecast: only the range rule (terminals ≥ 1)
    idle = {f"forecast__planned_issued__{m}": 0 for m in ("2022-10", "2022-11", "2022-12")}
    quiet = edit(plan_book, **idle, **{"capacity__terminals__2022Q4": 0})
    assert check(quiet, master) == [("E203", "capacity.terminals.2022Q4")]


def test_issued_above_population_E307_once(plan_book, master):
    pop = plan_book.cells["basic.population"].value
    book = edit(plan_book, basic__issued_to_date=int(pop) + 1)
    assert check(book, master) == [("E307", "basic.issued_to_date")]  # no E301 on top


def test_temporary_staff_warning_W401(plan_book, master):
    book = edit(plan_book, **{"capacity__terminals__2020Q1": 9, "capacity__staff_regular__2020Q1": 2,
                              "capacity__staff_temporary__2020Q1": 3})
    assert check(book, master) == [("W401", "capacity.staff_temporary.2020Q1")]
    assert book.status == "valid"


def test_unreadable_and_summary_books_untouched(master):
    broken = read_book(b"not a workbook", "xlsx", file="x.xlsx")
    summary = Book(file="s.xlsx", kind="summary", status="")
    before = list(broken.findings)
    validate_books([broken, summary], master)
    assert broken.status == "unreadable" and broken.findings == before
    assert summary.status == "" and summary.findings == []


def test_changed_past_month_in_resubmission_warns_W402(master, schedule, tmp_path):
    from kofu_excel.model import BatchOptions
    from kofu_excel.pipeline.batch import load_batch
    from kofu_excel.write.template import workbook_bytes

    muni = master.by_code["011002"]
    old = sample_values("monthly", muni, schedule, 2019, report_month="2020-02")
    new = sample_values("monthly", muni, schedule, 2019, report_month="2020-03")
    assert all(new[k] == v for k, v in old.items() if k.startswith("actuals."))
    new["actuals.issued.2019-11"] += 1
    (tmp_path / "2月分.xlsx").write_bytes(workbook_bytes("monthly", muni, values=old))
    (tmp_path / "3月分.xlsx").write_bytes(workbook_bytes("monthly", muni, values=new))
    batch = load_batch([tmp_path], BatchOptions(master=master))
    status = {batch.items[b.item_index].name: batch.items[b.item_index].status for b in batch.books}
    assert status == {"2月分.xlsx": "superseded", "3月分.xlsx": "accepted"}
    book = next(b for b in batch.books if b.file.endswith("3月分.xlsx"))
    assert [(f.code, f.field, f.severity) for f in book.findings] == [
        ("W402", "actuals.issued.2019-11", "warning")]
    assert book.status == "valid"
    assert "入力値" in book.findings[0].message
    # The merge drops each book's cells once done with them: the message is the same.
    merged = load_batch([tmp_path], BatchOptions(master=master, keep_cells=False))
    again = next(b for b in merged.books if b.file.endswith("3月分.xlsx"))
    assert again.findings == book.findings and not again.cells


def test_formula_typed_into_input_cell_warns_W406(make_sample, master):
    import io

    import openpyxl

    from kofu_excel.read import read_book
    from kofu_excel.validate import validate_books

    path = make_sample("plan", count=1, seed=11).files[0]
    wb = openpyxl.load_workbook(path)
    wb["基本情報"]["B8"] = '="市民"&"課"'
    buf = io.BytesIO()
    wb.save(buf)
    book = read_book(buf.getvalue(), "xlsx", file="formula.xlsx")
    validate_books([book], master)
    codes = {(f.code, f.field) for f in book.findings}
    assert ("W406", "basic.department") in codes


# --- a form returned unfilled: one problem, one message ---------------------------------------


def _template_book(kind: str, master, tmp_path, **values: Any) -> Book:
    from kofu_excel.write.template import workbook_bytes

    data = workbook_bytes(kind, master.by_code["312011"], values=values or None)
    return read_book(data, "xlsx", file=str(tmp_path / f"{kind}.xlsx"))


@pytest.mark.parametrize("kind", ["plan", "monthly"])
def test_a_template_returned_blank_is_one_book_level_finding(kind, master, tmp_path):
    book = _template_book(kind, master, tmp_path)
    validate_books([book], master)
    assert [f.code for f in book.findings] == ["E121"]  # not 200 E201 lines
    f = book.findings[0]
    assert f.sheet == "" and f.cell == "" and "記入されていません" in f.message
    assert book.status == "invalid" and f.figures["filled"] == 0 and f.figures["blank"] >= 5


def test_a_nearly_unfilled_plan_is_one_finding_and_keeps_its_real_faults(master, tmp_path):
    book = _template_book("plan", master, tmp_path, **{
        "basic.department": "市民課", "basic.contact_person": "鳥取 太郎", "basic.email": "a@b",
    })
    validate_books([book], master)
    codes = [f.code for f in book.findings]
    assert codes[0] == "E121" and "ほとんど記入されていません" in book.findings[0].message
    assert "E201" not in codes
    assert "E209" in codes  # the one malformed e-mail address is still its own finding


def test_a_mostly_filled_plan_still_lists_each_blank_cell(plan_book, master):
    blanked = edit(plan_book, basic__department=None, basic__contact_person=None)
    assert check(blanked, master) == [("E201", "basic.department"), ("E201", "basic.contact_person")]
