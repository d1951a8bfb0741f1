"""Intake: every file found is listed once, with provenance and status; hostile bytes stop early."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import struct
import sys
import time
import unicodedata
import urllib.parse
import zipfile
import zlib
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from intake_fixtures import (
    RawEntry,
    aes_zip,
    attachment,
    compound_file,
    eml,
    encoded_word,
    encrypted_xlsx,
    far_cell_xlsx,
    form_like_xlsx,
    forwarded,
    jis,
    msg_streams,
    ods_bytes,
    overlapping_zip,
    raw_xlsx,
    raw_zip,
    xlsx_bytes,
    zip_bomb,
    zip_bytes,
    zipcrypto_zip,
)

from kofu_excel.formats import Limits, check_workbook
from kofu_excel.intake import Item, collect, read_passwords
from kofu_excel.settle import settle


def put(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def one(items: list[Item], member: str) -> Item:
    found = [i for i in items if i.member == member]
    assert len(found) == 1, [(i.member, i.status) for i in items]
    return found[0]


def statuses(items: list[Item]) -> dict[str, str]:
    return {i.member or i.name: i.status for i in items}


# --------------------------------------------------------------------------------------------
# Folders, plain files, OS litter
# --------------------------------------------------------------------------------------------


def test_plain_workbook_is_a_candidate_with_its_bytes(tmp_path: Path) -> None:
    data = xlsx_bytes()
    put(tmp_path, "011002_札幌市_計画.xlsx", data)
    [item] = collect([tmp_path])
    assert (item.status, item.fmt, item.member, item.name) == ("candidate", "xlsx", "", "011002_札幌市_計画.xlsx")
    assert item.data == data
    assert item.sha256 == hashlib.sha256(data).hexdigest()
    assert item.mtime > 0


def test_lock_files_and_os_litter_ignored_but_listed(tmp_path: Path) -> None:
    put(tmp_path, "~$計画.xlsx", b"\x0bowner" + bytes(150))
    put(tmp_path, ".DS_Store", b"\x00\x00\x00\x01Bud1")
    put(tmp_path, "Thumbs.db", b"\xd0\xcf\x11\xe0")
    put(tmp_path, "desktop.ini", b"[.ShellClassInfo]")
    put(tmp_path, "__MACOSX/._計画.xlsx", b"\x00\x05\x16\x07")
    put(tmp_path, ".~lock.計画.xlsx#", b"user,host")
    put(tmp_path, "メモ.txt", "提出します".encode())
    items = collect([tmp_path])
    assert len(items) == 7
    assert all(i.status == "ignored" and i.reason for i in items), [(i.name, i.status) for i in items]
    by_name = {i.name: i.reason for i in items}
    assert "ロックファイル" in by_name["~$計画.xlsx"]
    assert "macOS" in by_name[".DS_Store"] and "macOS" in by_name["._計画.xlsx"]
    assert by_name["メモ.txt"] == "取込対象外のファイル形式です"


def test_every_file_found_is_listed_once(tmp_path: Path) -> None:
    inner = zip_bytes([("a.xlsx", xlsx_bytes()), ("sub/b.xlsx", xlsx_bytes([("x", 2)])),
                       ("readme.txt", b"hi")])
    mail = eml([attachment(inner, 'attachment; filename="kaito.zip"'),
                attachment(xlsx_bytes([("y", 3)]), 'attachment; filename="c.xlsx"')])
    put(tmp_path, "2/mail.eml", mail)
    put(tmp_path, "1/d.xlsx", xlsx_bytes([("z", 4)]))
    put(tmp_path, "1/empty.xlsx", b"")
    put(tmp_path, "3/note.pdf", b"%PDF-1.4")
    # The same folder named twice, and a file inside it named again: still listed once each.
    items = collect([tmp_path, tmp_path / "1", tmp_path / "1" / "d.xlsx"])
    keys = [(i.path, i.member) for i in items]
    assert len(keys) == len(set(keys))
    names = [(Path(i.path).name, i.member, i.status) for i in items]
    assert names == [
        ("d.xlsx", "", "candidate"),
        ("empty.xlsx", "", "rejected"),
        ("mail.eml", "", "opened"),
        ("mail.eml", "kaito.zip", "opened"),
        ("mail.eml", "kaito.zip > a.xlsx", "candidate"),
        ("mail.eml", "kaito.zip > sub/b.xlsx", "candidate"),
        ("mail.eml", "kaito.zip > readme.txt", "ignored"),
        ("mail.eml", "c.xlsx", "candidate"),
        ("note.pdf", "", "ignored"),
    ]
    assert all(i.reason for i in items if i.status != "candidate")


def test_same_paths_give_the_same_items(tmp_path: Path) -> None:
    put(tmp_path, "b/x.xlsx", xlsx_bytes())
    put(tmp_path, "a/y.zip", zip_bytes([("z.xlsx", xlsx_bytes())]))
    first = [(i.path, i.member, i.status, i.sha256) for i in collect([tmp_path / "b", tmp_path / "a"])]
    again = [(i.path, i.member, i.status, i.sha256) for i in collect([tmp_path / "a", tmp_path / "b"])]
    assert first == again
    assert Path(first[0][0]).parent.name == "a"


def test_symlinks_inside_folders_are_listed_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    put(outside, "secret.xlsx", xlsx_bytes())
    inbox = tmp_path / "inbox"
    put(inbox, "real.xlsx", xlsx_bytes())
    os.symlink(outside / "secret.xlsx", inbox / "link.xlsx")
    os.symlink(outside, inbox / "linkdir")
    items = collect([inbox])
    assert statuses(items) == {"link.xlsx": "ignored", "linkdir": "ignored", "real.xlsx": "candidate"}
    assert all(i.data is None for i in items if i.status == "ignored")


def test_missing_path_is_reported_not_raised(tmp_path: Path) -> None:
    [item] = collect([tmp_path / "ない.xlsx"])
    assert item.status == "rejected" and "見つかりません" in item.reason
    assert item.code == "E703"  # the usage code, as on the command line: E101 is an unreadable workbook


# --------------------------------------------------------------------------------------------
# Broken workbooks
# --------------------------------------------------------------------------------------------


def test_zero_byte_file_rejected(tmp_path: Path) -> None:
    put(tmp_path, "計画.xlsx", b"")
    [item] = collect([tmp_path])
    assert (item.status, item.code) == ("rejected", "E110")
    assert check_workbook(b"", "xlsx", Limits()) == ("E110", item.reason)


def test_truncated_zip_rejected(tmp_path: Path) -> None:
    data = xlsx_bytes()
    put(tmp_path, "切れた.xlsx", data[: len(data) // 2])
    put(tmp_path, "切れた.zip", zip_bytes([("a.xlsx", data)])[:-30])
    items = collect([tmp_path])
    assert [(i.status, i.code) for i in items] == [("rejected", "E111")] * 2
    assert all("途中で切れて" in i.reason for i in items)


def test_random_bytes_named_xlsx_rejected(tmp_path: Path) -> None:
    put(tmp_path, "乱数.xlsx", os.urandom(3000).replace(b"PK", b"pk"))
    put(tmp_path, "表.xls", b"<html><body><table><tr><td>1</td></tr></table></body></html>")
    items = collect([tmp_path])
    assert [(i.status, i.code) for i in items] == [("rejected", "E111")] * 2
    html_item = next(i for i in items if i.name == "表.xls")
    assert "HTML" in html_item.reason and "保存し直して" in html_item.reason


def test_format_is_sniffed_from_bytes_before_the_extension(tmp_path: Path) -> None:
    put(tmp_path, "実はxlsx.xls", xlsx_bytes())
    put(tmp_path, "実はzip.xlsx", zip_bytes([("a.txt", b"x")]))
    put(tmp_path, "word.docx", zip_bytes([("[Content_Types].xml", b"<Types/>"), ("word/document.xml", b"<w/>")]))
    items = {i.name: i for i in collect([tmp_path])}
    assert (items["実はxlsx.xls"].status, items["実はxlsx.xls"].fmt) == ("candidate", "xlsx")
    assert (items["実はzip.xlsx"].status, items["実はzip.xlsx"].code) == ("rejected", "E101")
    assert items["word.docx"].status == "ignored"


def test_plain_xls_is_a_candidate(tmp_path: Path) -> None:
    bof = struct.pack("<HH", 0x0809, 16) + struct.pack("<HHHHII", 0x0600, 0x0005, 0, 0, 0, 0)
    eof = struct.pack("<HH", 0x000A, 0)
    put(tmp_path, "古い様式.xls", compound_file({"Workbook": bof + eof + bytes(5000)}))
    [item] = collect([tmp_path])
    assert (item.status, item.fmt, item.decrypted) == ("candidate", "xls", False)


def test_oversized_file_rejected_without_reading(tmp_path: Path) -> None:
    put(tmp_path, "大きい.xlsx", xlsx_bytes() + bytes(3000))
    put(tmp_path, "動画.mp4", bytes(5000))
    items = {i.name: i for i in collect([tmp_path], limits=Limits(max_file_bytes=2000))}
    assert (items["大きい.xlsx"].status, items["大きい.xlsx"].code, items["大きい.xlsx"].sha256) == ("rejected", "E108", "")
    assert items["動画.mp4"].status == "ignored"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=600), ext=st.sampled_from([".xlsx", ".xls", ".ods", ".zip", ".eml", ".msg", ".bin"]),
       magic=st.sampled_from([b"", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"PK\x05\x06"]))
def test_random_bytes_never_crash_the_batch(tmp_path: Path, blob: bytes, ext: str, magic: bytes) -> None:
    folder = tmp_path / os.urandom(4).hex()
    put(folder, "x" + ext, magic + blob)
    items = collect([folder])
    assert len(items) == 1 and items[0].status in {"candidate", "rejected", "ignored", "opened"}


# --------------------------------------------------------------------------------------------
# Zip archives
# --------------------------------------------------------------------------------------------


def test_zip_member_names_from_japanese_windows_cp932(tmp_path: Path) -> None:
    wb = xlsx_bytes()
    body = b"\x01" + struct.pack("<L", zlib.crc32(b"??.xlsx")) + "表①.xlsx".encode()
    unicode_path = struct.pack("<HH", 0x7075, len(body)) + body
    archive = raw_zip([
        RawEntry("回答/計画①.xlsx".encode("cp932"), wb),  # Explorer on Japanese Windows
        RawEntry("ソ連表.xlsx".encode("cp932"), wb),  # 0x5C as a second byte: ソ and 表
        RawEntry("utf8名.xlsx".encode(), wb, flags=0x800),  # one UTF-8 name in the same archive
        RawEntry(b"??.xlsx", wb, extra=unicode_path),  # Info-ZIP Unicode Path extra field
    ])
    put(tmp_path, "回答.zip", archive)
    items = collect([tmp_path])
    assert [i.member for i in items[1:]] == ["回答/計画①.xlsx", "ソ連表.xlsx", "utf8名.xlsx", "表①.xlsx"]
    assert [i.name for i in items[1:]] == ["計画①.xlsx", "ソ連表.xlsx", "utf8名.xlsx", "表①.xlsx"]
    assert all(i.status == "candidate" for i in items[1:])


def test_ppap_zip_zipcrypto_password_from_list(tmp_path: Path) -> None:
    wb = xlsx_bytes()
    put(tmp_path, "a_ascii.zip", zipcrypto_zip([("計画.xlsx".encode("cp932"), wb)], b"Kofu2019"))
    # A Japanese password typed on Windows: the archive holds its cp932 bytes.
    put(tmp_path, "b_japanese.zip", zipcrypto_zip([(b"plan.xlsx", wb)], "札幌市".encode("cp932")))
    put(tmp_path, "c_unknown.zip", zipcrypto_zip([(b"plan.xlsx", wb)], b"not-in-list"))
    items = collect([tmp_path], passwords=["wrong", "Kofu2019", "札幌市"])
    assert [(Path(i.path).name, i.member, i.status, i.code) for i in items] == [
        ("a_ascii.zip", "", "opened", ""),
        ("a_ascii.zip", "計画.xlsx", "candidate", ""),
        ("b_japanese.zip", "", "opened", ""),
        ("b_japanese.zip", "plan.xlsx", "candidate", ""),
        ("c_unknown.zip", "", "rejected", "E102"),
    ]
    assert items[1].data == wb and items[3].data == wb
    assert "3 件" in items[4].reason


def test_password_zip_without_password_list_says_what_to_do(tmp_path: Path) -> None:
    put(tmp_path, "p.zip", zipcrypto_zip([(b"plan.xlsx", xlsx_bytes())], b"pw"))
    [item] = collect([tmp_path])
    assert item.code == "E102" and "--passwords" in item.reason


def test_passwords_tried_are_capped_per_file(tmp_path: Path) -> None:
    put(tmp_path, "p.zip", zipcrypto_zip([(b"plan.xlsx", xlsx_bytes())], b"sixth"))
    tries = ["p1", "p2", "p3", "p4", "p5", "sixth"]
    assert collect([tmp_path], passwords=tries)[0].code == "E102"
    assert collect([tmp_path], passwords=tries, limits=Limits(max_passwords=6))[0].status == "opened"


def test_aes_zip_opened_with_pyzipper(tmp_path: Path) -> None:
    wb = xlsx_bytes()
    put(tmp_path, "aes.zip", aes_zip([("計画.xlsx", wb), ("月次.xlsx", xlsx_bytes([("m", 1)]))], b"s3cret"))
    items = collect([tmp_path], passwords=["s3cret"])
    assert [(i.member, i.status) for i in items] == [("", "opened"), ("計画.xlsx", "candidate"), ("月次.xlsx", "candidate")]
    assert items[1].data == wb
    assert collect([tmp_path], passwords=["nope"])[0].code == "E102"


@pytest.fixture(scope="session")
def bomb() -> bytes:
    return zip_bomb()


def test_zip_bomb_rejected_before_inflating_in_under_a_second(tmp_path: Path, bomb: bytes) -> None:
    assert len(bomb) < 2 * 2**20
    put(tmp_path, "爆弾.zip", bomb)
    put(tmp_path, "爆弾.xlsx", bomb)
    start = time.perf_counter()
    items = collect([tmp_path])
    assert time.perf_counter() - start < 1.0
    assert [(i.status, i.code) for i in items] == [("rejected", "E112")] * 2
    assert "1.0 GB に展開される" in items[0].reason and "zip爆弾" in items[0].reason


def test_declared_sizes_are_not_trusted_when_inflating(tmp_path: Path) -> None:
    # The header says 100 bytes; the stream holds 1 MiB: reading stops at 101 bytes.
    big = bytes(2**20)
    archive = raw_zip([RawEntry(b"a.xlsx", big, declared_size=100)])
    put(tmp_path, "嘘.zip", archive)
    items = collect([tmp_path])
    assert (items[1].status, items[1].code) == ("rejected", "E111")


def test_overlapping_zip_entries_rejected(tmp_path: Path) -> None:
    put(tmp_path, "重なり.zip", overlapping_zip())
    with zipfile.ZipFile(io.BytesIO(overlapping_zip())) as z:  # the stdlib would read both
        assert len(z.read("a.xlsx")) > len(z.read("b.xlsx"))
    [item] = collect([tmp_path])
    assert (item.status, item.code) == ("rejected", "E115")
    assert "重なって" in item.reason


@pytest.mark.parametrize("second", ["計画.XLSX", "計画.xlsx"])
def test_duplicate_member_names_rejected(tmp_path: Path, second: str) -> None:
    nfd = "かがみ.xlsx"  # NFC and NFD spellings of the same name are duplicates too
    archive = raw_zip([RawEntry("計画.xlsx".encode(), xlsx_bytes(), flags=0x800),
                       RawEntry(second.encode(), xlsx_bytes([("x", 1)]), flags=0x800)])
    put(tmp_path, "dup.zip", archive)
    put(tmp_path, "nfd.zip", raw_zip([
        RawEntry(nfd.encode(), xlsx_bytes(), flags=0x800),
        RawEntry(unicodedata.normalize("NFD", nfd).encode(), xlsx_bytes(), flags=0x800)]))
    items = collect([tmp_path])
    assert [(i.status, i.code) for i in items] == [("rejected", "E115")] * 2


@pytest.mark.parametrize("name, attr, system", [
    (b"../../etc/passwd", 0, 0),
    (b"a/../../b.xlsx", 0, 0),
    (b"..\\..\\b.xlsx", 0, 0),
    (b"/etc/cron.d/x", 0, 0),
    (b"C:\\Windows\\x.xlsx", 0, 0),
    (b"bad\x01name.xlsx", 0, 0),
    (b"link.xlsx", 0o120777 << 16, 3),
    (b"x" * 300 + b".xlsx", 0, 0),
])
def test_member_named_dotdot_rejected(tmp_path: Path, name: bytes, attr: int, system: int) -> None:
    archive = raw_zip([RawEntry(b"ok.xlsx", xlsx_bytes()),
                       RawEntry(name, b"payload", external_attr=attr, create_system=system)])
    put(tmp_path, "悪い名前.zip", archive)
    [item] = collect([tmp_path])
    assert (item.status, item.code) == ("rejected", "E113")


def test_nul_in_member_name_rejected(tmp_path: Path) -> None:
    put(tmp_path, "nul.zip", raw_zip([RawEntry(b"a.xlsx\x00.txt", b"x")]))
    [item] = collect([tmp_path])
    assert item.code == "E113"


def test_too_many_entries_rejected(tmp_path: Path) -> None:
    put(tmp_path, "多すぎ.zip", zip_bytes([(f"{i}.txt", b"x") for i in range(1001)]))
    put(tmp_path, "少し.zip", zip_bytes([(f"{i}.txt", b"x") for i in range(11)]))
    items = collect([tmp_path], limits=Limits(max_entries=10))
    assert [(Path(i.path).name, i.code) for i in items] == [("多すぎ.zip", "E112"), ("少し.zip", "E112")]
    assert len(collect([tmp_path / "多すぎ.zip"])) == 1  # default limit 1,000


def test_nesting_too_deep_rejected(tmp_path: Path) -> None:
    level3 = zip_bytes([("計画.xlsx", xlsx_bytes())])
    level2 = zip_bytes([("c.zip", level3)])
    level1 = zip_bytes([("b.zip", level2)])
    put(tmp_path, "ok.zip", level1)  # zip > zip > zip > workbook: 3 levels, allowed
    put(tmp_path, "deep.zip", zip_bytes([("a.zip", level1)]))
    items = collect([tmp_path])
    assert [(Path(i.path).name, i.member, i.status, i.code) for i in items] == [
        ("deep.zip", "", "opened", ""),
        ("deep.zip", "a.zip", "opened", ""),
        ("deep.zip", "a.zip > b.zip", "opened", ""),
        ("deep.zip", "a.zip > b.zip > c.zip", "rejected", "E114"),
        ("ok.zip", "", "opened", ""),
        ("ok.zip", "b.zip", "opened", ""),
        ("ok.zip", "b.zip > c.zip", "opened", ""),
        ("ok.zip", "b.zip > c.zip > 計画.xlsx", "candidate", ""),
    ]


def test_zip_member_time_comes_from_the_archive(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("計画.xlsx", date_time=(2019, 10, 1, 9, 30, 0)), xlsx_bytes())
    put(tmp_path, "a.zip", buf.getvalue())
    item = collect([tmp_path])[1]
    assert item.mtime == time.mktime((2019, 10, 1, 9, 30, 0, 0, 0, -1))


def test_unsupported_compression_method_rejects_only_that_member(tmp_path: Path) -> None:
    archive = raw_zip([RawEntry(b"ok.xlsx", xlsx_bytes()),
                       RawEntry(b"lzma.xlsx", b"data", method=14, payload=b"\x00" * 10)])
    put(tmp_path, "7z.zip", archive)
    items = collect([tmp_path])
    assert statuses(items) == {"7z.zip": "opened", "ok.xlsx": "candidate", "lzma.xlsx": "rejected"}
    assert one(items, "lzma.xlsx").code == "E101"


# --------------------------------------------------------------------------------------------
# Workbook pre-check (check_workbook): nothing that can abort a parser gets through
# --------------------------------------------------------------------------------------------


def test_far_away_cell_rejected_by_prescan(tmp_path: Path) -> None:
    data = far_cell_xlsx()
    assert len(data) < 5 * 1024
    put(tmp_path, "遠いセル.xlsx", data)
    [item] = collect([tmp_path])
    assert (item.status, item.code) == ("rejected", "E108")
    assert "XFD1048576" in item.reason and item.data is None


FAR = '<row r="1"><c r="A1"><v>1</v></c></row>'


@pytest.mark.parametrize("cells", [
    '<row r="1048576"><c r="xfd1048576"><v>2</v></c></row>',  # lower case
    '<row r="1048576"><c r="XFD01048576"><v>2</v></c></row>',  # leading zero
    '<row r="2"><c r="B2" r="XFD1048576"><v>2</v></c></row>',  # second r wins in calamine
    '<row r="2"><c r="B2" x=">" r="XFD1048576"><v>2</v></c></row>',  # ">" hides it from naive scans
    "<row r=\"2\"><c r='XFD1048576'><v>2</v></c></row>",  # single quotes
    '<row r="2"><c\tr = "XFD1048576"><v>2</v></c></row>',  # odd whitespace
    '<row r="2"><c r="XFD1048576" t="inlineStr"><is><t></t></is></c></row>',  # empty string
    '<row r="2"><x:c xmlns:x="urn:x" r="XFD1048576"><x:v>2</x:v></x:c></row>',  # prefixed
    '<row r="1048576">' + "<c><v>1</v></c>" * 6 + "</row>",  # cells placed by counting
    '<row r="2"><c r="XFD1048576" s="1" x="/>"><v>2</v></c></row>',  # "/>" inside a value
])
def test_far_away_cell_variants_rejected(cells: str) -> None:
    data = raw_xlsx(FAR + cells)
    problem = check_workbook(data, "xlsx", Limits())
    assert problem is not None and problem[0] == "E108"


def test_sheet_reached_through_an_odd_relationship_target_is_scanned() -> None:
    data = raw_xlsx('<row r="1"><c r="A1"><v>1</v></c><c r="XFD1048576"><v>2</v></c></row>',
                    sheet_path="data/hidden.bin")
    assert check_workbook(data, "xlsx", Limits())[0] == "E108"


def test_utf16_sheet_is_scanned_too() -> None:
    sheet = ('<?xml version="1.0" encoding="UTF-16"?><worksheet '
             'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             '<row r="1"><c r="A1"><v>1</v></c><c r="XFD1048576"><v>2</v></c></row>'
             "</sheetData></worksheet>").encode("utf-16")
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw_xlsx(""))) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, sheet if info.filename.endswith("sheet1.xml") else src.read(info))
    assert check_workbook(buf.getvalue(), "xlsx", Limits())[0] == "E108"


def test_formatting_only_cells_far_away_are_fine() -> None:
    data = raw_xlsx('<row r="1"><c r="A1"><v>1</v></c></row>'
                    '<row r="1048576" ht="20" customHeight="1"><c r="XFD1048576" s="1"/></row>')
    assert check_workbook(data, "xlsx", Limits()) is None


def test_real_forms_and_large_tidy_sheets_pass_the_prescan() -> None:
    assert check_workbook(form_like_xlsx(), "xlsx", Limits()) is None
    assert check_workbook(form_like_xlsx(sheets=1, rows=3000, cols=6), "xlsx", Limits()) is None
    wide = raw_xlsx('<row r="1"><c r="A1"><v>1</v></c></row><row r="5000"><c r="BZZ5000"><v>2</v></c></row>')
    problem = check_workbook(wide, "xlsx", Limits())
    assert problem is not None and "A1:BZZ5000" in problem[1]


def test_shared_string_count_bomb_rejected() -> None:
    sst = ('<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
           'count="1" uniqueCount="4294967295"><si><t>x</t></si></sst>')
    data = raw_xlsx('<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
                    extra_parts={"xl/sharedStrings.xml": sst})
    problem = check_workbook(data, "xlsx", Limits())
    assert problem is not None and problem[0] == "E108" and "共有文字列" in problem[1]


def test_too_many_sheets_rejected() -> None:
    assert check_workbook(form_like_xlsx(sheets=4, rows=2, cols=2), "xlsx", Limits(max_sheets=3))[0] == "E108"


def test_ods_repeats_count_only_for_cells_with_content() -> None:
    value = '<table:table-cell office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell>'
    first = f"<table:table-row>{value}</table:table-row>"
    # What LibreOffice writes for the empty rest of a sheet: free.
    tail = ('<table:table-row table:number-rows-repeated="1048575">'
            '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>')
    assert check_workbook(ods_bytes(first + tail), "ods", Limits()) is None
    # A value repeated over the whole sheet: 17 billion cells.
    bomb = ('<table:table-row table:number-rows-repeated="1048575"><table:table-cell '
            'office:value-type="float" office:value="1" table:number-columns-repeated="16384"/>'
            "</table:table-row>")
    assert check_workbook(ods_bytes(first + bomb), "ods", Limits())[0] == "E108"
    far = ('<table:table-row table:number-rows-repeated="1048574"><table:table-cell '
           'table:number-columns-repeated="16384"/></table:table-row><table:table-row>'
           f'<table:table-cell table:number-columns-repeated="16383"/>{value}</table:table-row>')
    assert check_workbook(ods_bytes(first + far), "ods", Limits())[0] == "E108"


def test_ods_rows_left_open_are_still_counted() -> None:
    value = '<table:table-cell office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell>'
    rows = (f"<table:table-row>{value}" * 10 + '<table:table-row table:number-rows-repeated="3000">'
            '<table:table-cell office:value-type="float" table:number-columns-repeated="3000"/>')
    assert check_workbook(ods_bytes(rows), "ods", Limits())[0] == "E108"


def test_libreoffice_saved_ods_passes_the_prescan(tmp_path: Path) -> None:
    from conftest import convert

    src = put(tmp_path, "form.xlsx", form_like_xlsx(sheets=2, rows=30, cols=5))
    convert(src, "ods", tmp_path)
    [item] = [i for i in collect([tmp_path]) if i.name == "form.ods"]
    assert (item.status, item.fmt) == ("candidate", "ods")


def test_check_workbook_on_unknown_format() -> None:
    assert check_workbook(b"abc", "csv", Limits())[0] == "E101"


# --------------------------------------------------------------------------------------------
# Encrypted workbooks
# --------------------------------------------------------------------------------------------


def test_encrypted_xlsx_decrypted_with_msoffcrypto(tmp_path: Path) -> None:
    plain = xlsx_bytes([("団体コード", "011002")])
    secret = encrypted_xlsx(plain, "札幌2019")
    assert secret.startswith(b"\xd0\xcf\x11\xe0")
    put(tmp_path, "暗号化.xlsx", secret)
    [item] = collect([tmp_path], passwords=["違う", "札幌2019"])
    assert (item.status, item.fmt, item.decrypted) == ("candidate", "xlsx", True)
    assert item.data is not None and zipfile.ZipFile(io.BytesIO(item.data)).read("xl/workbook.xml")
    [bad] = collect([tmp_path], passwords=["違う"])
    assert (bad.status, bad.code) == ("rejected", "E102")


def test_xls_decryption_rewrites_in_memory_not_in_a_temp_file() -> None:
    import tempfile

    from msoffcrypto.format import xls97

    from kofu_excel.formats.ole import xls_decrypt_in_memory as _xls_decrypt_in_memory

    with _xls_decrypt_in_memory():
        assert isinstance(xls97.tempfile.TemporaryFile(), io.BytesIO)
    assert xls97.tempfile is tempfile


# --------------------------------------------------------------------------------------------
# E-mail
# --------------------------------------------------------------------------------------------


def test_eml_attachment_name_rfc2231_and_iso2022jp_encoded_words(tmp_path: Path) -> None:
    wb = xlsx_bytes()
    utf8 = "計画①～㈱.xlsx".encode()
    parts = [
        attachment(wb, "attachment; filename*=utf-8''" + urllib.parse.quote(utf8)),
        attachment(wb, "attachment; filename*=iso-2022-jp''" + urllib.parse.quote(jis("月次①.xlsx"))),
        attachment(wb, "attachment;\r\n filename*0*=utf-8''" + urllib.parse.quote(utf8[:7])
                   + ";\r\n filename*1*=" + urllib.parse.quote(utf8[7:])),
        attachment(wb, 'attachment; filename="' + encoded_word(jis("報告㈱～.xlsx"), "ISO-2022-JP") + '"'),
        # split in the middle of a UTF-8 character across two encoded words
        attachment(wb, 'attachment; filename="' + encoded_word(utf8[:4], "UTF-8") + "\r\n "
                   + encoded_word(utf8[4:], "UTF-8") + '"'),
        attachment(wb, "inline", content_type='application/vnd.ms-excel; name="=?UTF-8?Q?=E8=A1=A8.xlsx?="'),
    ]
    put(tmp_path, "受信.eml", eml(parts))
    items = collect([tmp_path])
    assert [i.name for i in items[1:]] == ["計画①～㈱.xlsx", "月次①.xlsx", "計画①～㈱.xlsx",
                                           "報告㈱～.xlsx", "計画①～㈱.xlsx", "表.xlsx"]
    # the same name twice in one e-mail: members stay unique, so (path, member) names one file
    assert [i.member for i in items[1:]] == ["計画①～㈱.xlsx", "月次①.xlsx", "計画①～㈱.xlsx #2",
                                             "報告㈱～.xlsx", "計画①～㈱.xlsx #3", "表.xlsx"]
    assert all(i.status == "candidate" for i in items[1:])


def test_eml_name_with_circled_digit_in_shift_jis(tmp_path: Path) -> None:
    wb = xlsx_bytes()
    name = "①計画～㈱ソ表.xlsx"
    raw_8bit = (b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; '
                b'filename="') + "②生の表.xlsx".encode("cp932") + b'"\r\n' \
        + b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(wb)
    parts = [
        attachment(wb, 'attachment; filename="' + encoded_word(name.encode("cp932"), "Shift_JIS") + '"'),
        attachment(wb, "attachment; filename*=shift_jis''" + urllib.parse.quote(name.encode("cp932"))),
        raw_8bit,
    ]
    put(tmp_path, "sjis.eml", eml(parts))
    items = collect([tmp_path])
    assert [i.name for i in items[1:]] == [name, name, "②生の表.xlsx"]


def test_nested_rfc822_forward(tmp_path: Path) -> None:
    original = eml([attachment(zip_bytes([("計画.xlsx", xlsx_bytes())]), 'attachment; filename="回答.zip"')],
                   date="Mon, 30 Sep 2019 09:00:00 +0900", subject="【提出】札幌市")
    outer = eml([forwarded(original), attachment(xlsx_bytes([("b", 1)]), 'attachment; filename="追加.xlsx"')],
                date="Tue, 01 Oct 2019 10:00:00 +0900", subject="Fw: 【提出】札幌市")
    put(tmp_path, "転送.eml", outer)
    items = collect([tmp_path])
    assert [(i.member, i.status, i.fmt) for i in items] == [
        ("", "opened", "eml"),
        ("【提出】札幌市.eml", "opened", "eml"),
        ("【提出】札幌市.eml > 回答.zip", "opened", "zip"),
        ("【提出】札幌市.eml > 回答.zip > 計画.xlsx", "candidate", "xlsx"),
        ("追加.xlsx", "candidate", "xlsx"),
    ]
    assert items[3].email_date == datetime(2019, 9, 30, 0, 0, tzinfo=timezone.utc)
    assert items[4].email_date == datetime(2019, 10, 1, 1, 0, tzinfo=timezone.utc)


def test_eml_attachment_that_is_an_eml_file(tmp_path: Path) -> None:
    inner = eml([attachment(xlsx_bytes(), 'attachment; filename="a.xlsx"')])
    put(tmp_path, "m.eml", eml([attachment(inner, 'attachment; filename="元メール.eml"', "application/octet-stream")]))
    assert [(i.member, i.status) for i in collect([tmp_path])] == [
        ("", "opened"), ("元メール.eml", "opened"), ("元メール.eml > a.xlsx", "candidate")]


def test_deep_mime_nesting_is_bounded_without_recursion_error(tmp_path: Path) -> None:
    body = b"Content-Type: text/plain\r\n\r\nx\r\n"
    for level in range(300):
        b = f"b{level}"
        body = (f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n--{b}\r\n').encode() + body \
            + f"\r\n--{b}--\r\n".encode()
    put(tmp_path, "深い.eml", b"From: a@b\r\nMIME-Version: 1.0\r\n" + body)
    [item] = collect([tmp_path])
    assert (item.status, item.code) == ("rejected", "E116")
    # with the parts limit raised, the depth limit still holds (and the parser does not recurse
    # itself to death on 300 levels)
    [item] = collect([tmp_path], limits=Limits(max_mime_parts=1000))
    assert (item.status, item.code) == ("rejected", "E116") and "入れ子" in item.reason


def test_too_many_mime_parts_rejected(tmp_path: Path) -> None:
    parts = [attachment(b"x", f'attachment; filename="{i}.txt"', "text/plain") for i in range(120)]
    put(tmp_path, "多い.eml", eml(parts))
    [item] = collect([tmp_path])
    assert (item.status, item.code) == ("rejected", "E116")


# --------------------------------------------------------------------------------------------
# Outlook .msg
# --------------------------------------------------------------------------------------------


def test_outlook_msg_attachments_listed_with_olefile(tmp_path: Path) -> None:
    wb = xlsx_bytes()
    inner = msg_streams([("内訳①.xlsx", xlsx_bytes([("i", 1)]))], subject="元の提出", top=False,
                        sent_unix=1569800000.0)
    put(tmp_path, "提出.msg", compound_file(msg_streams([("計画①.xlsx", wb)], embedded=inner)))
    items = collect([tmp_path])
    assert [(i.member, i.status, i.fmt) for i in items] == [
        ("", "opened", "msg"),
        ("計画①.xlsx", "candidate", "xlsx"),
        ("元の提出.msg", "opened", "msg"),
        ("元の提出.msg > 内訳①.xlsx", "candidate", "xlsx"),
    ]
    assert items[1].data == wb
    assert items[1].email_date == datetime.fromtimestamp(1569891600, tz=timezone.utc)
    assert items[3].email_date == datetime.fromtimestamp(1569800000, tz=timezone.utc)


# --------------------------------------------------------------------------------------------
# Passwords
# --------------------------------------------------------------------------------------------


def test_passwords_never_in_reasons(tmp_path: Path) -> None:
    secrets = ["秘密のパス①", "Tokyo-2019!", "s3cret"]
    put(tmp_path, "a.zip", zipcrypto_zip([(b"x.xlsx", xlsx_bytes())], b"other"))
    put(tmp_path, "b.zip", aes_zip([("x.xlsx", xlsx_bytes())], b"other"))
    put(tmp_path, "c.xlsx", encrypted_xlsx(xlsx_bytes(), "other"))
    put(tmp_path, "d.zip", zipcrypto_zip([(b"y.xlsx", xlsx_bytes())], b"s3cret"))
    put(tmp_path, "e.xlsx", encrypted_xlsx(xlsx_bytes(), "Tokyo-2019!"))
    items = collect([tmp_path], passwords=secrets)
    assert [i.status for i in items] == ["rejected", "rejected", "rejected", "opened", "candidate", "candidate"]
    for item in items:
        text = repr(replace(item, data=None))
        for secret in secrets:
            assert secret not in text
            assert secret.encode("cp932").hex() not in text


def test_read_passwords_utf8_and_cp932(tmp_path: Path) -> None:
    (tmp_path / "u.txt").write_bytes("\ufeffabc\r\n\r\n秘密①  \r\n".encode())
    (tmp_path / "s.txt").write_bytes("札幌市\r\nxyz\r\n".encode("cp932"))
    assert read_passwords(tmp_path / "u.txt") == ["abc", "秘密①"]
    assert read_passwords(tmp_path / "s.txt") == ["札幌市", "xyz"]


# --------------------------------------------------------------------------------------------
# settle: duplicates and resubmissions
# --------------------------------------------------------------------------------------------


def _cand(path: str, sha: str, muni: str = "011002", kind: str = "plan", **kw: object) -> Item:
    item = Item(path=path, member="", name=Path(path).name, sha256=sha, fmt="xlsx", status="candidate",
                data=sha.encode(), kind=kind, muni_code=muni)
    for k, v in kw.items():
        setattr(item, k, v)
    return item


def test_settle_duplicates_and_resubmissions() -> None:
    items = [
        _cand("a/当初.xlsx", "s1", revision=0, submitted_on=date(2019, 10, 1)),
        _cand("b/当初の写し.xlsx", "s1", revision=0, submitted_on=date(2019, 10, 1)),  # same bytes
        _cand("c/改訂1.xlsx", "s2", revision=1, submitted_on=date(2020, 6, 1)),
        _cand("d/当初_再提出.xlsx", "s3", revision=0, submitted_on=date(2020, 7, 1)),  # later, but older revision
        _cand("e/月次9月.xlsx", "m1", kind="monthly", submitted_on=date(2019, 10, 5)),
        _cand("f/月次9月_訂正.xlsx", "m2", kind="monthly", submitted_on=date(2019, 10, 5),
              email_date=datetime(2019, 10, 6, tzinfo=timezone.utc)),
        _cand("g/月次_日付なし.xlsx", "m3", kind="monthly", submitted_on=date(2019, 10, 5)),
        _cand("h/他市.xlsx", "s9", muni="012025"),
        Item(path="x.xlsx", member="", name="x.xlsx", sha256="s1", fmt="xlsx", status="rejected", code="E111",
             reason="壊れています"),
    ]
    settle(items)
    result = [(i.path, i.status) for i in items]
    assert result == [
        ("a/当初.xlsx", "superseded"),
        ("b/当初の写し.xlsx", "duplicate"),
        ("c/改訂1.xlsx", "accepted"),
        ("d/当初_再提出.xlsx", "superseded"),
        ("e/月次9月.xlsx", "superseded"),
        ("f/月次9月_訂正.xlsx", "accepted"),
        ("g/月次_日付なし.xlsx", "superseded"),
        ("h/他市.xlsx", "accepted"),
        ("x.xlsx", "rejected"),
    ]
    assert "a/当初.xlsx" in items[1].reason
    assert "c/改訂1.xlsx" in items[0].reason and "c/改訂1.xlsx" in items[3].reason
    assert items[8].reason == "壊れています"
    before = [(i.status, i.reason) for i in items]
    settle(items)
    assert [(i.status, i.reason) for i in items] == before


def test_settle_ties_go_to_the_later_file_time_then_the_later_in_order() -> None:
    a = _cand("a.xlsx", "1", mtime=200.0)
    b = _cand("b.xlsx", "2", mtime=100.0)
    c = _cand("c.xlsx", "3", mtime=200.0)
    settle([a, b, c])
    assert [a.status, b.status, c.status] == ["superseded", "superseded", "accepted"]


def test_settle_compares_decrypted_contents_for_duplicates(tmp_path: Path) -> None:
    plain = xlsx_bytes()
    put(tmp_path, "1.xlsx", encrypted_xlsx(plain, "pw"))
    put(tmp_path, "2.xlsx", encrypted_xlsx(plain, "pw"))  # new salt: different bytes, same workbook
    items = collect([tmp_path], passwords=["pw"])
    assert items[0].sha256 != items[1].sha256
    for i in items:
        i.kind, i.muni_code = "plan", "011002"
    settle(items)
    assert [i.status for i in items] == ["accepted", "duplicate"]


def test_file_the_os_will_not_read_is_E124_not_an_unreadable_workbook(tmp_path: Path, monkeypatch) -> None:
    from kofu_excel.intake import walk

    put(tmp_path, "鍵付き.xlsx", xlsx_bytes())
    real_stat = os.stat

    def denied(path, *a, **k):
        if str(path).endswith("鍵付き.xlsx"):
            raise PermissionError(13, "Permission denied")
        return real_stat(path, *a, **k)

    monkeypatch.setattr(walk.os, "stat", denied)
    [item] = collect([tmp_path])
    assert (item.status, item.code) == ("rejected", "E124")


def test_settle_a_rejected_workbook_corrected_by_a_later_accepted_one_is_settled() -> None:
    def rejected(path: str, **kw: object) -> Item:
        item = _cand(path, path, **kw)
        item.status, item.code = "rejected", "E203"
        item.reason = "「交付枚数想定」シート B18：0以上の整数を入力してください（ほか 2 件のエラー）"
        return item

    items = [
        rejected("1/当初_誤り.xlsx", mtime=100.0),
        _cand("2/当初_訂正.xlsx", "ok", mtime=200.0),
        rejected("3/後から届いた誤り.xlsx", mtime=300.0, muni="012025"),
        _cand("4/他市.xlsx", "ok2", mtime=100.0, muni="012025"),
    ]
    settle(items)
    old, new, late, other = items
    assert (new.status, other.status) == ("accepted", "accepted")
    # Both facts: it was rejected (its code and error), and which submission settled it.
    assert (old.status, old.code) == ("superseded", "E203")
    assert "不受理（E203 「交付枚数想定」シート B18" in old.reason and "ほか" not in old.reason
    assert "2/当初_訂正.xlsx" in old.reason and "解決済み" in old.reason
    # A rejected workbook LATER than the accepted one is still an open problem.
    assert late.status == "rejected"
    before = [(i.status, i.code, i.reason) for i in items]
    settle(items)
    assert [(i.status, i.code, i.reason) for i in items] == before
