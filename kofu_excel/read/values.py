"""What the reader's stages share: one workbook's values as calamine gives them, and findings.

:class:`Values` reads each sheet on demand, once, after the package has bounded its extent;
:func:`value_text` and :func:`code_text` read a _meta or code cell as text.
"""

from __future__ import annotations

from datetime import date, datetime
from io import BytesIO
from typing import Any

from python_calamine import CalamineWorkbook

from ..findings import Finding
from ..formats import Package, Unreadable
from ..formats.reader import parse_message
from ..model import Book

__all__ = ["Grid", "Values", "add_finding", "code_text", "value_text"]


class Grid:
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


class Values:
    """Sheets read on demand, each once."""

    def __init__(self, data: bytes, pkg: Package) -> None:
        self.pkg = pkg
        try:
            self.book = CalamineWorkbook.from_filelike(BytesIO(data))
            self.sheets = set(self.book.sheet_names)
        except _INTERRUPTS:
            raise
        except BaseException as e:  # anything calamine raises is about these bytes; a Rust
            # panic arrives as pyo3's PanicException, which derives from BaseException
            raise Unreadable(parse_message(e)) from e
        self._grids: dict[str, Grid] = {}

    def grid(self, sheet: str) -> Grid:
        g = self._grids.get(sheet)
        if g is None:
            self.pkg.check_extent(sheet)
            try:
                ws = self.book.get_sheet_by_name(sheet)
                rows, start = ws.to_python(), ws.start
            except _INTERRUPTS:
                raise
            except BaseException as e:  # as above: calamine's errors (and panics) are the file's
                raise Unreadable(parse_message(e)) from e
            g = self._grids[sheet] = Grid(rows, start)
        return g


def value_text(v: Any) -> str:
    """A _meta or code cell as text: 13101.0 → '13101', dates ISO.

    Not :func:`kofu_excel.cells.cell_text`: a datetime keeps its time here ('…T00:00:00'),
    as _meta and the national read-back have always read it."""
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return str(v).strip()


def code_text(v: Any) -> str:
    """A municipality code as text: a number lost its leading zero, so pad it back."""
    s = value_text(v)
    if isinstance(v, (int, float)) and not isinstance(v, bool) and s.isdigit() and len(s) < 6:
        return s.zfill(6)
    return s


def add_finding(book: Book, code: str, message: str, severity: str = "error", sheet: str = "",
             cell: str = "", field: str = "") -> None:
    book.findings.append(Finding(code, severity, message, file=book.file, member=book.member,
                                 sheet=sheet, cell=cell, field=field, muni_code=book.muni_code))
    if severity == "error":
        book.status = "unreadable"
