"""The private XlsxWriter API that kofu_excel/write/xlsx.py relies on, checked.

setup.cfg pins xlsxwriter below its next minor version. Before raising that bound, run this file
against the new version: it fails when an attribute or method the extensions use or override
is gone or changed shape, and when a workbook written through them no longer reads back.
"""

from __future__ import annotations

import inspect
import io
import re
import zipfile
from datetime import date, datetime

import openpyxl
import pytest
import xlsxwriter
import xlsxwriter.exceptions
import xlsxwriter.workbook
from xlsxwriter.format import Format
from xlsxwriter.sharedstrings import SharedStringTable
from xlsxwriter.worksheet import Worksheet

from kofu_excel.write import xlsx
from kofu_excel.write.xlsx import (
    BulkSheet,
    ClassicFormulaSheet,
    build_xlsx,
    write_text,
    write_value,
    xf_index,
)


def params(fn) -> list[tuple[str, object]]:
    return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]


EMPTY = inspect.Parameter.empty


# --- what the extensions override -------------------------------------------------------------


def test_overridden_methods_keep_their_signatures():
    # ClassicFormulaSheet overrides _prepare_formula; BulkSheet overrides _write_rows.
    assert params(Worksheet._prepare_formula) == [("self", EMPTY), ("formula", EMPTY),
                                                  ("expand_future_functions", False)]
    assert params(Worksheet._write_rows) == [("self", EMPTY)]
    # ...and xlsxwriter still calls them while writing a sheet.
    source = inspect.getsource(Worksheet)
    assert "self._prepare_formula(" in source
    assert "self._write_rows()" in source
    assert params(ClassicFormulaSheet._prepare_formula)[:2] == [("self", EMPTY), ("formula", EMPTY)]


def test_used_methods_and_attributes_exist():
    assert params(Worksheet._check_dimensions)[:3] == [("self", EMPTY), ("row", EMPTY), ("col", EMPTY)]
    assert params(SharedStringTable._get_shared_string_index) == [("self", EMPTY), ("string", EMPTY)]
    assert params(Format._get_xf_index) == [("self", EMPTY)]
    # the worksheet_class extension point
    assert "worksheet_class" in inspect.signature(xlsxwriter.Workbook.add_worksheet).parameters

    wb = xlsxwriter.Workbook(io.BytesIO(), {"in_memory": True})
    ws = wb.add_worksheet("s", worksheet_class=BulkSheet)
    assert isinstance(ws, BulkSheet)
    assert isinstance(ws.str_table, SharedStringTable)
    assert isinstance(ws.str_table.count, int)
    for name in ("dim_rowmin", "dim_rowmax", "fh"):
        assert hasattr(ws, name), name
    before = ws.str_table.count
    assert ws.string_indexer()("x") == ws.string_indexer()("x")
    assert ws.str_table.count == before + 2  # each call counts one use
    assert isinstance(xf_index(wb.add_format({"bold": True})), int)
    wb.close()


def test_zip_member_class_is_swappable():
    # build_xlsx(fast_deflate=True) swaps xlsxwriter.workbook.ZipInfo for one deflating at level 1
    assert xlsxwriter.workbook.ZipInfo is zipfile.ZipInfo
    assert "ZipInfo(" in inspect.getsource(xlsxwriter.workbook.Workbook)
    assert "_compresslevel" in zipfile.ZipInfo.__slots__
    assert xlsx._FastZipInfo("a.xml")._compresslevel == 1


def test_archive_class_is_swappable_and_parts_arrive_whole_through_writestr():
    # build_xlsx swaps xlsxwriter.workbook.ZipFile for _StreamingZipFile, which expects each
    # in-memory part to come through writestr(zipinfo, bytes) in one call.
    assert xlsxwriter.workbook.ZipFile is zipfile.ZipFile
    source = inspect.getsource(xlsxwriter.workbook.Workbook)
    assert "ZipFile(" in source
    assert 'xlsx_file.writestr(zipinfo, os_filename.getvalue().encode("utf-8"))' in source


def test_bulk_rows_streamed_into_the_archive_give_the_same_bytes_as_written_whole():
    """The rows go from their list into the deflate stream (no whole copy of the part): the
    file is byte for byte what xlsxwriter's own writing of the part gives."""
    many = 3 * xlsx._SLICE + 17  # more than one slice, and a partial one

    def build(wb: xlsxwriter.Workbook, s: xlsx.Styles) -> None:
        _build(wb, s)
        big: BulkSheet = wb.add_worksheet("big", worksheet_class=BulkSheet)
        write_text(big, 0, 0, "見出し", s)
        big.bulk_first = 1
        index, xf = big.string_indexer(), xf_index(s())
        for r in range(1, many + 1):
            big.bulk.append(f'<row r="{r + 1}"><c r="A{r + 1}" s="{xf}" t="s"><v>{index(f"団体{r % 50}")}</v></c>'
                            f'<c r="B{r + 1}"><v>{r}</v></c></row>')
        big.extend_to(1, 0)
        big.extend_to(many, 1)

    streamed = build_xlsx(build, title="t", fast_deflate=True)
    buf = io.BytesIO()
    wb = xlsx.new_workbook(buf, "t")
    build(wb, xlsx.Styles(wb))
    with xlsx._patched(xlsxwriter.workbook, "ZipInfo", xlsx._FastZipInfo):
        wb.close()  # xlsxwriter writing every part whole
    assert streamed == buf.getvalue()
    assert xlsxwriter.workbook.ZipFile is zipfile.ZipFile  # restored after the build
    assert getattr(xlsx._state, "streamed", None) is None
    rows = openpyxl.load_workbook(io.BytesIO(streamed))["big"].max_row
    assert rows == many + 1


def test_a_write_failing_while_closing_leaves_no_streaming_state_behind(monkeypatch):
    def full_disk(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xlsx._StreamingZipFile, "writestr", full_disk)
    with pytest.raises(xlsxwriter.exceptions.FileCreateError):  # xlsxwriter wraps the OSError
        build_xlsx(_build)
    assert getattr(xlsx._state, "streamed", None) is None
    assert xlsxwriter.workbook.ZipFile is zipfile.ZipFile


# --- a workbook written through the extensions reads back -------------------------------------


def _build(wb: xlsxwriter.Workbook, s: xlsx.Styles) -> None:
    bulk: BulkSheet = wb.add_worksheet("bulk", worksheet_class=BulkSheet)
    write_text(bulk, 0, 0, "見出し", s, bold=True)
    write_text(bulk, 0, 1, "値", s, bold=True)
    index = bulk.string_indexer()
    text_xf, quote_xf = xf_index(s()), xf_index(s(quote_prefix=True))
    num_xf = xf_index(s(num_format="#,##0"))
    rows = [("札幌市", 1970000), ("=1+1", 42), ("札幌市", 7)]
    bulk.bulk_first = 1
    for r, (text, n) in enumerate(rows, start=1):
        xf = quote_xf if xlsx.needs_quote(text) else text_xf
        bulk.bulk.append(f'<row r="{r + 1}"><c r="A{r + 1}" s="{xf}" t="s"><v>{index(text)}</v></c>'
                         f'<c r="B{r + 1}" s="{num_xf}"><v>{n}</v></c></row>')
    bulk.extend_to(1, 0)
    bulk.extend_to(len(rows), 1)

    formulas = wb.add_worksheet("formulas", worksheet_class=ClassicFormulaSheet)
    write_value(formulas, 0, 0, 2, s)
    write_value(formulas, 1, 0, date(2020, 4, 1), s)
    formulas.write_formula(0, 1, "=SUM(A1,3)")


def test_workbook_through_the_extensions_reads_back():
    data = build_xlsx(_build, title="t", fast_deflate=True)
    assert xlsxwriter.workbook.ZipInfo is zipfile.ZipInfo  # restored after the build
    wb = openpyxl.load_workbook(io.BytesIO(data))
    bulk = wb["bulk"]
    assert bulk.dimensions == "A1:B4"
    assert [[c.value for c in row] for row in bulk.iter_rows()] == [
        ["見出し", "値"], ["札幌市", 1970000], ["=1+1", 42], ["札幌市", 7]]
    assert bulk["A3"].data_type == "s" and bulk["A3"].quotePrefix
    assert bulk["B2"].number_format == "#,##0"
    formulas = wb["formulas"]
    assert formulas["B1"].value == "=SUM(A1,3)"
    assert formulas["A2"].value == datetime(2020, 4, 1)

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sst = z.read("xl/sharedStrings.xml").decode()
        cells = sum(len(re.findall(r't="s"', z.read(f"xl/worksheets/sheet{i}.xml").decode()))
                    for i in (1, 2))
    count = int(re.search(r'<sst [^>]*count="(\d+)"', sst).group(1))
    unique = int(re.search(r'uniqueCount="(\d+)"', sst).group(1))
    assert count == cells  # every use of a shared string counted
    assert unique == 4  # 見出し, 値, 札幌市 (twice) and =1+1
