"""The pre-scan parses what every file of a template shares once per batch, and the cache
never lets a hostile file through: its protections hold after clean files were scanned."""

from __future__ import annotations

from read_fixtures import rewrite_zip

from kofu_excel.formats import Limits, check_workbook
from kofu_excel.formats import xlsx as xlsx_format
from kofu_excel.formats import zip as zip_format


def _plan_bytes(make_sample, n: int = 3) -> list[bytes]:
    return [p.read_bytes() for p in make_sample("plan", count=n, seed=11).files]


def test_the_workbook_part_of_one_template_is_parsed_once_for_many_files(make_sample):
    files = _plan_bytes(make_sample)
    xlsx_format._workbook_parts_cached.cache_clear()
    assert all(check_workbook(d, "xlsx") is None for d in files)
    info = xlsx_format._workbook_parts_cached.cache_info()
    assert (info.misses, info.hits) == (1, len(files) - 1)


def test_a_dtd_in_the_workbook_part_is_refused_after_clean_files_were_scanned(make_sample):
    files = _plan_bytes(make_sample)
    assert all(check_workbook(d, "xlsx") is None for d in files)
    dtd = b'<!DOCTYPE workbook [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    hostile = rewrite_zip(files[0], {"xl/workbook.xml": lambda x: x.replace(b"?>", b"?>" + dtd, 1)})
    got = check_workbook(hostile, "xlsx")
    assert got is not None and got[0] == "E101" and "DTD" in got[1]


def _renamed(data: bytes, old: bytes, new: bytes) -> bytes:
    """The same archive with one member renamed in both headers (same length)."""
    assert len(old) == len(new)
    return data.replace(old, new)


def test_a_bad_member_name_is_refused_after_the_good_name_was_cached(make_sample):
    files = _plan_bytes(make_sample)
    zip_format._member_name_cached.cache_clear()
    assert all(check_workbook(d, "xlsx") is None for d in files)
    assert zip_format._member_name_cached.cache_info().hits > 0
    # docProps/app.xml → ../Props/app.xml (same length): a path out of the folder.
    hostile = _renamed(files[0], b"docProps/app.xml", b"../Props/app.xml")
    got = check_workbook(hostile, "xlsx")
    assert got is not None and got[0] == "E113" and "上位フォルダ" in got[1]
    # The same name under a tighter limit is checked again, not taken from the cache.
    got = check_workbook(files[0], "xlsx", Limits(max_name_len=10))
    assert got is not None and got[0] == "E113" and "上限 10 文字" in got[1]


def test_the_reader_takes_the_sheets_the_scan_inflated_and_reads_the_same(make_sample):
    from kofu_excel.formats import open_package
    from kofu_excel.read import read_book

    data = _plan_bytes(make_sample, 1)[0]
    fresh = read_book(bytes(bytearray(data)), "xlsx")  # no scan of these bytes: inflated anew
    xlsx_format._verdicts.clear()  # no part of this file scanned before
    assert check_workbook(data, "xlsx") is None
    pkg = open_package(data)
    assert pkg.zip is None and pkg.index is not None  # the scan's directory, not zipfile's
    sheets = {n for n in pkg.inflated if n.startswith("xl/worksheets/")}
    assert sheets and open_package(data).inflated == {}  # taken once: the slot does not keep the file
    xlsx_format._verdicts.clear()
    assert check_workbook(data, "xlsx") is None
    scanned = read_book(data, "xlsx")
    assert scanned.cells == fresh.cells and scanned.errors == fresh.errors


def test_sheets_whose_verdict_was_remembered_are_inflated_by_the_reader_and_read_the_same(make_sample):
    """A part equal to one scanned before is not inflated again by the scan: the reader
    inflates it from the checked directory if it reads it, and reads the same cells."""
    from kofu_excel.formats import open_package
    from kofu_excel.read import read_book

    data = _plan_bytes(make_sample, 1)[0]
    fresh = read_book(bytes(bytearray(data)), "xlsx")
    assert check_workbook(data, "xlsx") is None
    open_package(data)  # take the slot
    assert check_workbook(data, "xlsx") is None  # every part of it remembered now
    pkg = open_package(data)
    assert pkg.index is not None and not any(n.startswith("xl/worksheets/") for n in pkg.inflated)
    assert check_workbook(data, "xlsx") is None
    scanned = read_book(data, "xlsx")
    assert scanned.cells == fresh.cells and scanned.errors == fresh.errors


def test_equal_bytes_that_were_not_scanned_are_not_given_the_scanned_parts(make_sample):
    from kofu_excel.formats import open_package

    data = _plan_bytes(make_sample, 1)[0]
    assert check_workbook(data, "xlsx") is None
    assert open_package(bytes(bytearray(data))).inflated == {}
