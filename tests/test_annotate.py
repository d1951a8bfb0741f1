"""Output workbooks of kofu-validate: annotated copies to send back, and the report workbook."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from kofu_excel import forms
from kofu_excel.model import BatchOptions, Book, RawCell
from kofu_excel.pipeline.batch import load_batch
from kofu_excel.pipeline.validation import file_results, validate_paths
from kofu_excel.read import read_book
from kofu_excel.validate import validate_books
from kofu_excel.write.annotate import RESULT_SHEET, annotated_name, write_annotated
from kofu_excel.write.report import FINDING_COLUMNS, FINDINGS_SHEET, write_report

CATALOG = {e.id: e for e in forms.catalog("plan")}


@pytest.fixture(scope="module")
def plan_book(make_sample) -> Book:
    result = make_sample("plan", count=1)
    p = result.files[0]
    return read_book(p.read_bytes(), "xlsx", file=str(p))


def edit(book: Book, changes: dict[str, Any], moved: dict[str, str] | None = None) -> Book:
    """A copy with raw cells retyped; ``moved`` gives a cell a different address (rows inserted)."""
    cells = dict(book.cells)
    for cid, value in changes.items():
        old = cells[cid]
        cells[cid] = RawCell(value, old.sheet, (moved or {}).get(cid, old.cell))
    return dataclasses.replace(book, cells=cells, values={}, findings=[], status="")


def test_annotated_copy_keeps_dropdowns_and_marks_cells(plan_book, master, tmp_path):
    book = edit(plan_book, {"methods.status.outreach": "やる",          # E204 error
                            "methods.status.apply_support": "実施済み",  # W403 warning
                            "basic.department": "=1+2",
                            "forecast.planned_issued.2020-04": -5},      # E203, sent at B20
                moved={"forecast.planned_issued.2020-04": "B20"})
    validate_books([book], master)
    assert [(f.code, f.field) for f in book.findings] == [
        ("E203", "forecast.planned_issued.2020-04"),
        ("E204", "methods.status.outreach"),
        ("W403", "methods.status.apply_support"),
    ]
    [path] = write_annotated([book], tmp_path, master)
    assert path.name == Path(book.file).stem + "_確認結果.xlsx" == annotated_name(book)

    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == RESULT_SHEET
    assert path.suffix != ".xlsm" and wb.vba_archive is None
    methods = wb[forms.METHODS.sheet]
    assert len(methods.data_validations.dataValidation) > 0  # dropdowns survive
    bad = methods[CATALOG["methods.status.outreach"].cell]
    assert bad.value == "やる"  # what they typed, not a corrected value
    assert bad.fill.fgColor.rgb.endswith("FF9999") and "E204" in bad.comment.text
    warn = methods[CATALOG["methods.status.apply_support"].cell]
    assert warn.fill.fgColor.rgb.endswith("FFD966") and "W403" in warn.comment.text
    ok = methods[CATALOG["methods.status.visit_apply"].cell]
    assert ok.comment is None
    dept = wb[forms.PLAN_BASIC.sheet][CATALOG["basic.department"].cell]
    assert dept.data_type == "s" and dept.value == "=1+2"  # text, never a formula
    forecast = wb[forms.FORECAST.sheet][CATALOG["forecast.planned_issued.2020-04"].cell]
    assert forecast.value == -5 and forecast.comment is not None

    # the first sheet lists every finding with its sheet and cell (and the cell as sent)
    ws = wb[RESULT_SHEET]
    rows = [r for r in ws.iter_rows(values_only=True) if isinstance(r[0], int)]
    assert [(r[2], r[3], r[4], r[5]) for r in rows] == [
        ("E203", forms.FORECAST.sheet, CATALOG["forecast.planned_issued.2020-04"].cell, "B20"),
        ("E204", forms.METHODS.sheet, CATALOG["methods.status.outreach"].cell, ""),
        ("W403", forms.METHODS.sheet, CATALOG["methods.status.apply_support"].cell, ""),
    ]

    # the copy reads back as the same workbook with the same faults (at the definition's cells)
    again = read_book(path.read_bytes(), "xlsx", file=str(path))
    validate_books([again], master)
    assert [(f.code, f.field) for f in again.findings] == [(f.code, f.field) for f in book.findings]


def test_annotated_copies_only_for_invalid_and_names_never_collide(plan_book, master, tmp_path):
    bad = edit(plan_book, {"basic.department": None})
    bad2 = dataclasses.replace(edit(plan_book, {"basic.email": "x"}), member="a.zip > " + Path(plan_book.file).name)
    good = edit(plan_book, {})
    validate_books([bad, bad2, good], master)
    written = write_annotated([bad, bad2, good], tmp_path, master)
    stem = Path(plan_book.file).stem
    assert [p.name for p in written] == [f"{stem}_確認結果.xlsx", f"{stem}_2_確認結果.xlsx"]


def test_report_workbook_text_never_formula(plan_book, master, tmp_path):
    book = edit(plan_book, {"forecast.planned_issued.2020-04": "=1+2",   # E202, shown as typed
                            "basic.email": "@SUM(A1)",                    # E209
                            "basic.department": "=cmd|' /C calc'!A0"})
    book = dataclasses.replace(book, file='=HYPERLINK("http://example.com/x")', member="+1.xlsx")
    validate_books([book], master)
    assert {f.code for f in book.findings} == {"E202", "E209"}

    from kofu_excel.pipeline.batch import Batch
    files = file_results(Batch(items=[_Item()], books=[dataclasses.replace(book, item_index=0)]))
    out = write_report(tmp_path / "report.xlsx", files, master)
    wb = openpyxl.load_workbook(out)
    ws = wb[FINDINGS_SHEET]
    assert ws.freeze_panes is not None and ws.auto_filter.ref
    header = [c.value for c in ws[3]]
    assert tuple(header) == FINDING_COLUMNS
    values = {}
    for row in ws.iter_rows(min_row=4):
        for c in row:
            if c.value is not None:
                assert c.data_type in ("s", "n"), (c.coordinate, c.value)
                assert c.hyperlink is None
                values.setdefault(header[c.column - 1], []).append(c.value)
    assert "=1+2" in values["入力値"] and "@SUM(A1)" in values["入力値"]
    assert all(v.startswith("=HYPERLINK") for v in values["ファイル"])
    assert all(v == "+1.xlsx" for v in values["格納場所"])
    assert any("=1+2" in v for v in values["内容"])
    # annotated copy of the same book: the department stays text too
    [copy] = write_annotated([book], tmp_path / "ann", master)
    cell = openpyxl.load_workbook(copy)[forms.PLAN_BASIC.sheet][CATALOG["basic.department"].cell]
    assert cell.data_type == "s" and cell.value == "=cmd|' /C calc'!A0"


@dataclasses.dataclass
class _Item:
    """The few item fields file_results reads for a book's item."""

    path: str = ""
    member: str = ""
    status: str = "accepted"
    code: str = ""
    reason: str = ""
    kind: str = "plan"
    muni_code: str = ""


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_original_never_modified(make_sample, master, tmp_path):
    result = make_sample("plan", count=4, errors=True)
    folder = result.files[0].parent
    before = _hashes(folder)
    stat = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    run = validate_paths([folder], BatchOptions(master=master), report=tmp_path / "r.xlsx",
                         annotate=tmp_path / "ann")
    assert len(run.annotated) == 4 and run.report is not None
    assert _hashes(folder) == before
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stat
    # annotating into the inputs' own folder never overwrites an input
    run = validate_paths([folder], BatchOptions(master=master), annotate=folder)
    assert all(p.name.endswith("_確認結果.xlsx") for p in run.annotated)
    assert {k: v for k, v in _hashes(folder).items() if k in before} == before


def test_load_batch_rejects_invalid_with_first_error(make_sample, master):
    result = make_sample("plan", count=3, errors=True)
    batch = load_batch(result.files, BatchOptions(master=master))
    assert len(batch.books) == 3
    for book, injected in zip(batch.books, result.injected, strict=True):
        item = batch.items[book.item_index]
        assert item.status == "rejected" and item.code == injected.code
        assert item.reason.startswith(book.findings[0].message)
        assert item.muni_code == injected.muni_code and item.kind == "plan"


# --- long and odd names ---------------------------------------------------------------------------


def test_copy_names_of_long_japanese_names_fit_what_this_os_stores(plan_book, master, tmp_path):
    """83 kanji are 249 bytes (a legal name); 255-character zip members too: each copy's name,
    with its _N and suffix, fits the file system's limit in bytes (here UTF-8), and is written."""
    from kofu_excel.names import os_len

    long_file = str(Path(plan_book.file).with_name("計" * 83 + ".xlsx"))
    books = [dataclasses.replace(edit(plan_book, {"basic.email": "x"}), file=long_file),
             dataclasses.replace(edit(plan_book, {"basic.email": "x"}), file=long_file),
             dataclasses.replace(edit(plan_book, {"basic.email": "x"}), file="a.zip",
                                 member="a.zip > " + "画" * 250 + ".xlsx")]
    validate_books(books, master)
    written = write_annotated(books, tmp_path, master)
    assert len(written) == 3 and len({p.name for p in written}) == 3
    assert all(os_len(p.name) <= 255 and p.exists() for p in written)


def test_copy_names_follow_a_file_system_with_shorter_names(plan_book, master, tmp_path, monkeypatch):
    """eCryptfs and some shares store 143 bytes: the names are cut to what the folder allows."""
    import os

    from kofu_excel.names import os_len

    monkeypatch.setattr(os, "pathconf", lambda path, name: 143, raising=False)
    book = dataclasses.replace(edit(plan_book, {"basic.email": "x"}),
                               file=str(Path(plan_book.file).with_name("計" * 83 + ".xlsx")))
    validate_books([book], master)
    [path] = write_annotated([book], tmp_path, master)
    assert os_len(path.name) <= 143 and path.name.endswith("_確認結果.xlsx")


def test_a_copy_whose_name_cannot_be_stored_is_a_finding_on_its_file_not_the_end(plan_book, master,
                                                                                   tmp_path):
    """A lone surrogate (from a broken attachment name) cannot be a name on this OS: that book
    gets an E906 finding saying no copy was made; the other copies are written."""
    odd = dataclasses.replace(edit(plan_book, {"basic.email": "x"}), file="計画\ud800.xlsx")
    fine = edit(plan_book, {"basic.department": None})
    validate_books([odd, fine], master)
    written = write_annotated([odd, fine], tmp_path, master)
    assert [p.name for p in written] == [Path(plan_book.file).stem + "_確認結果.xlsx"]
    [e906] = [f for f in odd.findings if f.code == "E906"]
    assert "差し戻し用のブックを書き出せません" in e906.message and "作成していません" in e906.message
    assert not [f for f in fine.findings if f.code == "E906"]
