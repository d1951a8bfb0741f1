"""The pre-scan's cheap paths (docs/decisions.md, 速さ) keep every protection of the exact one:
each test builds a workbook that looks ordinary to a cheap check and hides what calamine or a
parser would trip on, and checks that the scan still refuses it."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import unicodedata
import zipfile

import pytest
from intake_fixtures import raw_xlsx
from read_fixtures import rewrite_zip

from kofu_excel.formats import Limits, check_workbook, xmlscan

SMALL = "".join(f'<row r="{r}"><c r="A{r}" s="1" t="s"><v>{r}</v></c><c r="B{r}" s="2"/></row>'
                for r in range(1, 40))


@pytest.mark.parametrize("cell", [
    '<c r="B40" s="1"r="XFD1048576"><v>2</v></c>',  # no space before the second r
    "<c r=\"B40\" t=\"n\" r = 'XFD1048576'><v>2</v></c>",  # spaced, single quotes
    '<c r="B40" s="1" t="n"\nr="XFD1048576"><v>2</v></c>',  # a newline between attributes
    '<c r="B40" s="a>b" r="XFD1048576"><v>2</v></c>',  # ">" in an allowed attribute's value
    '<c r="B40" cm="1" vm="1" ph="1" r="XFD1048576"><v>2</v></c>',  # after every allowed name
    '<c r="B40" s="1" x:r="A1" r="XFD1048576"><v>2</v></c>',  # a prefixed attribute first
])
def test_scan_refuses_a_second_r_attribute_in_a_sheet_that_otherwise_looks_small(cell: str) -> None:
    data = raw_xlsx(SMALL + f'<row r="40">{cell}</row>')
    problem = check_workbook(data, "xlsx", Limits())
    assert problem is not None and problem[0] == "E108" and "XFD1048576" in problem[1]


def test_scan_refuses_a_second_r_attribute_in_a_large_tidy_sheet() -> None:
    """Past ZZ999 the canonical path bounds the sheet with findall passes over the first r:
    a second r must send it to the exact path there too."""
    rows = "".join(f'<row r="{r}"><c r="A{r}" s="1"><v>{r}</v></c></row>' for r in range(1, 3001))
    tidy = raw_xlsx(rows)
    assert check_workbook(tidy, "xlsx", Limits()) is None
    hidden = raw_xlsx(rows + '<row r="3001"><c r="A3001" s="1" r="XFD1048576"><v>2</v></c></row>')
    problem = check_workbook(hidden, "xlsx", Limits())
    assert problem is not None and problem[0] == "E108" and "XFD1048576" in problem[1]


def test_generated_plans_take_the_fast_path_of_the_sheet_scan(make_sample, monkeypatch) -> None:
    """A guard on speed, not safety: the forms as written never need the tag-by-tag scan."""
    def exact(*args: object) -> None:
        raise AssertionError("the exact path was taken")

    monkeypatch.setattr(xmlscan, "_xlsx_sheet_exact", exact)
    for p in make_sample("plan", count=2, seed=5).files:
        assert check_workbook(p.read_bytes(), "xlsx") is None


# --- parts checked from their first KB, and results remembered by the stored bytes -----------

DTD = '<!DOCTYPE x [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
LONG_COMMENT = "<!--" + "長い説明" * 700 + "-->"  # past the first KB and the old 4 KB head
STYLES = ('<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
          + "<numFmts/>" * 300 + "</styleSheet>")
SST_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
CELL = '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'


@pytest.mark.parametrize("prolog", [DTD, LONG_COMMENT + DTD, "<?pi " + "x" * 5000 + "?>" + DTD,
                                    " " * 3000 + DTD])
def test_scan_refuses_a_dtd_in_styles_however_far_the_prolog_pushes_it(prolog: str) -> None:
    data = raw_xlsx(CELL, extra_parts={"xl/styles.xml": '<?xml version="1.0"?>' + prolog + STYLES})
    problem = check_workbook(data, "xlsx", Limits())
    assert problem is not None and problem[0] == "E101" and "styles.xml" in problem[1]


def test_scan_refuses_a_dtd_in_utf16_styles() -> None:
    styles = ('<?xml version="1.0" encoding="UTF-16"?>' + DTD + STYLES).encode("utf-16")
    problem = check_workbook(raw_xlsx(CELL, extra_parts={"xl/styles.xml": styles}), "xlsx", Limits())
    assert problem is not None and problem[0] == "E101"


@pytest.mark.parametrize("sst", [
    # the root tag after a long comment
    f'<?xml version="1.0"?>{LONG_COMMENT}<sst xmlns="{SST_NS}" uniqueCount="4294967295">',
    # a root tag longer than the first KB, the count at its end
    f'<?xml version="1.0"?><sst xmlns="{SST_NS}" ' + " ".join(f'xmlns:n{i}="urn:{i}"' for i in range(200))
    + ' uniqueCount="4294967295">',
])
def test_scan_reads_the_shared_string_count_wherever_the_root_tag_ends(sst: str) -> None:
    sst += "<si><t>x</t></si>" * 100 + "</sst>"
    problem = check_workbook(raw_xlsx(CELL, extra_parts={"xl/sharedStrings.xml": sst}), "xlsx", Limits())
    assert problem is not None and problem[0] == "E108" and "共有文字列" in problem[1]


# calamine reserves room for the uniqueCount of the first sst start tag it meets, wherever it
# stands: the first two abort the process unguarded (see the control below).
SST_BOMBS = {
    "decoy_in_a_comment": f'<?xml version="1.0"?><!-- <sst uniqueCount="1"> -->'
                          f'<sst xmlns="{SST_NS}" uniqueCount="4294967295">',
    "not_the_root": f'<?xml version="1.0"?><root>{"<x/>" * 400}<sst xmlns="{SST_NS}" uniqueCount="4294967295">',
    "prefixed_not_the_root": f'<?xml version="1.0"?><root>{"<x/>" * 400}'
                             f'<x:sst xmlns:x="{SST_NS}" uniqueCount="4294967295">',
    "decoys_past_the_first_kb": '<?xml version="1.0"?><root><!-- ' + '<sst uniqueCount="1">' * 80
                                + ' --><sst uniqueCount="4294967295">',
    # a leading "+" (not read by the calamine in use today): refused anyway, an upper bound
    "signed": f'<?xml version="1.0"?><sst xmlns="{SST_NS}" uniqueCount="+4294967295">',
}


def _sst_bomb(name: str) -> bytes:
    sst = SST_BOMBS[name] + "<si><t>x</t></si>" * 100 + "</sst>"
    return raw_xlsx(CELL, extra_parts={"xl/sharedStrings.xml": sst})


@pytest.mark.parametrize("name", list(SST_BOMBS))
def test_scan_reads_the_shared_string_count_of_every_sst_tag_calamine_may_take(name: str) -> None:
    problem = check_workbook(_sst_bomb(name), "xlsx", Limits())
    assert problem is not None and problem[0] == "E108" and "共有文字列" in problem[1]


def test_a_shared_string_count_past_a_decoy_really_aborts_calamine_unguarded(tmp_path) -> None:
    """The control: without the pre-scan these bytes kill the process they are opened in."""
    for name in ("decoy_in_a_comment", "not_the_root"):
        path = tmp_path / f"{name}.xlsx"
        path.write_bytes(_sst_bomb(name))
        res = subprocess.run([sys.executable, "-c", "import sys; from python_calamine import "
                              "CalamineWorkbook\nCalamineWorkbook.from_path(sys.argv[1]); print('opened')",
                              str(path)], capture_output=True, text=True, timeout=120)
        assert res.returncode != 0 and "opened" not in res.stdout, name


def test_scan_refuses_a_dtd_in_shared_strings_behind_a_long_comment() -> None:
    sst = (f'<?xml version="1.0"?>{LONG_COMMENT}{DTD}<sst xmlns="{SST_NS}" uniqueCount="1">'
           "<si><t>x</t></si></sst>")
    problem = check_workbook(raw_xlsx(CELL, extra_parts={"xl/sharedStrings.xml": sst}), "xlsx", Limits())
    assert problem is not None and problem[0] == "E101"


def _with_crc(data: bytes, name: bytes, crc: int) -> bytes:
    """The archive with one member's CRC changed in its central directory record."""
    at = data.index(b"PK\x01\x02", data.rindex(b"PK\x03\x04"))
    while True:
        ln, lx, lc = struct.unpack_from("<3H", data, at + 28)
        if data[at + 46 : at + 46 + ln] == name:
            return data[: at + 16] + struct.pack("<L", crc) + data[at + 20 :]
        at += 46 + ln + lx + lc


def test_a_remembered_sheet_is_not_trusted_under_a_wrong_crc(make_sample) -> None:
    data = make_sample("plan", count=1, seed=5).files[0].read_bytes()
    assert check_workbook(data, "xlsx") is None
    assert check_workbook(data, "xlsx") is None  # now remembered
    broken = _with_crc(data, b"xl/worksheets/sheet1.xml", 12345)
    problem = check_workbook(broken, "xlsx")
    assert problem is not None and problem[0] == "E111" and "CRC" in problem[1]


def test_a_remembered_sheet_is_checked_again_under_lower_limits() -> None:
    rows = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}"><v>1</v></c></row>'
                   for r in range(1, 101))
    data = raw_xlsx(rows)
    assert check_workbook(data, "xlsx", Limits()) is None
    problem = check_workbook(data, "xlsx", Limits(max_cells=100))
    assert problem is not None and problem[0] == "E108"


def test_a_dtd_in_a_sheet_is_refused_after_clean_copies_were_remembered(make_sample) -> None:
    data = make_sample("plan", count=1, seed=5).files[0].read_bytes()
    assert check_workbook(data, "xlsx") is None
    assert check_workbook(data, "xlsx") is None
    for part in ("xl/worksheets/sheet1.xml", "xl/styles.xml", "xl/_rels/workbook.xml.rels"):
        hostile = rewrite_zip(data, {part: lambda x: x.replace(b"?>", b"?>" + DTD.encode(), 1)})
        problem = check_workbook(hostile, "xlsx")
        assert problem is not None and problem[0] == "E101" and "DTD" in problem[1], part


# --- the package relationships: calamine reads the workbook where _rels/.rels says -----------

OFFICE_DOCUMENT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"


def _elsewhere(rel: str) -> bytes:
    """A benign workbook under xl/ (what the scan reads) and one with a cell at XFD1048576 under
    x2/, where the package relationship ``rel`` sends calamine."""
    import intake_fixtures as f

    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1"><v>1</v></c></row>{}</sheetData></worksheet>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            f"package/2006/relationships\">{rel}</Relationships>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", f._CT)
        z.writestr("_rels/.rels", rels)
        for base, far in (("xl", ""), ("x2", '<row r="1048576"><c r="XFD1048576"><v>2</v></c></row>')):
            z.writestr(f"{base}/workbook.xml", f._WB)
            z.writestr(f"{base}/_rels/workbook.xml.rels", f._WB_RELS.format(target="worksheets/sheet1.xml", extra=""))
            z.writestr(f"{base}/worksheets/sheet1.xml", sheet.format(far))
    return buf.getvalue()


@pytest.mark.parametrize("rel", [
    f'<Relationship Id="rId1" Type="{OFFICE_DOCUMENT}" Target="x2/workbook.xml"/>',
    f'<Relationship Id="rId1" Type="{OFFICE_DOCUMENT}" Target="/x2/workbook.xml"/>',
    f'<Relationship Id="rId1" Type="{OFFICE_DOCUMENT}" Target="x&#50;/workbook.xml"/>',
    # calamine takes the last officeDocument relationship
    f'<Relationship Id="rId1" Type="{OFFICE_DOCUMENT}" Target="xl/workbook.xml"/>'
    f'<Relationship Id="rId2" Type="{OFFICE_DOCUMENT}" Target="x2/workbook.xml"/>',
    f'<p:Relationship xmlns:p="urn:p" Id="rId1" Type="{OFFICE_DOCUMENT}" Target="x2/workbook.xml"/>',
])
def test_scan_refuses_a_workbook_calamine_would_read_from_another_folder(rel: str) -> None:
    problem = check_workbook(_elsewhere(rel), "xlsx", Limits())
    assert problem is not None and problem[0] == "E101" and "xl/" in problem[1]


@pytest.mark.parametrize("target", ["xl/workbook.xml", "/xl/workbook.xml", "XL/workbook.xml"])
def test_scan_accepts_the_workbook_in_xl(target: str) -> None:
    rel = f'<Relationship Id="rId1" Type="{OFFICE_DOCUMENT}" Target="{target}"/>'
    data = rewrite_zip(raw_xlsx(CELL), {"_rels/.rels": rel.join(_PACKAGE_RELS).encode()})
    assert check_workbook(data, "xlsx", Limits()) is None


_PACKAGE_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships '
                 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">', "</Relationships>")


def test_a_workbook_in_another_folder_really_aborts_calamine_unguarded(tmp_path) -> None:
    """The control: calamine reads x2/ and allocates the sheet up to XFD1048576."""
    path = tmp_path / "elsewhere.xlsx"
    path.write_bytes(_elsewhere(f'<Relationship Id="rId1" Type="{OFFICE_DOCUMENT}" Target="x2/workbook.xml"/>'))
    code = ("import sys; from python_calamine import CalamineWorkbook\n"
            "wb = CalamineWorkbook.from_path(sys.argv[1]); wb.get_sheet_by_name('Sheet1').to_python()\n"
            "print('read')")
    res = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "read" not in res.stdout


def test_scan_refuses_a_dtd_in_the_package_relationships() -> None:
    rels = '<?xml version="1.0"?>' + DTD + f'<Relationships><Relationship Type="{OFFICE_DOCUMENT}" Target="xl/workbook.xml"/></Relationships>'
    problem = check_workbook(rewrite_zip(raw_xlsx(CELL), {"_rels/.rels": rels.encode()}), "xlsx", Limits())
    assert problem is not None and problem[0] == "E101" and "DTD" in problem[1]


# --- sheet parts found wherever calamine finds them ---------------------------------------------

FAR_SHEET = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1"><v>1</v></c></row>'
             '<row r="1048576"><c r="XFD1048576"><v>2</v></c></row></sheetData></worksheet>')


def _sheet_at(target: str, member: str) -> bytes:
    """A workbook whose one sheet relationship says ``target``, its part stored as ``member``."""
    import intake_fixtures as f

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", f._CT)
        z.writestr("_rels/.rels", f._RELS)
        z.writestr("xl/workbook.xml", f._WB)
        z.writestr("xl/_rels/workbook.xml.rels", f._WB_RELS.format(target=target, extra=""))
        z.writestr(member, FAR_SHEET)
    return buf.getvalue()


@pytest.mark.parametrize(("target", "member"), [
    ("/data/s.xml", "data/s.xml"),  # absolute, outside xl/: calamine reads it from the root
    ("../data/s.xml", "data/s.xml"),  # OPC's resolution
    ("worksheets\\s.xml", "xl/worksheets\\s.xml"),  # a backslash, as calamine looks it up
    ("/データ/s.xml", unicodedata.normalize("NFD", "データ/s.xml")),  # NFD member, NFC target
    (unicodedata.normalize("NFD", "/データ/s.xml"), unicodedata.normalize("NFD", "データ/s.xml")),
    ("/DATA/S.XML", "data/s.xml"),  # calamine looks names up ignoring case
])
def test_scan_finds_the_sheet_part_wherever_calamine_does(target: str, member: str) -> None:
    problem = check_workbook(_sheet_at(target, member), "xlsx", Limits())
    assert problem is not None and problem[0] == "E108" and "XFD1048576" in problem[1]


def test_a_sheet_outside_xl_really_aborts_calamine_unguarded(tmp_path) -> None:
    """The control: calamine reads the absolute target from the package root."""
    path = tmp_path / "outside.xlsx"
    path.write_bytes(_sheet_at("/data/s.xml", "data/s.xml"))
    code = ("import sys; from python_calamine import CalamineWorkbook\n"
            "wb = CalamineWorkbook.from_path(sys.argv[1]); wb.get_sheet_by_name('Sheet1').to_python()\n"
            "print('read')")
    res = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "read" not in res.stdout


@pytest.mark.parametrize("sheet_data", [
    '<sheetData><row r="1"><c r="XFD1048576"><v>2</v></c></row></sheetData>',
    '<x:sheetData xmlns:x="urn:x"><row r="1"><c r="XFD1048576"><v>2</v></c></row></x:sheetData>',
    '<!-- sheetData --><sheetData><row r="1"><c r="XFD1048576"><v>2</v></c></row></sheetData>',
])
def test_scan_reads_every_cell_from_where_sheet_data_starts(sheet_data: str) -> None:
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             'spreadsheetml/2006/main"><cols><col min="1" max="2" width="9"/></cols>' + sheet_data + "</worksheet>")
    data = rewrite_zip(raw_xlsx(CELL), {"xl/worksheets/sheet1.xml": sheet.encode()})
    problem = check_workbook(data, "xlsx", Limits())
    assert problem is not None and problem[0] == "E108" and "XFD1048576" in problem[1]
