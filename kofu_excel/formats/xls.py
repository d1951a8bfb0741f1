"""Excel 97–2003 workbooks (xls, BIFF8 in an OLE container): records, pre-scan and the reader's package.

calamine parses every sheet when it opens an xls and aborts the process (a Rust abort, not an
exception) on a DIMENSIONS record claiming rwMac = 0xFFFFFFFF or a cell at column 65535; a
cell at IV65536 costs it 1.2 GB. So every sheet's records are bounded first
(:func:`xls_problem`, by the pre-scan and again when the reader opens the package).

python-calamine exposes no defined names, so :class:`XlsPackage` reads the BIFF8 NAME records
and resolves them through EXTERNSHEET/SUPBOOK: a moved table is read where it is, exactly as
for xlsx and ods, with no positional fallback. Formula cells come from FORMULA records.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from .base import col_letters, size_text
from .limits import DEFAULT_LIMITS, Limits
from .ole import OLE_MAGIC, open_ole
from .reader import (
    BROKEN,
    MULTI,
    NAME_PREFIX,
    PARSE_ERRORS,
    NameTarget,
    Package,
    Ref,
    Unreadable,
    parse_message,
)

__all__ = [
    "BiffSheet",
    "XlsPackage",
    "biff_records",
    "biff_short_string",
    "check_xls",
    "scan_biff_sheet",
    "xls_problem",
]

# BIFF record types (MS-XLS 2.3).
BIFF_BOF, BIFF_EOF, BIFF_FILEPASS, BIFF_BOUNDSHEET = 0x0809, 0x000A, 0x002F, 0x0085
BIFF_SUPBOOK, BIFF_EXTERNSHEET, BIFF_NAME, BIFF_CONTINUE = 0x01AE, 0x0017, 0x0018, 0x003C
BIFF_BOF, BIFF_EOF, BIFF_FILEPASS, BIFF_BOUNDSHEET = 0x0809, 0x000A, 0x002F, 0x0085
BIFF_DIMENSIONS, BIFF_FORMULA, BIFF_STRING = 0x0200, 0x0006, 0x0207
BIFF_MULRK, BIFF_BLANK, BIFF_MULBLANK = 0x00BD, 0x0201, 0x00BE
# Records calamine turns into a cell: NUMBER, RK, LABELSST, LABEL, BOOLERR, RSTRING, FORMULA
# (MULRK and the STRING after a FORMULA too; BLANK and MULBLANK are not placed).
BIFF_VALUES = frozenset({0x0203, 0x027E, 0x00FD, 0x0204, 0x0205, 0x00D6, BIFF_FORMULA})
BIFF_CELLS = BIFF_VALUES | {BIFF_BLANK}
XLS_MAX_ROWS, XLS_MAX_COLS = 65_536, 256


def biff_records(stream: bytes, pos: int) -> Iterator[tuple[int, bytes]]:
    """(type, data) of the records of one substream, from ``pos`` to its EOF record.

    Raises ValueError when a record is cut short (as calamine stops with an error there).
    """
    end = len(stream)
    unpack = struct.unpack_from
    while pos + 4 <= end:
        rtype, length = unpack("<HH", stream, pos)
        data = stream[pos + 4 : pos + 4 + length]
        if len(data) != length:
            raise ValueError("BIFF レコードが途中で切れています")
        yield rtype, data
        if rtype == BIFF_EOF:
            return
        pos += 4 + length


def biff_short_string(data: bytes, pos: int, errors: str = "strict") -> str:
    """ShortXLUnicodeString: a length byte, a flags byte, then Latin-1 or UTF-16 characters."""
    cch, flags = struct.unpack_from("<BB", data, pos)
    if flags & 1:
        return data[pos + 2 : pos + 2 + 2 * cch].decode("utf-16-le", errors)
    return data[pos + 2 : pos + 2 + cch].decode("latin-1", errors)


@dataclass
class BiffSheet:
    """One sheet substream as calamine will hold it (zero-based rows and columns)."""

    box: tuple[int, int, int, int] | None  # first row, first col, last row, last col of the cells
    formulas: set[tuple[int, int]]
    widest: tuple[int, int] | None  # (row, col) of a cell record beyond column IV, if any
    dimensions: list[tuple[int, int, int, int]]  # (rwMic, rwMac, colMic, colMac) as declared

    @property
    def cells(self) -> int:
        """The rectangle calamine allocates: the bounding box of the cells it places."""
        if self.box is None:
            return 0
        r0, c0, r1, c1 = self.box
        return (r1 - r0 + 1) * (c1 - c0 + 1)


def scan_biff_sheet(stream: bytes, pos: int) -> BiffSheet:
    """One walk over a sheet's records, from its BOF to its EOF: the cells calamine places
    (it ignores blank cells), the formula cells, cell records beyond column IV, DIMENSIONS."""
    unpack = struct.unpack_from
    formulas: set[tuple[int, int]] = set()
    dimensions: list[tuple[int, int, int, int]] = []
    widest: tuple[int, int] | None = None
    r_min = c_min = 1 << 20
    r_max = c_max = -1
    last_formula = (0, 0)  # calamine places a STRING record at the last FORMULA's cell
    for rtype, data in biff_records(stream, pos):
        if rtype in BIFF_CELLS:
            r, c = unpack("<HH", data)
            c_last = c
            if rtype == BIFF_FORMULA:
                formulas.add((r, c))
                last_formula = (r, c)
            elif rtype == BIFF_BLANK:
                if c >= XLS_MAX_COLS and widest is None:
                    widest = (r, c)
                continue
        elif rtype in (BIFF_MULRK, BIFF_MULBLANK):
            r, c = unpack("<HH", data)
            c_last = unpack("<H", data, len(data) - 2)[0]
            if rtype == BIFF_MULBLANK:
                if max(c, c_last) >= XLS_MAX_COLS and widest is None:
                    widest = (r, max(c, c_last))
                continue
        elif rtype == BIFF_STRING:
            r, c = last_formula
            c_last = c
        elif rtype == BIFF_DIMENSIONS:
            if len(data) >= 14:
                dimensions.append(unpack("<IIHH", data))
            elif len(data) >= 8:
                dimensions.append(unpack("<HHHH", data))
            continue
        else:
            continue
        if max(c, c_last) >= XLS_MAX_COLS and widest is None:
            widest = (r, max(c, c_last))
        r_min, r_max = min(r_min, r), max(r_max, r)
        c_min, c_max = min(c_min, c, c_last), max(c_max, c, c_last)
    box = (r_min, c_min, r_max, c_max) if r_max >= 0 else None
    return BiffSheet(box, formulas, widest, dimensions)


def xls_problem(stream: bytes, limits: Limits) -> tuple[str, str] | None:
    """(code, reason) when calamine must not open this BIFF ``Workbook`` stream: the globals
    substream's sheet list, then each sheet as calamine will walk it. Raises ValueError or
    struct.error on records cut short."""
    sheets: list[tuple[str, int]] = []
    for rtype, data in biff_records(stream, 0):
        if rtype == BIFF_FILEPASS and data[:2] != b"\x00\x00":
            return None  # still encrypted: calamine refuses it before reading any sheet
        if rtype == BIFF_BOUNDSHEET:
            (pos,) = struct.unpack_from("<I", data)
            sheets.append((biff_short_string(data, 6, "replace") if len(data) > 7 else "", pos))
    if len(sheets) > limits.max_sheets:
        return ("E108", f"シートが {len(sheets)} 枚あり、上限 {limits.max_sheets} 枚を超えています")
    for name, pos in sheets:
        where = f"シート「{name}」"
        if pos >= len(stream):
            return ("E111", f"{where}の位置情報が壊れています（xls のブックデータの外を指しています）")
        sheet = scan_biff_sheet(stream, pos)
        for rw0, rw1, col0, col1 in sheet.dimensions:
            if rw1 > XLS_MAX_ROWS or col1 > XLS_MAX_COLS or rw0 > rw1 or col0 > col1:
                return ("E108", f"{where}の使用範囲の宣言（DIMENSIONS レコード：行 {rw0:,}〜{rw1:,}、列 {col0:,}〜{col1:,}）が"
                                f"Excel 97-2003 形式の上限（{XLS_MAX_ROWS:,} 行 × {XLS_MAX_COLS} 列）を超えているか不正です")
            if (rw1 - rw0) * (col1 - col0) > limits.max_cells:
                return ("E108", f"{where}の使用範囲の宣言（約 {(rw1 - rw0) * (col1 - col0):,} セル）が"
                                f"上限 {limits.max_cells:,} セルを超えています")
        if sheet.widest is not None:
            r, c = sheet.widest
            return ("E108", f"{where}に列番号 {c + 1:,}（{r + 1:,} 行目）のセルがあり、Excel 97-2003 形式の上限"
                            f"（{XLS_MAX_ROWS:,} 行 × {XLS_MAX_COLS} 列）を超えています（壊れているか、細工されたファイルです）")
        if sheet.cells > limits.max_cells:
            r0, c0, r1, c1 = sheet.box or (0, 0, 0, 0)
            return ("E108", f"{where}の使用範囲が {col_letters(c0 + 1)}{r0 + 1}:{col_letters(c1 + 1)}{r1 + 1}"
                            f"（約 {sheet.cells:,} セル）と広く、上限 {limits.max_cells:,} セルを超えています。"
                            "離れた位置に入力されたセルを削除して保存し直してください")
    return None


def check_xls(data: bytes, limits: Limits) -> tuple[str, str] | None:
    """The container, then every sheet's BIFF records: calamine parses all sheets when it
    opens an xls and aborts the process (a Rust abort, not an exception) on a DIMENSIONS
    record claiming rwMac = 0xFFFFFFFF or a cell at column 65535; a cell at IV65536 costs it
    1.2 GB. So the records are bounded here, before calamine ever sees the bytes."""
    if not data.startswith(OLE_MAGIC):
        return ("E111", "Excel 97-2003 ブック（xls）の形式ではありません")
    try:
        ole = open_ole(data)
    except Exception:
        return ("E111", "xls ファイルの構造が壊れています")
    with contextlib.closing(ole):
        # calamine reads "Workbook", else "Book": the same stream is checked.
        stream = "Workbook" if ole.exists("Workbook") else "Book" if ole.exists("Book") else None
        if stream is None:
            return ("E101", "xls ファイルにブックのデータ（Workbook ストリーム）がありません")
        if ole.get_size(stream) > limits.max_part_bytes:
            return ("E108", f"xls のブックデータが {size_text(ole.get_size(stream))} あり、上限を超えています")
        book = ole.openstream(stream).read()
    try:
        return xls_problem(book, limits)
    except (ValueError, struct.error):
        return ("E111", "xls ファイルのブックデータが壊れているか、途中で切れています")


# --- reader ----------------------------------------------------------------------------------

MAX_CELLS = DEFAULT_LIMITS.max_cells  # per sheet, as the pre-scan's default bound (docs/spec/quality.md)
# The reader's own bound on an xls before calamine opens it (intake has bounded the sheet count).
_XLS_LIMITS = Limits(max_sheets=2**31, max_cells=MAX_CELLS)
_PTG_AREA3D = (0x3B, 0x5B, 0x7B)
_PTG_REF3D = (0x3A, 0x5A, 0x7A)
_SUPBOOK_SELF = 0x0401
_SUPBOOK_ADDIN = 0x3A01


class XlsPackage(Package):
    """Excel 97–2003 (BIFF8): names from NAME records resolved through EXTERNSHEET/SUPBOOK,
    formula cells from the FORMULA records of each input sheet's substream."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        ole = open_ole(data)
        if not ole.exists("Workbook"):
            if ole.exists("Book"):
                raise Unreadable("Excel 95 以前の形式には対応していません。xlsx で保存してください")
            if ole.exists("EncryptedPackage"):
                raise Unreadable("パスワードで暗号化されたブックです")
            raise Unreadable("Excel ブックではありません（Workbook ストリームがありません）")
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
            raise Unreadable(problem[1], code=problem[0])
        self._globals()

    def _globals(self) -> None:
        records = biff_records(self.stream, 0)
        first = next(records, None)
        if first is None or first[0] != BIFF_BOF or struct.unpack_from("<H", first[1])[0] != 0x0600:
            raise Unreadable("BIFF8（Excel 97–2003）形式ではありません")
        supbooks: list[int] = []
        resolved: dict[str, NameTarget] = {}
        self.names = resolved
        xti: list[tuple[int, int, int]] = []
        names: list[tuple[str, bytes]] = []
        last = 0
        for rtype, data in records:
            if rtype == BIFF_FILEPASS:
                raise Unreadable("パスワードで暗号化されたブックです")
            if rtype == BIFF_BOUNDSHEET:
                pos, _state, dt = struct.unpack_from("<IBB", data)
                name = biff_short_string(data, 6)
                self.sheets.append(name)
                self.offsets[name] = pos
                if dt in (1, 6):  # Excel 4.0 macro sheet, VB module
                    self.active.append("Excel 4.0 マクロシート" if dt == 1 else "マクロ（VBA）")
            elif rtype == BIFF_SUPBOOK:
                _ctab, cch = struct.unpack_from("<HH", data)
                supbooks.append(cch)
                if cch not in (_SUPBOOK_SELF, _SUPBOOK_ADDIN) and "外部リンク・DDE" not in self.active:
                    self.active.append("外部リンク・DDE")
            elif rtype == BIFF_EXTERNSHEET or (rtype == BIFF_CONTINUE and last == BIFF_EXTERNSHEET):
                # XTI entries (supbook, first sheet, last sheet); a long list goes on in CONTINUE.
                body = data[2:] if rtype == BIFF_EXTERNSHEET else data
                xti.extend(struct.iter_unpack("<HHH", body[: len(body) // 6 * 6]))
            elif rtype == BIFF_NAME:
                flags, _key, cch, cce, _r, itab = struct.unpack_from("<HBBHHH", data)
                if flags & 0x20 or itab != 0:  # built-in (print titles…) or sheet-scoped
                    continue
                high = struct.unpack_from("<B", data, 14)[0] & 1
                end = 15 + cch * (2 if high else 1)
                name = data[15:end].decode("utf-16-le" if high else "latin-1")
                if name[:5].lower() == NAME_PREFIX:
                    names.append((name, data[end: end + cce]))
            if rtype != BIFF_CONTINUE:
                last = rtype
        for name, rgce in names:
            resolved[name.casefold()] = self._resolve(rgce, supbooks, xti)

    def _resolve(self, rgce: bytes, supbooks: list[int], xti: list[tuple[int, int, int]]) -> NameTarget:
        if not rgce:
            return BROKEN
        ptg = rgce[0]
        if ptg in _PTG_AREA3D and len(rgce) == 11:
            ixti, r0, r1, c0, c1 = struct.unpack_from("<HHHHH", rgce, 1)
        elif ptg in _PTG_REF3D and len(rgce) == 7:
            ixti, r0, c0 = struct.unpack_from("<HHH", rgce, 1)
            r1, c1 = r0, c0
        elif ptg in _PTG_AREA3D or ptg in _PTG_REF3D:
            return MULTI  # a union or an expression around the area
        else:
            return BROKEN  # #REF! (PtgRefErr3d/PtgAreaErr3d) or not a reference
        if ixti >= len(xti):
            return BROKEN
        book, first, last = xti[ixti]
        if book >= len(supbooks) or supbooks[book] != _SUPBOOK_SELF or first != last or first >= len(self.sheets):
            return BROKEN
        c0, c1 = c0 & 0x3FFF, c1 & 0x3FFF
        return Ref(self.sheets[first], min(r0, r1), min(c0, c1), max(r0, r1), max(c0, c1))

    def _scan(self, sheet: str) -> BiffSheet:
        """One walk over a sheet's records (the pre-scan's walk): the cells calamine would hold (the
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
        except PARSE_ERRORS as e:
            raise Unreadable(parse_message(e)) from e
        if cells > MAX_CELLS:
            raise Unreadable(f"シート「{sheet}」のセル範囲が {cells:,} セルあり、上限 {MAX_CELLS:,} を超えています",
                              code="E108")
