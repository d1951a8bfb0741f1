"""The private XlsxWriter API that kofu_excel/write/xlsx.py relies on, checked.

setup.cfg pins xlsxwriter below its next minor version. Before raising that bound, run this file
against the new version: it fails when an attribute or method the extensions use or override
is gone or changed shape, and when a workbook written through them no longer reads back.
"""

from __future__ import annotations

import inspect
import io
import re
import threading
import zipfile
import zlib
from datetime import date, datetime

import openpyxl
import pytest
import xlsxwriter
import xlsxwriter.exceptions
import xlsxwriter.workbook
from hypothesis import given, settings
from hypothesis import strategies as st
from xlsxwriter.format import Format
from xlsxwriter.sharedstrings import SharedStringTable
from xlsxwriter.worksheet import Worksheet

from kofu_excel.write import deflate, xlsx
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


def _big_rows_build(many: int, raise_at: int | None = None):
    def build(wb: xlsxwriter.Workbook, s: xlsx.Styles) -> None:
        _build(wb, s)
        big: BulkSheet = wb.add_worksheet("big", worksheet_class=BulkSheet)
        write_text(big, 0, 0, "見出し", s)
        big.bulk_first = 1
        index, xf = big.string_indexer(), xf_index(s())
        for r in range(1, many + 1):
            if r == raise_at:
                raise KeyboardInterrupt
            big.bulk.append(f'<row r="{r + 1}"><c r="A{r + 1}" s="{xf}" t="s"><v>{index(f"団体{r % 50}")}</v></c>'
                            f'<c r="B{r + 1}"><v>{r}</v></c></row>')
            big.spill()
        big.extend_to(1, 0)
        big.extend_to(many, 1)
        wb.add_worksheet("after")  # a part written after the spliced one
    return build


def test_bulk_rows_streamed_into_the_archive_give_the_same_bytes_as_written_whole():
    """The rows go from their list into the deflate stream (no whole copy of the part): the
    file is byte for byte what xlsxwriter's own writing of the part gives."""
    many = 3 * xlsx._SLICE + 17  # more than one slice, and a partial one
    assert many < xlsx.SPILL_ROWS  # kept as text until the archive is written: not spilled
    build = _big_rows_build(many)

    streamed = build_xlsx(build, title="t", fast_deflate=True)
    buf = io.BytesIO()
    wb = xlsx.new_workbook(buf, "t")
    build(wb, xlsx.Styles(wb))
    with xlsx._patched(xlsxwriter.workbook, "ZipInfo", xlsx._FastZipInfo):
        wb.close()  # xlsxwriter writing every part whole
    assert streamed == buf.getvalue()
    assert xlsxwriter.workbook.ZipFile is zipfile.ZipFile  # restored after the build
    assert getattr(xlsx._state, "build", None) is None
    rows = openpyxl.load_workbook(io.BytesIO(streamed))["big"].max_row
    assert rows == many + 1


def _deflated(slices: list[bytes], level: int) -> deflate.Deflated:
    stream = deflate.DeflateStream(level)
    for piece in slices:
        stream.feed(piece)
    return stream.finish()


def _parts(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None  # every member's CRC checks out
        return [(i.filename, z.read(i)) for i in z.infolist()]


@pytest.mark.parametrize("fast", [True, False])
def test_bulk_rows_deflated_on_a_thread_give_the_same_parts_as_xlsxwriter(fast):
    """Rows handed to the deflate thread as they are made (more than two slices, and a part
    after them) are spliced into one valid deflate stream: every part reads back as the text
    xlsxwriter itself writes, and the CRCs check out."""
    many = 2 * xlsx.SPILL_ROWS + 17
    build = _big_rows_build(many)
    spliced = build_xlsx(build, title="t", fast_deflate=fast)
    buf = io.BytesIO()
    wb = xlsx.new_workbook(buf, "t")
    build(wb, xlsx.Styles(wb))  # outside build_xlsx: spill() keeps the rows
    wb.close()
    assert _parts(spliced) == _parts(buf.getvalue())
    assert build_xlsx(build, title="t", fast_deflate=fast) == spliced  # deterministic
    assert not [t for t in threading.enumerate() if t.name == "kofu-deflate"]
    rows = list(openpyxl.load_workbook(io.BytesIO(spliced), read_only=True)["big"].values)
    assert len(rows) == many + 1 and rows[-1] == (f"団体{many % 50}", many)


def test_a_build_stopped_midway_leaves_no_deflate_thread_running():
    with pytest.raises(KeyboardInterrupt):
        build_xlsx(_big_rows_build(3 * xlsx.SPILL_ROWS, raise_at=2 * xlsx.SPILL_ROWS + 5))
    assert not [t for t in threading.enumerate() if t.name == "kofu-deflate"]
    assert getattr(xlsx._state, "build", None) is None


def test_rows_deflated_elsewhere_are_spliced_into_their_part():
    """BulkSheet.deflated_rows: a piece deflated in another process, with the workbook's
    string indices, reads back in place (the summary's データ)."""
    def build(wb: xlsxwriter.Workbook, s: xlsx.Styles) -> None:
        xlsx.enter_strings(wb, ["札幌市", "函館市"])
        ws: BulkSheet = wb.add_worksheet("d", worksheet_class=BulkSheet)
        write_text(ws, 0, 0, "団体", s)
        xf = xf_index(s())
        rows = "".join(f'<row r="{r}"><c r="A{r}" s="{xf}" t="s"><v>{r % 2}</v></c>'
                       f'<c r="B{r}"><v>{r}</v></c></row>' for r in range(2, 1002))
        ws.bulk_first = 1
        ws.deflated_rows(_deflated([rows.encode()[:5000], rows.encode()[5000:]], 1))
        ws.string_uses += 1000 - 2
        ws.extend_to(1, 0)
        ws.extend_to(1000, 1)

    data = build_xlsx(build, fast_deflate=True)
    _parts(data)
    rows = list(openpyxl.load_workbook(io.BytesIO(data), read_only=True)["d"].values)
    assert rows[0] == ("団体", None)
    assert rows[1] == ("札幌市", 2) and rows[2] == ("函館市", 3) and rows[-1] == ("函館市", 1001)
    sst = dict(_parts(data))["xl/sharedStrings.xml"].decode()
    assert 'count="1001" uniqueCount="3"' in sst  # 2 entered + the header, 1000 + 1 uses


def test_enter_strings_refuses_a_table_already_in_use():
    wb = xlsxwriter.Workbook(io.BytesIO(), {"in_memory": True})
    wb.add_worksheet().write_string(0, 0, "x")
    with pytest.raises(ValueError):
        xlsx.enter_strings(wb, ["a"])
    wb.close()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_crc32_combine_is_zlibs(a, b):
    assert deflate.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_crc32_combine_of_a_long_piece():
    a, b = b"head" * 1000, bytes(range(256)) * 40_000  # len(b) ~ 10 MB: many squarings
    assert deflate.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_zipfile_writer_internals_that_splice_uses():
    """deflate.splice reaches zipfile's member writer: these attributes must keep their roles."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z, z.open("a.xml", "w") as dest:
        dest.write(b"<a>")
        for name in ("_compressor", "_crc", "_file_size", "_compress_size", "_fileobj"):
            assert hasattr(dest, name), name
        assert dest._file_size == 3 and dest._crc == zlib.crc32(b"<a>")
        deflate.splice(dest, _deflated([b"<b/>" * 100], 6), 6)
        dest.write(b"</a>")
    with zipfile.ZipFile(buf) as z:
        assert z.read("a.xml") == b"<a>" + b"<b/>" * 100 + b"</a>"


def test_a_write_failing_while_closing_leaves_no_streaming_state_behind(monkeypatch):
    def full_disk(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xlsx._StreamingZipFile, "writestr", full_disk)
    with pytest.raises(xlsxwriter.exceptions.FileCreateError):  # xlsxwriter wraps the OSError
        build_xlsx(_build)
    assert getattr(xlsx._state, "build", None) is None
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
