"""Cell addressing in one place (A1 ↔ zero-based row/col).

Written here rather than taken from ``xlsxwriter.utility``: importing that module imports all of
xlsxwriter (~60 ms), which every reading worker and the pre-scan would pay without writing
anything. The behaviour is xlsxwriter's (tested against it), without its warnings.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time

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

_A1 = re.compile(r"(\$?)([A-Z]{1,3})(\$?)(\d+)")


def a1(row: int, col: int, absolute: bool = False) -> str:
    """Zero-based (row, col) → 'B5' ('$B$5' if ``absolute``); '' for a negative one."""
    if row < 0 or col < 0:
        return ""
    mark = "$" if absolute else ""
    return f"{mark}{col_name(col)}{mark}{row + 1}"


def rowcol(cell: str) -> tuple[int, int]:
    """'B5' or '$B$5' → zero-based (row, col); (0, 0) for text that does not start like one."""
    m = _A1.match(cell.replace("$", ""))
    if m is None:
        return 0, 0
    col = 0
    for ch in m.group(2):
        col = col * 26 + ord(ch) - 64
    return int(m.group(4)) - 1, col - 1


def col_name(col: int) -> str:
    """Zero-based column → 'A', 'Z', 'AA', …; '' for a negative one."""
    if col < 0:
        return ""
    name = ""
    n = col + 1
    while n:
        n, rest = divmod(n - 1, 26)
        name = chr(65 + rest) + name
    return name


def a1_range(first_row: int, first_col: int, last_row: int, last_col: int) -> str:
    """Zero-based corners → 'B5:B46' (or 'B5' for one cell)."""
    if (first_row, first_col) == (last_row, last_col):
        return a1(first_row, first_col)
    return f"{a1(first_row, first_col)}:{a1(last_row, last_col)}"


def range_ref(sheet: str, first_row: int, first_col: int, last_row: int, last_col: int) -> str:
    """Absolute reference with sheet, as a defined name wants it: ='基本情報'!$B$4."""
    first, last = a1(first_row, first_col, True), a1(last_row, last_col, True)
    return f"={sheet_ref(sheet, first if first == last else f'{first}:{last}')}"


def sheet_ref(sheet: str, cell: str) -> str:
    from xlsxwriter.utility import quote_sheetname  # writers only: they have xlsxwriter loaded

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
