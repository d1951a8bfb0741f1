"""The read stage: workbook bytes → raw cells found by defined name, or E1xx findings."""

from __future__ import annotations

import io
import random
import zipfile
from datetime import date

import openpyxl
import pytest
import xlsxwriter
from read_fixtures import (
    biff_records,
    catalog_cells,
    comparable,
    expected_raw,
    filled,
    first_muni,
    patch_ole_stream,
    rewrite_zip,
    set_name,
    sheet_part,
    shift_names,
    with_openpyxl,
)

from kofu_excel import forms
from kofu_excel.cells import a1, rowcol
from kofu_excel.contract import DATA_COLUMNS as SUMMARY_COLUMNS
from kofu_excel.model import Book
from kofu_excel.read import read_book


@pytest.fixture(scope="module")
def muni(master):
    return first_muni(master)


@pytest.fixture(scope="module")
def plan(muni, schedule) -> bytes:
    return filled("plan", muni, schedule)[0]


def codes(book: Book) -> list[str]:
    return [f.code for f in book.findings]


def refused(book: Book, code: str) -> None:
    """The book is unreadable for ``code``, with no cells, and never raised."""
    assert book.status == "unreadable", book.findings
    assert code in codes(book), book.findings
    assert book.cells == {}
    for f in book.errors:
        assert f.severity == "error" and f.message and "\n" not in f.message


# --- reading by name ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["plan", "monthly"])
def test_every_catalog_field_read_by_defined_name(kind, muni, schedule):
    data, values = filled(kind, muni, schedule)
    book = read_book(data, "xlsx", file="in/a.xlsx", member="m.zip > a.xlsx")
    assert book.findings == [] and book.status == ""
    assert (book.kind, book.version, book.muni_code) == (kind, forms.FORM_VERSION, muni.code)
    assert (book.file, book.member, book.fmt) == ("in/a.xlsx", "m.zip > a.xlsx", "xlsx")
    assert book.meta["fingerprint"] == forms.fingerprint(kind) and book.meta["kind"] == kind
    where = catalog_cells(kind)
    assert set(book.cells) == set(where)
    for cid, raw in book.cells.items():
        assert (raw.sheet, raw.cell) == where[cid], cid
        assert raw.formula is False, cid
        assert comparable(raw.value) == expected_raw(values.get(cid)), cid
    # Raw means raw: numbers as calamine gives them (floats), dates as dates, text untouched.
    assert isinstance(book.cells["basic.muni_code"].value, str)
    if kind == "plan":
        assert book.cells["basic.population"].value == float(values["basic.population"])
        assert book.cells["basic.population_date"].value == date(2019, 9, 30)
    else:
        assert book.cells["actuals.issued.2020-04"].value is None  # after report_month: blank


def test_messy_text_read_as_typed(make_sample):
    """Full-width digits, units, 和暦 come back exactly as typed (openpyxl as the oracle)."""
    result = make_sample("plan", count=2, messy=True, seed=5)
    for path in result.files:
        book = read_book(path.read_bytes(), "xlsx", file=str(path))
        assert book.status == "" and book.findings == []
        wb = openpyxl.load_workbook(path, data_only=False)
        texts = 0
        for e in forms.catalog("plan"):
            want = wb[e.sheet][e.cell].value
            assert comparable(book.cells[e.id].value) == comparable(want), e.id
            texts += isinstance(want, str) and e.type in ("int", "yen", "month", "date")
        assert texts > 20  # the sample really is messy


def test_rows_inserted_above_table_still_read_by_name(plan):
    base = read_book(plan, "xlsx")

    def edit(wb: openpyxl.Workbook) -> None:
        wb["交付枚数想定"].insert_rows(1, 3)  # three rows above the table
        shift_names(wb, "交付枚数想定", rows=3)
        wb["基本情報"].move_range("A4:D19", rows=2, cols=2)  # the whole table moved
        shift_names(wb, "基本情報", rows=2, cols=2)

    moved = read_book(with_openpyxl(plan, edit), "xlsx")
    assert moved.status == "" and moved.errors == []
    assert moved.muni_code == base.muni_code
    for cid, raw in base.cells.items():
        got = moved.cells[cid]
        r, c = rowcol(raw.cell)
        if cid.startswith("forecast."):
            r += 3
        elif cid.startswith("basic."):
            r, c = r + 2, c + 2
        assert (got.sheet, got.cell) == (raw.sheet, a1(r, c)), cid
        assert comparable(got.value) == comparable(raw.value), cid
    assert moved.cells["forecast.planned_issued.2019-10"].cell == "B8"
    assert moved.cells["basic.muni_code"].cell == "D7"


def test_rows_inserted_inside_table_refused_E105(plan):
    def edit(wb: openpyxl.Workbook) -> None:
        wb["交付枚数想定"].insert_rows(10, 2)
        set_name(wb, "kofu_forecast_planned_issued", "交付枚数想定!$B$5:$B$48")  # as Excel grows it

    book = read_book(with_openpyxl(plan, edit), "xlsx")
    refused(book, "E105")
    f = book.findings[0]
    assert (f.sheet, f.cell, f.field) == ("交付枚数想定", "B5:B48", "kofu_forecast_planned_issued")
    assert "44行×1列" in f.message and "42行×1列" in f.message
    assert book.kind == "plan" and book.muni_code == "011002"  # still says whose file it is


def test_column_inserted_inside_table_refused_E105(plan):
    def edit(wb: openpyxl.Workbook) -> None:
        set_name(wb, "kofu_capacity_counters", "交付体制!$B$5:$C$18")

    book = read_book(with_openpyxl(plan, edit), "xlsx")
    refused(book, "E105")
    assert "14行×2列" in book.findings[0].message


@pytest.mark.parametrize(("ref", "code"), [("#REF!", "E106"), ("交付体制!#REF!", "E106"),
                                           ("[1]交付体制!$B$5:$B$18", "E106"),
                                           ("交付体制!$B$5:$B$10,交付体制!$B$12:$B$19", "E105"),
                                           ("消えたシート!$B$5:$B$18", "E106")])
def test_broken_or_split_name_refused(plan, ref, code):
    book = read_book(with_openpyxl(plan, lambda wb: set_name(wb, "kofu_capacity_counters", ref)), "xlsx")
    refused(book, code)
    assert book.findings[0].field == "kofu_capacity_counters"


def test_missing_defined_name_refused_E106(plan):
    def edit(wb: openpyxl.Workbook) -> None:
        del wb.defined_names["kofu_forecast_planned_issued"]

    book = read_book(with_openpyxl(plan, edit), "xlsx")
    refused(book, "E106")
    assert book.findings[0].message == (
        "名前付き範囲 kofu_forecast_planned_issued がありません（様式の行・列やシートを削除していませんか）")


def test_meta_removed_refused_E103(plan):
    def edit(wb: openpyxl.Workbook) -> None:
        del wb["_meta"]
        del wb.defined_names["kofu_meta"]

    book = read_book(with_openpyxl(plan, edit), "xlsx")
    refused(book, "E103")
    assert book.kind == ""


def test_fingerprint_edited_refused_E105(plan):
    def edit(wb: openpyxl.Workbook) -> None:
        wb["_meta"]["B5"] = "0123456789abcdef"

    book = read_book(with_openpyxl(plan, edit), "xlsx")
    refused(book, "E105")
    assert book.findings[0].sheet == "_meta"
    assert (book.kind, book.version, book.muni_code) == ("plan", forms.FORM_VERSION, "011002")


def test_unknown_version_refused_E104(plan):
    book = read_book(with_openpyxl(plan, lambda wb: wb["_meta"].__setitem__("B2", "2099.1")), "xlsx")
    refused(book, "E104")
    assert codes(book) == ["E104"]  # the version is judged before the fingerprint
    assert book.version == "2099.1" and "2099.1" in book.findings[0].message


def test_foreign_workbook_E117_or_E103(plan):
    def xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
        out = io.BytesIO()
        wb = xlsxwriter.Workbook(out, {"in_memory": True})
        for name, rows in sheets.items():
            ws = wb.add_worksheet(name)
            for r, row in enumerate(rows):
                ws.write_row(r, 0, row)
        wb.close()
        return out.getvalue()

    foreign = read_book(xlsx({"Sheet1": [["氏名", "点数"], ["a", 1]]}), "xlsx")
    refused(foreign, "E117")
    # One of our sheets but no _meta: ours, damaged.
    refused(read_book(xlsx({"基本情報": [["団体コード", "011002"]]}), "xlsx"), "E103")
    # A _meta of some other kind.
    other = read_book(with_openpyxl(plan, lambda wb: wb["_meta"].__setitem__("B1", "survey")), "xlsx")
    refused(other, "E117")
    assert "survey" in other.findings[0].message


def test_formula_typed_into_input_cell_flagged(plan):
    def edit(wb: openpyxl.Workbook) -> None:
        wb["交付枚数想定"]["B10"] = "=100+200"
        wb["基本情報"]["B8"] = '="市民"&"課"'

    book = read_book(with_openpyxl(plan, edit), "xlsx")
    assert book.status == ""
    flagged = {cid for cid, raw in book.cells.items() if raw.formula}
    # Only the input cells: the template's own derived formula columns are not inputs.
    assert flagged == {"forecast.planned_issued.2020-03", "basic.department"}
    assert book.cells["forecast.planned_issued.2020-03"].cell == "B10"
    assert read_book(plan, "xlsx").cells["forecast.planned_issued.2020-03"].formula is False


def test_formula_found_with_prefixed_xml_and_attribute_order(plan):
    """A writer that puts r= after s= and uses a namespace prefix is still caught."""
    part = sheet_part(plan, "交付枚数想定")

    def edit(xml: bytes) -> bytes:
        old = xml[xml.index(b'<c r="B6"'):]
        old = old[:old.index(b"</c>") + 4] if b"</c>" in old[:200] else old[:old.index(b"/>") + 2]
        ns = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
        return xml.replace(old, b'<c s="1" r="B6"><x:f xmlns:x="' + ns + b'">1+1</x:f><v>2</v></c>', 1)

    book = read_book(rewrite_zip(plan, {part: edit}), "xlsx")
    assert book.cells["forecast.planned_issued.2019-11"].formula is True
    assert book.cells["forecast.planned_issued.2019-11"].value == 2.0


# --- active content ----------------------------------------------------------------------------


def test_xlsm_with_macro_reported_W405(plan):
    data = rewrite_zip(plan, {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 not run"})
    book = read_book(data, "xlsm", file="a.xlsm")
    assert codes(book) == ["W405"] and book.findings[0].severity == "warning"
    assert "マクロ" in book.findings[0].message
    assert book.status == "" and book.kind == "plan" and len(book.cells) == len(forms.catalog("plan"))


def test_external_and_dde_links_reported_W405(plan):
    link = (b'<?xml version="1.0" encoding="UTF-8"?><externalLink xmlns="http://schemas.openxmlformats'
            b'.org/spreadsheetml/2006/main"><ddeLink ddeService="cmd" ddeTopic="/c calc"/></externalLink>')
    book = read_book(rewrite_zip(plan, {"xl/externalLinks/externalLink1.xml": link}), "xlsx")
    assert codes(book) == ["W405"]
    assert "外部リンク" in book.findings[0].message and "DDE" in book.findings[0].message
    assert book.status == ""


# --- other formats (LibreOffice) ------------------------------------------------------------


def test_libreoffice_resaved_xlsx_xls_ods_read_same_values(tmp_path, plan):
    from conftest import convert, require_soffice

    require_soffice()
    # One input typed as a formula, so each format's formula detection is checked too.
    src = tmp_path / "計画.xlsx"
    src.write_bytes(with_openpyxl(plan, lambda wb: wb["交付体制"].__setitem__("C6", "=2+3")))
    base = read_book(src.read_bytes(), "xlsx")
    assert base.cells["capacity.terminals.2020Q1"].formula is True
    for target, ext in (("xlsx:Calc MS Excel 2007 XML", "xlsx"), ("xls:MS Excel 97", "xls"), ("ods", "ods")):
        out = tmp_path / ext
        out.mkdir()
        path = convert(src, target, out)
        book = read_book(path.read_bytes(), ext, file=str(path))
        assert book.findings == [] and book.status == "", (ext, book.findings)
        assert (book.kind, book.version, book.muni_code, book.fmt) == ("plan", forms.FORM_VERSION, "011002", ext)
        assert book.meta == base.meta, ext
        assert set(book.cells) == set(base.cells)
        for cid, raw in base.cells.items():
            got = book.cells[cid]
            assert (got.sheet, got.cell, got.formula) == (raw.sheet, raw.cell, raw.formula), (ext, cid)
            if not raw.formula:  # openpyxl wrote no cached value; LibreOffice computed one
                assert comparable(got.value) == comparable(raw.value), (ext, cid)


# --- prefectural summaries ---------------------------------------------------------------------


def _summary_bytes(rows: list[list[object]], meta: bool = False, header: tuple[str, ...] = SUMMARY_COLUMNS) -> bytes:
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True})
    wb.add_worksheet("概要").write_string(0, 0, "とりまとめ")
    ws = wb.add_worksheet("データ")
    ws.write_row(0, 0, header)
    for r, row in enumerate(rows, start=1):
        for c, v in enumerate(row):
            if v is not None:
                ws.write(r, c, v)
    if meta:
        ms = wb.add_worksheet("_meta")
        ms.write_row(0, 0, ["kind", "summary"])
        ms.write_row(1, 0, ["version", forms.FORM_VERSION])
    wb.close()
    return out.getvalue()


@pytest.mark.parametrize("meta", [False, True])
def test_summary_data_sheet_read_as_tidy(meta):
    rows: list[list[object]] = [
        ["011002", "plan", "forecast", "planned_issued", "2020-04", 1234],
        [11002, "plan", "basic", "department", None, "市民課"],  # code typed as a number
        ["012025", "plan", "costs", "overtime", "FY2019", 1500.5],
        [None, None, None, None, None, None],  # blank row: skipped
        ["012025", "plan", "methods", "visit_apply.status", "", "実施済"],
        ["012025", "monthly", "actuals", "issued", "2020-03", None],
    ]
    book = read_book(_summary_bytes(rows, meta=meta), "xlsx", file="北海道.xlsx")
    assert book.findings == [] and book.status == ""
    assert (book.kind, book.muni_code, book.cells) == ("summary", "", {})
    assert book.tidy == [
        ("011002", "plan", "forecast", "planned_issued", "2020-04", 1234),
        ("011002", "plan", "basic", "department", "", "市民課"),
        ("012025", "plan", "costs", "overtime", "FY2019", 1500.5),
        ("012025", "plan", "methods", "visit_apply.status", "", "実施済"),
        ("012025", "monthly", "actuals", "issued", "2020-03", None),
    ]
    assert type(book.tidy[0][5]) is int
    assert book.version == (forms.FORM_VERSION if meta else "")


def test_summary_without_expected_header_refused_E117():
    data = _summary_bytes([["011002", "plan", "x", "y", "", 1]], header=("コード", "区分", "表", "項目", "期間", "値"))
    refused(read_book(data, "xlsx"), "E117")


# --- hostile and broken input ------------------------------------------------------------------


def _garbage(plan: bytes) -> dict[str, bytes]:
    rng = random.Random(7)
    half = plan[: len(plan) // 2]
    text_zip = io.BytesIO()
    with zipfile.ZipFile(text_zip, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    cases = {
        "empty": b"",
        "text": b"not a workbook",
        "random": bytes(rng.randrange(256) for _ in range(4096)),
        "truncated zip": half,
        "zip of text": text_zip.getvalue(),
        "ole garbage": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(rng.randrange(256) for _ in range(4000)),
        "workbook.xml garbage": rewrite_zip(plan, {"xl/workbook.xml": b"<workbook><sheets>"}),
        "sheet xml garbage": rewrite_zip(plan, {"xl/worksheets/sheet3.xml": b"\x00\x01 not xml"}),
        "xlsb": rewrite_zip(plan, {"xl/workbook.xml": None, "xl/workbook.bin": b"\x83\x01\x00"}),
        "bad deflate": _smash_member(plan, "xl/worksheets/sheet3.xml"),
    }
    return cases


def _smash_member(data: bytes, name: str) -> bytes:
    """Overwrite the middle of one member's compressed bytes."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    mid = start + info.compress_size // 3
    return data[:mid] + b"\xff" * 64 + data[mid + 64:]


def test_garbage_bytes_give_E101_not_exception(plan):
    for label, data in _garbage(plan).items():
        book = read_book(data, "xlsx", file=label)
        assert book.status == "unreadable", (label, book.findings)
        assert set(codes(book)) <= {"E101", "E106"}, (label, book.findings)
        assert book.findings[0].file == label


def test_corrupted_bytes_never_raise(plan):
    """Random damage anywhere in a real workbook: a finding or a clean read, never an exception."""
    rng = random.Random(2019)
    for _ in range(40):
        data = bytearray(plan)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        book = read_book(bytes(data), "xlsx")
        assert book.status in ("", "unreadable")
        assert book.status == "" or book.errors


@pytest.mark.parametrize("doctype", [
    b'<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    b'<!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
])
def test_entities_in_workbook_xml_refused_E101(plan, doctype):
    def edit(xml: bytes) -> bytes:
        head, _, body = xml.partition(b"?>")
        return head + b"?>" + doctype + body.replace(b"<sheets>", b"<sheets>&b;" if b"&a;" in doctype else b"<sheets>&x;", 1)

    refused(read_book(rewrite_zip(plan, {"xl/workbook.xml": edit}), "xlsx"), "E101")


def test_workbook_xml_with_comment_takes_safe_parser_same_result(plan):
    """XML with '<!' goes to defusedxml instead of the fast parser, and reads the same."""
    data = rewrite_zip(plan, {"xl/workbook.xml": lambda x: x.replace(b"<sheets>", b"<!-- c --><sheets>", 1)})
    a, b = read_book(plan, "xlsx"), read_book(data, "xlsx")
    assert b.findings == [] and b.cells == a.cells


# --- details -----------------------------------------------------------------------------------


def test_muni_code_from_cell_when_meta_has_none(plan):
    def edit(wb: openpyxl.Workbook) -> None:
        wb["_meta"]["B3"] = ""  # a generic blank template
        wb["基本情報"]["B5"] = 11002  # typed as a number: the leading zero is lost

    book = read_book(with_openpyxl(plan, edit), "xlsx")
    assert book.status == "" and book.muni_code == "011002"
    assert book.cells["basic.muni_code"].value == 11002.0  # the raw cell stays raw


def test_container_recognised_from_bytes_not_name(plan):
    book = read_book(plan, "xls", file="本当はxlsx.xls")
    assert book.status == "" and book.fmt == "xls" and len(book.cells) == len(forms.catalog("plan"))


def test_cells_above_the_used_range_read_as_blank(plan):
    """calamine's rows start at the used range: inputs above it (or left of it) are blank."""
    def edit(wb: openpyxl.Workbook) -> None:
        ws = wb["交付枚数想定"]
        for merged in list(ws.merged_cells.ranges):
            ws.unmerge_cells(str(merged))
        for row in ws.iter_rows(min_row=1, max_row=10):
            for cell in row:
                cell.value = None

    base = read_book(plan, "xlsx")
    book = read_book(with_openpyxl(plan, edit), "xlsx")
    assert book.status == ""
    for e in forms.catalog("plan"):
        got = book.cells[e.id]
        if e.table == "forecast" and e.index < 6:  # rows 5..10
            assert got.value is None, e.id
        else:
            assert comparable(got.value) == comparable(base.cells[e.id].value), e.id


def test_xls_with_far_cell_refused_E108_before_calamine(tmp_path, plan):
    """One cell at IV65536 would make calamine hold 16.7 million cells: refused up front."""
    import struct

    import olefile
    from conftest import convert

    src = tmp_path / "計画.xlsx"
    src.write_bytes(plan)
    data = convert(src, "xls:MS Excel 97", tmp_path).read_bytes()
    assert read_book(data, "xls").status == ""
    stream = olefile.OleFileIO(io.BytesIO(data)).openstream("Workbook").read()
    records = biff_records(stream)
    sheet_starts = [pos for pos, rtype, _ in records if rtype == 0x0809]  # globals, 記入要領, 基本情報…
    pos = next(pos for pos, rtype, _ in records if rtype == 0x00FD and pos > sheet_starts[2])
    bad = patch_ole_stream(data, "Workbook", pos + 4, struct.pack("<HH", 65535, 255))
    book = read_book(bad, "xls")
    refused(book, "E108")
    assert "基本情報" in book.findings[0].message


def test_carriage_return_in_cell_text_read_back_not_as_x000D_escape():
    """Excel and xlsxwriter store a CR as _x000D_ (and a typed _x005F_ escaped again): both
    must read back as typed."""
    from kofu_excel.write.template import workbook_bytes

    data = workbook_bytes("plan", values={"basic.department": "市民課\r\n窓口係_x005F_"})
    assert b"_x000D_" in zipfile.ZipFile(io.BytesIO(data)).read("xl/sharedStrings.xml")
    book = read_book(data, "xlsx")
    assert book.cells["basic.department"].value == "市民課\r\n窓口係_x005F_"
