"""Read one workbook's bytes into a :class:`Book`: raw input cells found by defined name.

The read stage sits between intake (which has already bounded the zip and the sheet extents)
and normalisation. It never judges a value; it only says where each input cell is and what it
held, or why the workbook cannot be read at all (E1xx findings, status ``unreadable``).

How it stays near the speed floor (python-calamine reading every sheet, ~0.6 ms a file):
- values come from python-calamine, each needed sheet read once to a list of lists;
- defined names come from the small ``xl/workbook.xml`` (xlsx/xlsm), from ``content.xml``
  (ods) or from the NAME/EXTERNSHEET records of the BIFF8 ``Workbook`` stream (xls) — calamine
  exposes none;
- formula cells are found in the raw sheet part with one regex limited to the input columns
  (xlsx), from FORMULA records (xls) or ``table:formula`` attributes (ods); their value is
  what the file cached, and ``RawCell.formula`` tells later stages not to trust it.

XML safety: a part containing no ``<!`` (so no DOCTYPE, hence no entity declarations and no
external entities) and encoded in UTF-8 goes to the C ElementTree parser, which is ~2.5×
faster than defusedxml's pure-Python parser; anything else goes through defusedxml, which
rejects DTDs and entities. openpyxl is not used here (it is ~14× slower than calamine).
Macros, external links, DDE and OLE objects are reported (W405), never executed.

.xls: python-calamine exposes no defined names, so the BIFF8 NAME records are read from the
``Workbook`` stream (olefile) and resolved through EXTERNSHEET/SUPBOOK: a moved table is read
where it is, exactly as for xlsx and ods, with no positional fallback.
"""

from __future__ import annotations

import posixpath
import re
import struct
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache, wraps
from io import BytesIO
from types import MappingProxyType
from typing import Any, TypeVar, cast

import olefile
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as DefusedET
from python_calamine import CalamineError, CalamineWorkbook

from . import forms
from .cells import a1, a1_range, col_name, parse_range, rowcol
from .findings import Finding
from .intake import (
    BiffSheet,
    Limits,
    biff_records,
    biff_short_string,
    scan_biff_sheet,
    xls_problem,
)
from .model import Book, RawCell

__all__ = ["KNOWN_VERSIONS", "SUMMARY_COLUMNS", "SUMMARY_SHEET", "read_book"]

KNOWN_VERSIONS = frozenset({forms.FORM_VERSION})
SUMMARY_SHEET = "データ"
SUMMARY_COLUMNS = ("団体コード", "区分", "表", "項目", "期間", "値")
SUMMARY_KIND = "summary"
_SUMMARY_HEADER_ROWS = 10  # the header may sit under a title row or two
MAX_CELLS = 5_000_000  # per sheet, as intake's Limits.max_cells (quality.md)
# read_book's own bound on an xls before calamine opens it (intake has bounded the sheet count).
_XLS_LIMITS = Limits(max_sheets=2**31, max_cells=MAX_CELLS)

# Every sheet any form uses: a workbook holding one of them without _meta is "ours, damaged"
# (E103), anything else is foreign (E117).
_FORM_SHEETS = frozenset(t.sheet for f in forms.FORMS.values() for t in f.tables)
_NAME_PREFIX = "kofu_"

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# Errors that mean "these bytes are not a readable workbook" when raised by the parsers below
# (zip, XML, OLE, struct unpacking of BIFF records). Our own logic errors are not in here.
_PARSE_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    ET.ParseError,
    DefusedXmlException,
    CalamineError,
    struct.error,
    UnicodeDecodeError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,  # zipfile: unsupported compression method
    RuntimeError,  # zipfile: encrypted member; RecursionError on absurd nesting
)


class _Unreadable(Exception):
    """The package cannot be parsed (E101) or is too big to parse safely (E108)."""

    def __init__(self, message: str, code: str = "E101") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class _Ref:
    """A defined name resolved to one rectangular area on one sheet (zero-based, inclusive)."""

    sheet: str
    r0: int
    c0: int
    r1: int
    c1: int

    @property
    def a1(self) -> str:
        return a1_range(self.r0, self.c0, self.r1, self.c1)


# A name that exists but points nowhere usable: '#REF!', another workbook, several areas.
_BROKEN = "broken"
_MULTI = "multi"
_NameTarget = _Ref | str


# --- XML -------------------------------------------------------------------------------------
_XML_DECL = re.compile(rb"\A(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


def _xml(data: bytes) -> ET.Element:
    """Parse an XML part; entity-free UTF-8 goes to the fast C parser, the rest to defusedxml."""
    body = data[3:] if data[:3] == b"\xef\xbb\xbf" else data
    # '<' then a non-NUL byte: not UTF-16, so the byte search for '<!' below is meaningful.
    if body[:1] == b"<" and body[1:2] not in (b"\x00", b"") and b"<!" not in data:
        m = _XML_DECL.match(data)
        if m is None or m.group(1).lower().replace(b"-", b"") == b"utf8":
            return ET.fromstring(data)
    return DefusedET.fromstring(data, forbid_dtd=True)


def _local(tag: str) -> str:
    return tag[tag.rfind("}") + 1:]


def _attr(elem: ET.Element, local: str) -> str | None:
    """An attribute by local name, whatever its namespace (r:id, strict OOXML)."""
    for key, value in elem.attrib.items():
        if key == local or key.endswith("}" + local):
            return value
    return None


# --- caching: the same few parts and strings recur in every file of a batch -----------------
_F = TypeVar("_F", bound=Callable[..., Any])


def _small_cache(maxsize: int, limit: int) -> Callable[[_F], _F]:
    """lru_cache for inputs up to ``limit`` long; longer (hostile) ones are computed every time,
    so the cache never holds more than maxsize × limit."""
    def wrap(fn: _F) -> _F:
        cached = lru_cache(maxsize=maxsize)(fn)

        @wraps(fn)
        def call(first: Any, *args: Any) -> Any:
            return cached(first, *args) if len(first) <= limit else fn(first, *args)

        return cast(_F, call)

    return wrap


# --- reference parsing -----------------------------------------------------------------------
_XLSX_REF = re.compile(
    r"(?:'(?:[^']|'')+'|[^'!:\[\]]+)!\$?[A-Z]{1,3}\$?[1-9][0-9]{0,6}(?::\$?[A-Z]{1,3}\$?[1-9][0-9]{0,6})?"
)


@_small_cache(maxsize=4096, limit=256)
def _xlsx_ref(text: str) -> _NameTarget:
    """'基本情報'!$B$5:$B$46 → _Ref; '#REF!', external or multi-area references → a reason."""
    text = text.strip().lstrip("=").strip()
    if _XLSX_REF.fullmatch(text) is None:
        return _MULTI if "," in text and "#REF!" not in text and "[" not in text else _BROKEN
    sheet, (r0, c0, r1, c1) = parse_range(text)
    return _Ref(sheet, min(r0, r1), min(c0, c1), max(r0, r1), max(c0, c1))


_ODS_SHEET = r"(?:'(?:[^']|'')+'|[^.:'\s]+)"
_ODS_REF = re.compile(
    rf"\$?({_ODS_SHEET})\.\$?([A-Z]{{1,3}})\$?([1-9][0-9]{{0,6}})"
    rf"(?::\$?({_ODS_SHEET})?\.\$?([A-Z]{{1,3}})\$?([1-9][0-9]{{0,6}}))?"
)


def _unquote_ods(sheet: str) -> str:
    return sheet[1:-1].replace("''", "'") if sheet.startswith("'") else sheet


@_small_cache(maxsize=4096, limit=256)
def _ods_ref(text: str) -> _NameTarget:
    """$'基本情報'.$B$5:.$B$46 → _Ref."""
    m = _ODS_REF.fullmatch(text.strip())
    if m is None:
        return _MULTI if " " in text.strip() else _BROKEN
    sheet = _unquote_ods(m.group(1))
    if m.group(4) is not None and _unquote_ods(m.group(4)) != sheet:
        return _MULTI
    r0, c0 = rowcol(m.group(2) + m.group(3))
    r1, c1 = rowcol(m.group(5) + m.group(6)) if m.group(5) else (r0, c0)
    return _Ref(sheet, min(r0, r1), min(c0, c1), max(r0, r1), max(c0, c1))


@lru_cache(maxsize=256)
def _formula_regex(cols: tuple[str, ...]) -> re.Pattern[bytes]:
    """Cells of the given columns whose element starts with <f> (a formula): one regex per
    column set, so the scan skips every other cell at C speed."""
    alt = "|".join(cols).encode()
    # Starts with the literal 'r=' so the regex engine can skip ahead fast (~6x faster than a
    # leading '<c' or '\s'); no other sheetData attribute name ends in 'r'.
    return re.compile(rb"r=[\"'](" + alt + rb")([0-9]{1,7})[\"'][^>]*>\s*<(?:[\w.-]+:)?f[\s>/]")


# --- packages: one per container format -------------------------------------------------------
class _Package:
    """What the reader needs from a workbook file besides cell values."""

    def __init__(self) -> None:
        self.sheets: list[str] = []
        # casefolded workbook-scoped kofu_* name → target (never mutated once built: the xlsx
        # parse result is shared between files with the same workbook.xml)
        self.names: Mapping[str, _NameTarget] = {}
        self.active: list[str] = []  # macros, links, DDE found (reported, never run)

    def formula_cells(self, sheet: str, cols: frozenset[int], last_row: int) -> set[tuple[int, int]]:
        """Zero-based (row, col) of the formula cells on ``sheet`` in columns ``cols`` up to
        ``last_row`` (the input area: everything else is skipped)."""
        try:
            return self._formula_cells(sheet, cols, last_row)
        except _PARSE_ERRORS as e:
            raise _Unreadable(_parse_message(e)) from e

    def _formula_cells(self, sheet: str, cols: frozenset[int], last_row: int) -> set[tuple[int, int]]:
        raise NotImplementedError

    def check_extent(self, sheet: str) -> None:
        """Raise before calamine reads a sheet too big to hold. xlsx and ods extents were
        bounded by intake's pre-scan; xls is bounded here (see :class:`_Xls`)."""


@_small_cache(maxsize=32, limit=64 * 1024)
def _workbook_xml(data: bytes) -> tuple[tuple[str, ...], Mapping[str, str], Mapping[str, _NameTarget]]:
    """workbook.xml → (sheet names, sheet name → r:id, kofu_* names). Cached by content: the
    files of one template share the same workbook.xml, so a batch parses it about once."""
    sheets: list[str] = []
    rids: dict[str, str] = {}
    names: dict[str, _NameTarget] = {}
    for elem in _xml(data):
        tag = _local(elem.tag)
        if tag == "sheets":
            for sh in elem:
                name, rid = sh.get("name"), _attr(sh, "id")
                if name is not None:
                    sheets.append(name)
                    if rid is not None:
                        rids[name] = rid
        elif tag == "definedNames":
            for d in elem:
                name = d.get("name")
                # Sheet-scoped names (print titles, copies of a sheet) are not ours.
                if name and d.get("localSheetId") is None and name[:5].lower() == _NAME_PREFIX:
                    names[name.casefold()] = _xlsx_ref(d.text or "")
    # Read-only views: the cached result is shared by every file with this workbook.xml.
    return tuple(sheets), MappingProxyType(rids), MappingProxyType(names)


@_small_cache(maxsize=32, limit=64 * 1024)
def _rels_targets(data: bytes, base: str) -> Mapping[str, str]:
    """A .rels part → relationship id → part path (resolved against ``base``)."""
    out = {}
    for rel in _xml(data):
        rid, target = rel.get("Id"), rel.get("Target") or ""
        if rid is not None:
            out[rid] = (target.lstrip("/") if target.startswith("/")
                        else posixpath.normpath(posixpath.join(base, target)))
    return MappingProxyType(out)


class _Xlsx(_Package):
    def __init__(self, z: zipfile.ZipFile, data: bytes) -> None:
        super().__init__()
        self.zip, self.data = z, memoryview(data)
        # Part names are case-insensitive in OPC; zipfile is not.
        self.members = {n.lower(): n for n in z.namelist()}
        if "xl/workbook.bin" in self.members:
            raise _Unreadable("xlsb 形式（Excel バイナリブック）には対応していません。xlsx で保存してください")
        self.wb_path = "xl/workbook.xml" if "xl/workbook.xml" in self.members else self._office_document()
        sheets, self.sheet_rids, self.names = _workbook_xml(self._read(self.wb_path))
        self.sheets = list(sheets)
        self._paths: dict[str, str] | None = None
        self._scan_active()

    def _read(self, path: str) -> bytes:
        if path.lower() not in self.members:
            raise _Unreadable(f"ブックの部品 {path} がありません")
        return self._inflate(path)

    def _inflate(self, path: str) -> bytes:
        """A member's bytes, inflated straight from the archive: half the cost of
        ``ZipFile.read`` (no CRC pass, no file object), bounded by the size intake checked."""
        info = self.zip.getinfo(self.members[path.lower()])
        if info.compress_type != zipfile.ZIP_DEFLATED:
            return self.zip.read(info)
        buf, off = self.data, info.header_offset
        if buf[off:off + 4] != b"PK\x03\x04":
            raise _Unreadable(f"ブックの部品 {path} のヘッダーが壊れています")
        name_len, extra_len = struct.unpack_from("<HH", buf, off + 26)
        start = off + 30 + name_len + extra_len
        out = zlib.decompressobj(-15).decompress(buf[start:start + info.compress_size], info.file_size + 1)
        if len(out) != info.file_size:
            raise _Unreadable(f"ブックの部品 {path} が壊れています（展開後の大きさが目録と違います）")
        return out

    def _office_document(self) -> str:
        if "_rels/.rels" not in self.members:
            raise _Unreadable("xl/workbook.xml がありません（Excel ブックではありません）")
        for rel in _xml(self._read("_rels/.rels")):
            if (rel.get("Type") or "").endswith("/officeDocument"):
                return (rel.get("Target") or "").lstrip("/")
        raise _Unreadable("ブック本体（officeDocument）が見つかりません")

    def _scan_active(self) -> None:
        m = self.members
        if any(n.endswith("vbaproject.bin") for n in m):
            self.active.append("マクロ（VBA）")
        if any(n.startswith("xl/macrosheets/") for n in m):
            self.active.append("Excel 4.0 マクロシート")
        links = [n for n in m if n.startswith("xl/externallinks/") and n.endswith(".xml")]
        if links:
            self.active.append("外部リンク")
            if any(b"ddeLink" in self._read(n) for n in links):
                self.active.append("DDE リンク")
        if any(n.startswith(("xl/embeddings/", "xl/activex/")) for n in m):
            self.active.append("OLE オブジェクト・ActiveX コントロール")

    def _sheet_path(self, sheet: str) -> str | None:
        if self._paths is None:
            wb_dir = posixpath.dirname(self.wb_path)
            rels = posixpath.join(wb_dir, "_rels", posixpath.basename(self.wb_path) + ".rels")
            targets = _rels_targets(self._read(rels), wb_dir) if rels.lower() in self.members else {}
            self._paths = {name: targets[rid] for name, rid in self.sheet_rids.items() if rid in targets}
        return self._paths.get(sheet)

    def _formula_cells(self, sheet: str, cols: frozenset[int], last_row: int) -> set[tuple[int, int]]:
        path = self._sheet_path(sheet)
        if path is None or path.lower() not in self.members:
            return set()
        xml = self._read(path)
        pattern = _formula_regex(tuple(sorted(col_name(c) for c in cols)))
        found = set()
        for col, row in pattern.findall(xml):
            r, c = rowcol(col.decode() + row.decode())
            if r <= last_row:
                found.add((r, c))
        return found


_ODS_DDE = re.compile(rb"formula=\"[^\"]*\bDDE\(", re.IGNORECASE)


class _Ods(_Package):
    NS_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    NS_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"

    def __init__(self, z: zipfile.ZipFile) -> None:
        super().__init__()
        self.zip = z
        members = z.namelist()
        if "content.xml" not in members:
            raise _Unreadable("content.xml がありません（OpenDocument 表計算ではありません）")
        t, o = f"{{{self.NS_TABLE}}}", f"{{{self.NS_OFFICE}}}"
        self.t = t
        content = self.zip.read("content.xml")
        root = _xml(content)
        body = root.find(f"{o}body/{o}spreadsheet")
        if body is None:
            raise _Unreadable("表計算のデータがありません")
        self.tables: dict[str, ET.Element] = {}
        names: dict[str, _NameTarget] = {}
        self.names = names
        for elem in body:
            if elem.tag == f"{t}table":
                name = elem.get(f"{t}name") or ""
                self.sheets.append(name)
                self.tables[name] = elem
            elif elem.tag == f"{t}named-expressions":
                # Only the spreadsheet-level block: the ones inside a table are sheet-scoped.
                for nr in elem:
                    name = nr.get(f"{t}name") or ""
                    if name[:5].lower() != _NAME_PREFIX:
                        continue
                    if nr.tag == f"{t}named-range":
                        names[name.casefold()] = _ods_ref(nr.get(f"{t}cell-range-address") or "")
                    else:  # a named expression (a formula), not a cell range
                        names[name.casefold()] = _BROKEN
        if any(n.startswith(("Basic/", "Scripts/")) for n in members):
            self.active.append("マクロ（Basic・スクリプト）")
        if body.find(f".//{t}table-source") is not None or body.find(f".//{t}cell-range-source") is not None:
            self.active.append("外部リンク")
        if body.find(f"{t}dde-links") is not None or _ODS_DDE.search(content):
            self.active.append("DDE リンク")

    def _rows(self, table: ET.Element) -> Iterator[ET.Element]:
        """Rows in document order, through header-rows and row groups (no recursion)."""
        t = self.t
        stack = [iter(table)]
        groups = {f"{t}table-header-rows", f"{t}table-row-group", f"{t}table-rows"}
        while stack:
            for elem in stack[-1]:
                if elem.tag == f"{t}table-row":
                    yield elem
                elif elem.tag in groups:
                    stack.append(iter(elem))
                    break
            else:
                stack.pop()

    def _formula_cells(self, sheet: str, cols: frozenset[int], last_row: int) -> set[tuple[int, int]]:
        table = self.tables.get(sheet)
        if table is None or not cols:
            return set()
        t = self.t
        last_col = max(cols)
        cell_tags = (f"{t}table-cell", f"{t}covered-table-cell")
        found: set[tuple[int, int]] = set()
        r = 0
        for row in self._rows(table):
            if r > last_row:
                break
            nrows = max(1, int(row.get(f"{t}number-rows-repeated", "1")))
            c = 0
            for cell in row:
                if c > last_col:
                    break
                if cell.tag not in cell_tags:
                    continue
                ncols = max(1, int(cell.get(f"{t}number-columns-repeated", "1")))
                if cell.get(f"{t}formula") is not None:
                    # Clip repeats to the input area: a repeat count can be a million.
                    for rr in range(r, min(r + nrows, last_row + 1)):
                        for cc in range(c, min(c + ncols, last_col + 1)):
                            if cc in cols:
                                found.add((rr, cc))
                c += ncols
            r += nrows
        return found


# BIFF8 record types used below (the record walk and the sheet scan live in intake, whose
# pre-check bounds every sheet before calamine parses them all at open).
_BOF, _BOUNDSHEET, _SUPBOOK, _EXTERNSHEET, _NAME, _CONTINUE, _FILEPASS = (
    0x0809, 0x0085, 0x01AE, 0x0017, 0x0018, 0x003C, 0x002F)
_PTG_AREA3D = (0x3B, 0x5B, 0x7B)
_PTG_REF3D = (0x3A, 0x5A, 0x7A)
_SUPBOOK_SELF = 0x0401
_SUPBOOK_ADDIN = 0x3A01


class _Xls(_Package):
    """Excel 97–2003 (BIFF8): names from NAME records resolved through EXTERNSHEET/SUPBOOK,
    formula cells from the FORMULA records of each input sheet's substream."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        ole = olefile.OleFileIO(BytesIO(data))
        if not ole.exists("Workbook"):
            if ole.exists("Book"):
                raise _Unreadable("Excel 95 以前の形式には対応していません。xlsx で保存してください")
            if ole.exists("EncryptedPackage"):
                raise _Unreadable("パスワードで暗号化されたブックです")
            raise _Unreadable("Excel ブックではありません（Workbook ストリームがありません）")
        self.stream = ole.openstream("Workbook").read()
        if ole.exists("_VBA_PROJECT_CUR"):
            self.active.append("マクロ（VBA）")
        if any(entry[0].startswith("MBD") for entry in ole.listdir(streams=False, storages=True)):
            self.active.append("OLE オブジェクト")
        self.offsets: dict[str, int] = {}
        self._scans: dict[str, BiffSheet] = {}
        # calamine parses every sheet when it opens an xls: bound them all first (a far cell or
        # a lying DIMENSIONS record aborts the process), even when intake was not run.
        problem = xls_problem(self.stream, _XLS_LIMITS)
        if problem is not None:
            raise _Unreadable(problem[1], code=problem[0])
        self._globals()

    def _globals(self) -> None:
        records = biff_records(self.stream, 0)
        first = next(records, None)
        if first is None or first[0] != _BOF or struct.unpack_from("<H", first[1])[0] != 0x0600:
            raise _Unreadable("BIFF8（Excel 97–2003）形式ではありません")
        supbooks: list[int] = []
        resolved: dict[str, _NameTarget] = {}
        self.names = resolved
        xti: list[tuple[int, int, int]] = []
        names: list[tuple[str, bytes]] = []
        last = 0
        for rtype, data in records:
            if rtype == _FILEPASS:
                raise _Unreadable("パスワードで暗号化されたブックです")
            if rtype == _BOUNDSHEET:
                pos, _state, dt = struct.unpack_from("<IBB", data)
                name = biff_short_string(data, 6)
                self.sheets.append(name)
                self.offsets[name] = pos
                if dt in (1, 6):  # Excel 4.0 macro sheet, VB module
                    self.active.append("Excel 4.0 マクロシート" if dt == 1 else "マクロ（VBA）")
            elif rtype == _SUPBOOK:
                _ctab, cch = struct.unpack_from("<HH", data)
                supbooks.append(cch)
                if cch not in (_SUPBOOK_SELF, _SUPBOOK_ADDIN) and "外部リンク・DDE" not in self.active:
                    self.active.append("外部リンク・DDE")
            elif rtype == _EXTERNSHEET or (rtype == _CONTINUE and last == _EXTERNSHEET):
                # XTI entries (supbook, first sheet, last sheet); a long list goes on in CONTINUE.
                body = data[2:] if rtype == _EXTERNSHEET else data
                xti.extend(struct.iter_unpack("<HHH", body[: len(body) // 6 * 6]))
            elif rtype == _NAME:
                flags, _key, cch, cce, _r, itab = struct.unpack_from("<HBBHHH", data)
                if flags & 0x20 or itab != 0:  # built-in (print titles…) or sheet-scoped
                    continue
                high = struct.unpack_from("<B", data, 14)[0] & 1
                end = 15 + cch * (2 if high else 1)
                name = data[15:end].decode("utf-16-le" if high else "latin-1")
                if name[:5].lower() == _NAME_PREFIX:
                    names.append((name, data[end: end + cce]))
            if rtype != _CONTINUE:
                last = rtype
        for name, rgce in names:
            resolved[name.casefold()] = self._resolve(rgce, supbooks, xti)

    def _resolve(self, rgce: bytes, supbooks: list[int], xti: list[tuple[int, int, int]]) -> _NameTarget:
        if not rgce:
            return _BROKEN
        ptg = rgce[0]
        if ptg in _PTG_AREA3D and len(rgce) == 11:
            ixti, r0, r1, c0, c1 = struct.unpack_from("<HHHHH", rgce, 1)
        elif ptg in _PTG_REF3D and len(rgce) == 7:
            ixti, r0, c0 = struct.unpack_from("<HHH", rgce, 1)
            r1, c1 = r0, c0
        elif ptg in _PTG_AREA3D or ptg in _PTG_REF3D:
            return _MULTI  # a union or an expression around the area
        else:
            return _BROKEN  # #REF! (PtgRefErr3d/PtgAreaErr3d) or not a reference
        if ixti >= len(xti):
            return _BROKEN
        book, first, last = xti[ixti]
        if book >= len(supbooks) or supbooks[book] != _SUPBOOK_SELF or first != last or first >= len(self.sheets):
            return _BROKEN
        c0, c1 = c0 & 0x3FFF, c1 & 0x3FFF
        return _Ref(self.sheets[first], min(r0, r1), min(c0, c1), max(r0, r1), max(c0, c1))

    def _scan(self, sheet: str) -> BiffSheet:
        """One walk over a sheet's records (intake's scan): the cells calamine would hold (the
        bounding box of the value records) and the formula cells."""
        scan = self._scans.get(sheet)
        if scan is None:
            pos = self.offsets.get(sheet)
            scan = BiffSheet(None, set(), None, []) if pos is None else scan_biff_sheet(self.stream, pos)
            self._scans[sheet] = scan
        return scan

    def _formula_cells(self, sheet: str, cols: frozenset[int], last_row: int) -> set[tuple[int, int]]:
        return {(r, c) for r, c in self._scan(sheet).formulas if c in cols and r <= last_row}

    def check_extent(self, sheet: str) -> None:
        # A single far cell (IV65536) makes calamine and to_python hold 16.7 million cells
        # (1.2 GB, 2 s); the whole workbook was bounded at open, this is the per-sheet check.
        try:
            cells = self._scan(sheet).cells
        except _PARSE_ERRORS as e:
            raise _Unreadable(_parse_message(e)) from e
        if cells > MAX_CELLS:
            raise _Unreadable(f"シート「{sheet}」のセル範囲が {cells:,} セルあり、上限 {MAX_CELLS:,} を超えています",
                              code="E108")


def _open_package(data: bytes) -> _Package:
    """Pick the container by its bytes, not by the file name (a .xls that is really an xlsx
    is common). Every parser error becomes :class:`_Unreadable`."""
    try:
        if data[:8] == _OLE_MAGIC:
            return _Xls(data)
        if data[:2] != b"PK":
            raise _Unreadable("Excel・OpenDocument のブックではありません（ファイルの形式を判別できません）")
        z = zipfile.ZipFile(BytesIO(data))
        if "content.xml" in z.NameToInfo and "xl/workbook.xml" not in z.NameToInfo:
            return _Ods(z)
        return _Xlsx(z, data)
    except _PARSE_ERRORS as e:
        raise _Unreadable(_parse_message(e)) from e


def _parse_message(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0][:120] if str(e).strip() else ""
    detail = f"{type(e).__name__}: {text}" if text else type(e).__name__
    return f"ファイルが壊れているか Excel・OpenDocument の形式ではないため読み込めません（詳細: {detail}）"


# --- values ----------------------------------------------------------------------------------
class _Grid:
    """One sheet's values as calamine gave them: rows from its used range's top-left corner."""

    __slots__ = ("c0", "r0", "rows")

    def __init__(self, rows: list[list[Any]], start: tuple[int, int] | None) -> None:
        self.rows = rows
        self.r0, self.c0 = start if start is not None else (0, 0)

    def get(self, r: int, c: int) -> Any:
        i, j = r - self.r0, c - self.c0
        if 0 <= i < len(self.rows) and j >= 0:
            row = self.rows[i]
            if j < len(row):
                v = row[j]
                return None if v == "" else v
        return None


_INTERRUPTS = (KeyboardInterrupt, SystemExit, GeneratorExit)


class _Values:
    """Sheets read on demand, each once."""

    def __init__(self, data: bytes, pkg: _Package) -> None:
        self.pkg = pkg
        try:
            self.book = CalamineWorkbook.from_filelike(BytesIO(data))
            self.sheets = set(self.book.sheet_names)
        except _INTERRUPTS:
            raise
        except BaseException as e:  # anything calamine raises is about these bytes; a Rust
            # panic arrives as pyo3's PanicException, which derives from BaseException
            raise _Unreadable(_parse_message(e)) from e
        self._grids: dict[str, _Grid] = {}

    def grid(self, sheet: str) -> _Grid:
        g = self._grids.get(sheet)
        if g is None:
            self.pkg.check_extent(sheet)
            try:
                ws = self.book.get_sheet_by_name(sheet)
                rows, start = ws.to_python(), ws.start
            except _INTERRUPTS:
                raise
            except BaseException as e:  # as above: calamine's errors (and panics) are the file's
                raise _Unreadable(_parse_message(e)) from e
            g = self._grids[sheet] = _Grid(rows, start)
        return g


def _text(v: Any) -> str:
    """A _meta or code cell as text: 13101.0 → '13101', dates ISO."""
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return str(v).strip()


def _code_text(v: Any) -> str:
    """A municipality code as text: a number lost its leading zero, so pad it back."""
    s = _text(v)
    if isinstance(v, (int, float)) and not isinstance(v, bool) and s.isdigit() and len(s) < 6:
        return s.zfill(6)
    return s


# --- the form definition, arranged for reading -----------------------------------------------
@dataclass(frozen=True, slots=True)
class _Slot:
    placement: forms.Placement
    key: str  # casefolded defined name
    entries: tuple[forms.CatalogEntry, ...]  # by index inside the range


@cache
def _slots(kind: str) -> tuple[_Slot, ...]:
    by_name: dict[str, list[forms.CatalogEntry]] = {}
    for e in forms.catalog(kind):
        by_name.setdefault(e.defined_name, []).append(e)
    out = []
    for table in forms.FORMS[kind].tables:
        for p in forms.placements(table):
            entries = sorted(by_name[p.name], key=lambda e: e.index)
            out.append(_Slot(p, p.name.casefold(), tuple(entries)))
    return tuple(out)


# --- the reader ------------------------------------------------------------------------------
def _finding(book: Book, code: str, message: str, severity: str = "error", sheet: str = "",
             cell: str = "", field: str = "") -> None:
    book.findings.append(Finding(code, severity, message, file=book.file, member=book.member,
                                 sheet=sheet, cell=cell, field=field, muni_code=book.muni_code))
    if severity == "error":
        book.status = "unreadable"


def read_book(data: bytes, fmt: str, file: str = "", member: str = "") -> Book:
    """Bytes of one workbook → a :class:`Book` with raw input cells keyed by catalog id.

    Never raises for bad input: what stops reading becomes an E1xx finding and status
    ``unreadable`` (with no cells). ``fmt`` (xlsx xlsm xls ods) is recorded as given; the
    container is recognised from the bytes. Intake must have run ``check_workbook`` first
    (calamine aborts the whole process on some hostile sheet extents).
    """
    book = Book(file=file, member=member, fmt=fmt)
    pkg: _Package | None = None
    try:
        pkg = _open_package(data)
        values = _Values(data, pkg)
        _read(book, pkg, values)
    except _Unreadable as e:
        _finding(book, e.code, str(e))
    if pkg is not None and pkg.active:
        _finding(book, "W405", f"{'・'.join(pkg.active)}が含まれています。実行せず、値のみ読み取りました",
                 severity="warning")
    if book.status == "unreadable":
        book.cells = {}
        book.tidy = []
    return book


def _read(book: Book, pkg: _Package, values: _Values) -> None:
    meta_target = pkg.names.get(forms.META_NAME)
    meta_ref = meta_target if isinstance(meta_target, _Ref) else None
    meta_sheet = meta_ref.sheet if meta_ref is not None else forms.META_SHEET
    has_meta = meta_sheet in values.sheets
    if has_meta:
        book.meta = _read_meta(values, meta_sheet, meta_ref)
    kind = book.meta.get("kind", "")
    # A summary written by the merge may carry a _meta marker of its own; older ones do not.
    if kind == SUMMARY_KIND or (not has_meta and SUMMARY_SHEET in values.sheets):
        _read_summary(book, values)
        return
    if not has_meta:
        if pkg.names or _FORM_SHEETS & values.sheets:
            _finding(book, "E103", f"{forms.META_SHEET} シートがありません（本ツールで作成した様式か、"
                                   "シートを削除していないか確認してください）")
        else:
            _finding(book, "E117", "本ツールの様式でも、とりまとめ表でもありません"
                                   f"（シート: {'、'.join(pkg.sheets[:5]) or 'なし'}）")
        return
    book.muni_code = book.meta.get("muni_code", "")
    if not kind:
        _finding(book, "E105", f"{forms.META_SHEET} シートに様式の種類（kind）がありません（様式が改変されています）",
                 sheet=meta_sheet)
        return
    if kind not in forms.FORMS:
        _finding(book, "E117", f"{forms.META_SHEET} シートの様式の種類「{kind}」は本ツールの様式ではありません",
                 sheet=meta_sheet)
        return
    book.kind = kind
    book.version = book.meta.get("version", "")
    if book.version not in KNOWN_VERSIONS:
        known = "、".join(sorted(KNOWN_VERSIONS))
        _finding(book, "E104", f"様式のバージョン「{book.version}」には対応していません（対応: {known}）。"
                               "最新の様式で作成し直してください", sheet=meta_sheet)
        return
    if book.meta.get("fingerprint", "") != forms.fingerprint(kind):
        _finding(book, "E105", f"{forms.META_SHEET} シートの様式の指紋が一致しません"
                               "（様式が改変されています）。配布した様式で作成し直してください", sheet=meta_sheet)
        return
    refs = _resolve_names(book, pkg, values, kind)
    if book.status == "unreadable":
        return
    _read_cells(book, pkg, values, kind, refs)
    if not book.muni_code:
        raw = book.cells.get("basic.muni_code")
        book.muni_code = _code_text(raw.value) if raw else ""


def _read_meta(values: _Values, sheet: str, ref: _Ref | None) -> dict[str, str]:
    grid = values.grid(sheet)
    last = grid.r0 + len(grid.rows) - 1
    if ref is not None and ref.c1 >= ref.c0 + 1:
        r0, r1, c0 = ref.r0, min(ref.r1, last), ref.c0  # a name can claim a million rows
    else:
        r0, r1, c0 = grid.r0, last, grid.c0
    meta: dict[str, str] = {}
    for r in range(r0, r1 + 1):
        key = _text(grid.get(r, c0))
        if key and key not in meta:
            meta[key] = _text(grid.get(r, c0 + 1))
    return meta


def _resolve_names(book: Book, pkg: _Package, values: _Values, kind: str) -> dict[str, _Ref]:
    """Every input name of the form → its area, checked against the definition's shape."""
    refs: dict[str, _Ref] = {}
    for slot in _slots(kind):
        p = slot.placement
        target = pkg.names.get(slot.key)
        if isinstance(target, _Ref):
            if target.sheet not in values.sheets:
                _finding(book, "E106", f"名前付き範囲 {p.name} が指すシート「{target.sheet}」がありません",
                         sheet=target.sheet, field=p.name)
                continue
            nrows, ncols = target.r1 - target.r0 + 1, target.c1 - target.c0 + 1
            if (nrows, ncols) != (p.nrows, 1):
                _finding(book, "E105", f"名前付き範囲 {p.name}（{target.sheet}!{target.a1}）の大きさが"
                                       f"{nrows}行×{ncols}列で、様式の{p.nrows}行×1列と違います"
                                       "（表の中に行・列を挿入・削除していませんか）",
                         sheet=target.sheet, cell=target.a1, field=p.name)
                continue
            refs[slot.key] = target
        elif target is None:
            _finding(book, "E106", f"名前付き範囲 {p.name} がありません（様式の行・列やシートを削除していませんか）",
                     sheet=p.sheet, field=p.name)
        elif target == _BROKEN:
            _finding(book, "E106", f"名前付き範囲 {p.name} の参照先が失われています（行・列・シートを削除していませんか）",
                     sheet=p.sheet, field=p.name)
        elif target == _MULTI:
            _finding(book, "E105", f"名前付き範囲 {p.name} が複数の範囲を指しています（様式が改変されています）",
                     sheet=p.sheet, field=p.name)
    return refs


def _read_cells(book: Book, pkg: _Package, values: _Values, kind: str, refs: dict[str, _Ref]) -> None:
    slots = _slots(kind)
    # Formula cells: one pass over each input sheet's part, limited to the input columns.
    cols: dict[str, set[int]] = {}
    last: dict[str, int] = {}
    for ref in refs.values():
        cols.setdefault(ref.sheet, set()).add(ref.c0)
        last[ref.sheet] = max(last.get(ref.sheet, 0), ref.r1)
    formulas = {sheet: pkg.formula_cells(sheet, frozenset(c), last[sheet]) for sheet, c in cols.items()}
    cells = book.cells
    for slot in slots:
        ref = refs[slot.key]
        sheet = ref.sheet
        grid = values.grid(sheet)
        found = formulas[sheet]
        p = slot.placement
        n = len(slot.entries)
        # The column's values in one list comprehension (no call per cell); calamine's rows
        # all have the used range's width, and cells outside the used range are blank.
        rows, i0, j = grid.rows, ref.r0 - grid.r0, ref.c0 - grid.c0
        if rows and 0 <= j < len(rows[0]):
            col_values = [row[j] for row in rows[max(i0, 0):max(i0 + n, 0)]]
            if i0 < 0:
                col_values[:0] = [None] * min(-i0, n)
            col_values.extend([None] * (n - len(col_values)))
        else:
            col_values = [None] * n
        if ref.r0 == p.first_row and ref.c0 == p.col and not found:
            # The usual case: the name still points at the definition's own cells.
            for entry, v in zip(slot.entries, col_values, strict=True):
                cells[entry.id] = RawCell(None if v == "" else v, sheet, entry.cell, False)
            continue
        col = ref.c0
        for i, (entry, v) in enumerate(zip(slot.entries, col_values, strict=True)):
            row = ref.r0 + i
            cells[entry.id] = RawCell(None if v == "" else v, sheet, a1(row, col), (row, col) in found)


def _read_summary(book: Book, values: _Values) -> None:
    """A prefectural summary: its tidy データ sheet, for the national merge."""
    if SUMMARY_SHEET not in values.sheets:
        _finding(book, "E117", f"とりまとめ表の {SUMMARY_SHEET} シートがありません")
        return
    grid = values.grid(SUMMARY_SHEET)
    header_row = -1
    cols: dict[str, int] = {}
    for i, row in enumerate(grid.rows[:_SUMMARY_HEADER_ROWS]):
        labels = {_text(v): j for j, v in enumerate(row)}
        if all(c in labels for c in SUMMARY_COLUMNS):
            header_row, cols = i, labels
            break
    if header_row < 0:
        _finding(book, "E117", f"{SUMMARY_SHEET} シートに見出し（{'・'.join(SUMMARY_COLUMNS)}）がありません"
                               "（本ツールの様式でも、とりまとめ表でもありません）", sheet=SUMMARY_SHEET)
        return
    book.kind = SUMMARY_KIND
    book.version = book.meta.get("version", "")
    book.muni_code = ""
    idx = [cols[c] for c in SUMMARY_COLUMNS]
    width = max(idx) + 1
    tidy = book.tidy
    for row in grid.rows[header_row + 1:]:
        if len(row) < width:
            row = [*row, *([""] * (width - len(row)))]
        code, kind, table, item, period, value = (row[j] for j in idx)
        if code == "" and kind == "" and table == "" and item == "" and value == "":
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif value == "":
            value = None
        if isinstance(period, (date, datetime)):
            period = f"{period.year:04d}-{period.month:02d}"
        tidy.append((_code_text(code), _text(kind), _text(table), _text(item), _text(period), value))
