"""Cell addressing in one place (A1 ↔ zero-based row/col), on xlsxwriter's utility module."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time

from xlsxwriter.utility import (
    quote_sheetname,
    xl_cell_to_rowcol,
    xl_col_to_name,
    xl_range_abs,
    xl_rowcol_to_cell,
)

__all__ = [
    "a1",
    "a1_range",
    "cell_text",
    "col_name",
    "display_width",
    "ooxml_unescape",
    "range_ref",
    "rowcol",
    "sheet_ref",
]


def a1(row: int, col: int) -> str:
    """Zero-based (row, col) → 'B5'."""
    return xl_rowcol_to_cell(row, col)


def rowcol(cell: str) -> tuple[int, int]:
    """'B5' or '$B$5' → zero-based (row, col)."""
    return xl_cell_to_rowcol(cell.replace("$", ""))


def col_name(col: int) -> str:
    return xl_col_to_name(col)


def a1_range(first_row: int, first_col: int, last_row: int, last_col: int) -> str:
    """Zero-based corners → 'B5:B46' (or 'B5' for one cell)."""
    if (first_row, first_col) == (last_row, last_col):
        return a1(first_row, first_col)
    return f"{a1(first_row, first_col)}:{a1(last_row, last_col)}"


def range_ref(sheet: str, first_row: int, first_col: int, last_row: int, last_col: int) -> str:
    """Absolute reference with sheet, as a defined name wants it: ='基本情報'!$B$4."""
    return f"={quote_sheetname(sheet)}!{xl_range_abs(first_row, first_col, last_row, last_col)}"


def sheet_ref(sheet: str, cell: str) -> str:
    return f"{quote_sheetname(sheet)}!{cell}"


def parse_range(ref: str) -> tuple[str, tuple[int, int, int, int]]:
    """'基本情報'!$B$4:$B$9 → (sheet, (r0, c0, r1, c1)), zero-based."""
    ref = ref.lstrip("=")
    sheet, _, cells = ref.rpartition("!")
    sheet = sheet.strip("'").replace("''", "'")
    first, _, last = cells.partition(":")
    r0, c0 = rowcol(first)
    r1, c1 = rowcol(last) if last else (r0, c0)
    return sheet, (r0, c0, r1, c1)


def display_width(text: str) -> int:
    """Width in Excel character units: East Asian wide characters count as two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def ooxml_unescape(text: str) -> str:
    """OOXML's ``_xHHHH_`` escapes decoded, as Excel shows them: a CR typed in a cell is stored
    as ``_x000D_`` and openpyxl hands that on literally. One pass, so ``_x005F_x000D_`` (a typed
    "_x000D_") stays "_x000D_"."""
    if "_x" not in text:
        return text
    return _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def cell_text(v: object) -> str:
    """A cell value as plain text: blank → '', 13101.0 → '13101', a date (or a datetime at
    midnight) → ISO date, anything else as typed, without surrounding spaces."""
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == time() else v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return str(v).strip()
