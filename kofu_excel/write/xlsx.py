"""Safe, deterministic xlsx output shared by every writer (templates, report, summary), and
EVERY extension of XlsxWriter in one place.

- Text is written as text, never as a formula or link: the workbook is opened with
  ``strings_to_formulas=False, strings_to_urls=False`` and text that a spreadsheet would treat
  as a formula if re-entered (``= + - @``, tab, CR, full-width ``＝＋－＠``) gets a quote prefix
  (OWASP ASVS 1.2.10).
- The same inputs give the same bytes (fixed document dates).

XlsxWriter's private API is used here and nowhere else: :class:`ClassicFormulaSheet` overrides
``Worksheet._prepare_formula``; :class:`BulkSheet` overrides ``Worksheet._write_rows`` and
reaches the shared string table (``str_table._get_shared_string_index``, ``.count``), format
indices (``Format._get_xf_index``) and ``Worksheet._check_dimensions``; ``build_xlsx(fast_deflate=
True)`` swaps ``xlsxwriter.workbook.ZipInfo``, and ``build_xlsx`` swaps ``xlsxwriter.workbook.ZipFile``
(bulk rows deflated on a thread as they are made and spliced into the archive,
:class:`_StreamingZipFile` and :mod:`.deflate`). setup.cfg pins xlsxwriter below its next minor
version and ``tests/test_xlsx_extensions.py`` fails if any of these changes shape.
"""

from __future__ import annotations

import contextlib
import math
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from io import BytesIO
from typing import Any

import xlsxwriter
import xlsxwriter.workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from ..findings import KofuError, jsonable
from ..forms import FORM_DATE
from .deflate import Deflated, DeflateStream, splice

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
MAX_TEXT = 32767
FIXED_CREATED = datetime.fromisoformat(FORM_DATE)
HEADER_FILL = "#DDEBF7"  # header rows of every table the toolkit writes


def new_workbook(target: BytesIO, title: str = "") -> xlsxwriter.Workbook:
    wb = xlsxwriter.Workbook(
        target,
        {
            "in_memory": True,  # no temp files: the default mode costs seconds of system time per batch
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    # Fixed dates: the same inputs give the same bytes.
    wb.set_properties({"title": title, "author": "kofu-excel", "created": FIXED_CREATED})
    return wb


class ClassicFormulaSheet(Worksheet):
    """A worksheet for formulas that use only classic functions (SUM, IF, ROUND…).

    xlsxwriter runs ~35 regex substitutions on every formula to prefix Excel 365 functions with
    _xlfn.; a template has ~60 formulas, and this was a fifth of writing one. Our formulas are
    fixed by the form definition and use none of those functions.
    """

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        return formula[1:] if formula.startswith("=") else formula

    def _write_formula(self, row: int, col: int, formula: str, cell_format: Any = None,
                       value: Any = 0) -> int:
        # A cached result is a number in the file: never NaN or infinite (a sum over a cell
        # that held 1e999); Excel computes the formula again on opening.
        if isinstance(value, float) and not math.isfinite(value):
            value = ""
        return super()._write_formula(row, col, formula, cell_format, value)


class Styles:
    """Formats of one workbook, created once per distinct property set."""

    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        self.wb = wb
        self._cache: dict[tuple[tuple[str, Any], ...], Format] = {}

    def __call__(self, **props: Any) -> Format:
        key = tuple(sorted(props.items()))
        fmt = self._cache.get(key)
        if fmt is None:
            fmt = self._cache[key] = self.wb.add_format({"font_name": "游ゴシック", **props})
        return fmt


def as_text(v: Any) -> str:
    """A value as the text a writer shows or measures: blank → '', text as is (not stripped,
    unlike :func:`kofu_excel.cells.cell_text`: a writer shows what it was given), else str()."""
    return v if isinstance(v, str) else "" if v is None else str(v)


def needs_quote(text: str) -> bool:
    return text.startswith(FORMULA_TRIGGERS)


def write_text(ws: Worksheet, row: int, col: int, text: str, styles: Styles, **props: Any) -> None:
    """Write untrusted text as plain text (quote-prefixed where a formula could be re-entered)."""
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    if needs_quote(text):
        props["quote_prefix"] = True
    rc = ws.write_string(row, col, text, styles(**props) if props else None)
    if rc < 0:  # xlsxwriter reports problems by return code, not exception
        raise KofuError("E902", f"セル {row + 1}行{col + 1}列 に文字列を書き込めませんでした（コード {rc}）")


def write_title(ws: Worksheet, text: str, styles: Styles, row: int = 0) -> None:
    """A sheet's title line: 14 pt bold, with the row made tall enough for it (LibreOffice
    does not grow a row for a larger font by itself and clips the text)."""
    ws.set_row(row, 24)
    write_text(ws, row, 0, text, styles, bold=True, font_size=14)


def write_value(ws: Worksheet, row: int, col: int, value: Any, styles: Styles, **props: Any) -> None:
    """Write a cell value by its type — never through xlsxwriter's guessing ``write()``."""
    if value is None:
        if props:
            ws.write_blank(row, col, None, styles(**props))
        return
    if isinstance(value, bool):
        write_text(ws, row, col, "はい" if value else "いいえ", styles, **props)
    elif isinstance(value, (int, float)) and math.isfinite(value):
        ws.write_number(row, col, value, styles(**props) if props else None)
    elif isinstance(value, float):  # NaN, ±Infinity: a workbook holds only finite numbers
        write_text(ws, row, col, jsonable(value), styles, **props)
    elif isinstance(value, datetime):
        ws.write_datetime(row, col, value, styles(**{"num_format": "yyyy/m/d", **props}))
    elif isinstance(value, date):
        ws.write_datetime(row, col, datetime(value.year, value.month, value.day),
                          styles(**{"num_format": "yyyy/m/d", **props}))
    else:
        write_text(ws, row, col, str(value), styles, **props)


def write_cell(ws: Worksheet, row: int, col: int, value: Any, styles: Styles, **props: Any) -> None:
    """A value as a municipality gave it: text (and blank) stays text even when it looks like a
    number or a formula; anything else is written by its type."""
    if isinstance(value, str) or value is None:
        write_text(ws, row, col, as_text(value), styles, **props)
    else:
        write_value(ws, row, col, value, styles, **props)


def print_a4(ws: Worksheet, landscape: bool = True, repeat_row: int | None = None) -> None:
    """Print setup of every sheet the toolkit writes: A4, one page wide, the header row (if
    any) repeated on each page."""
    ws.set_paper(9)  # A4
    if landscape:
        ws.set_landscape()
    ws.fit_to_pages(1, 0)
    if repeat_row is not None:
        ws.repeat_rows(repeat_row)


class _FastZipInfo(zipfile.ZipInfo):
    """Zip members deflated at level 1: for a summary with a 100 MB data sheet, zlib's default
    level costs more than writing the rows (measured: 0.85 s of 2.0 s for 1,741 municipalities)
    for a file only ~35 % smaller."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._compresslevel = 1


class _StreamingZipFile(zipfile.ZipFile):
    """The archive xlsxwriter writes into, taking each :class:`BulkSheet`'s rows from where the
    sheet left them: the slices already deflated on a thread (:mod:`.deflate`) are spliced in,
    the rows still in the list are encoded and deflated a slice at a time. xlsxwriter would first
    copy the whole part into a StringIO, then to one str, then to UTF-8 bytes (three copies of a
    100 MB データ part), and deflate it only then. The part's text is the same."""

    def writestr(self, zinfo_or_arcname: Any, data: Any, *args: Any, **kwargs: Any) -> None:
        build: _Build | None = getattr(_state, "build", None)
        marker = None
        if build and build.streamed and isinstance(data, bytes) \
                and isinstance(zinfo_or_arcname, zipfile.ZipInfo) and not args and not kwargs:
            marker = next((m for m in build.streamed if m in data), None)
        if build is None or marker is None:
            super().writestr(zinfo_or_arcname, data, *args, **kwargs)
            return
        head, _, tail = data.partition(marker)
        stream, rows = build.streamed.pop(marker)
        zinfo = zinfo_or_arcname
        # As writestr would set it before opening (it decides zip64): the size of the whole part.
        zinfo.file_size = len(head) + len(tail) + (stream.size if stream else 0) + sum(
            len(r) if r.isascii() else len(r.encode()) for r in rows)
        with self.open(zinfo, mode="w") as dest:
            dest.write(head)
            if stream is not None:
                level = zinfo._compresslevel
                splice(dest, stream.finish(), zlib.Z_DEFAULT_COMPRESSION if level is None else level)
            for i in range(0, len(rows), _SLICE):
                dest.write("".join(rows[i:i + _SLICE]).encode())
            dest.write(tail)
        rows.clear()


_SLICE = 4096  # rows encoded at a time when the archive is written
SPILL_ROWS = 16384  # rows per slice handed to the deflate thread while a sheet is built (~4 MB)


class _Build:
    """What :func:`build_xlsx` shares with the :class:`BulkSheet` s of the workbook it builds."""

    def __init__(self, level: int) -> None:
        self.level = level  # the members' deflate level
        self.streams: list[DeflateStream] = []  # every thread started, stopped when the build ends
        # Filled while the workbook closes: marker → (the rows deflated so far, the rest) of
        # a BulkSheet, which left only the marker in its part.
        self.streamed: dict[bytes, tuple[DeflateStream | Deflated | None, list[str]]] = {}


_state = threading.local()  # .build: the _Build of the workbook this thread is building


def build_xlsx(build: Callable[[xlsxwriter.Workbook, Styles], None], title: str = "",
               fast_deflate: bool = False) -> bytes:
    buf = BytesIO()
    wb = new_workbook(buf, title)
    state = _state.build = _Build(1 if fast_deflate else zlib.Z_DEFAULT_COMPRESSION)
    try:
        build(wb, Styles(wb))
        with contextlib.ExitStack() as stack:
            if fast_deflate:
                # xlsxwriter offers no compression option; it builds each member's ZipInfo itself.
                stack.enter_context(_patched(xlsxwriter.workbook, "ZipInfo", _FastZipInfo))
            stack.enter_context(_patched(xlsxwriter.workbook, "ZipFile", _StreamingZipFile))
            wb.close()
    finally:
        _state.build = None
        for stream in state.streams:
            stream.close()
    return buf.getvalue()


def deflate_level() -> int:
    """The deflate level of the members of the workbook build_xlsx is building in this thread."""
    build: _Build | None = getattr(_state, "build", None)
    return build.level if build is not None else zlib.Z_DEFAULT_COMPRESSION


@contextlib.contextmanager
def _patched(module: Any, name: str, value: Any) -> Iterator[None]:
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


# --- bulk body rows ---------------------------------------------------------------------------


class BulkSheet(Worksheet):
    """A worksheet whose body rows arrive as ready sheet XML (``<row>`` elements).

    Used through the documented extension point ``add_worksheet(worksheet_class=BulkSheet)``.
    Cells written the ordinary way must lie above :attr:`bulk_first` (header rows); the bulk
    rows follow them in ``<sheetData>``. The rows share the workbook's string table and formats
    through :meth:`string_indexer` and :func:`xf_index`, and tell xlsxwriter the sheet's extent
    through :meth:`extend_to`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.bulk: list[str] = []
        self.bulk_first: int | None = None
        # The first rows, already deflated (or being deflated on a thread); self.bulk follows.
        self._deflated: DeflateStream | Deflated | None = None

    def spill(self) -> None:
        """Writers call this as they add rows: once a slice's worth is waiting, it is encoded
        and handed to a deflate thread (:mod:`.deflate`), so compressing the part overlaps
        making the rest of the workbook and the rows are not all kept as text until the end."""
        if len(self.bulk) < SPILL_ROWS:
            return
        build: _Build | None = getattr(_state, "build", None)
        if build is None:
            return  # not inside build_xlsx: the rows stay and are written with the part
        if self._deflated is None:
            self._deflated = DeflateStream(build.level)
            build.streams.append(self._deflated)
        if not isinstance(self._deflated, DeflateStream):
            raise TypeError("rows already given deflated (BulkSheet.deflated_rows)")
        self._deflated.feed("".join(self.bulk).encode())
        self.bulk.clear()  # in place: writers hold its append

    def deflated_rows(self, rows: Deflated) -> None:
        """The body rows as a deflated piece made elsewhere (another process): its cells share
        the workbook's string table and formats like rows given as text."""
        if self.bulk or self._deflated is not None:
            raise TypeError("BulkSheet.deflated_rows must come before any row")
        if getattr(_state, "build", None) is None:
            raise TypeError("deflated rows are written only inside build_xlsx")
        self._deflated = rows

    def _write_rows(self) -> None:
        if self.bulk_first is None or not (self.bulk or self._deflated):
            super()._write_rows()
            return
        saved = self.dim_rowmax
        self.dim_rowmax = self.bulk_first - 1  # xlsxwriter's own loop covers the header rows only
        try:
            if self.dim_rowmax >= self.dim_rowmin:
                super()._write_rows()
        finally:
            self.dim_rowmax = saved
        build: _Build | None = getattr(_state, "build", None)
        if build is not None:
            # build_xlsx's archive takes the rows from here (_StreamingZipFile): only a marker
            # goes into the part's text.
            marker = f"\0kofu-bulk-{len(build.streamed)}\0"
            build.streamed[marker.encode()] = (self._deflated, self.bulk)
            self.bulk, self._deflated = [], None
            self.fh.write(marker)
            return
        self.fh.writelines(self.bulk)  # no joined copy: the rows are the bulk of the memory
        self.bulk.clear()

    def string_indexer(self) -> Callable[[str], int]:
        """text → its index in the shared string table (each call counts one use)."""
        return self.str_table._get_shared_string_index

    @property
    def string_uses(self) -> int:
        """Uses of shared strings counted so far (``<sst count=>``), for writers that reuse
        one rendered piece in many cells and must count each use themselves."""
        return self.str_table.count

    @string_uses.setter
    def string_uses(self, n: int) -> None:
        self.str_table.count = n

    def extend_to(self, row: int, col: int) -> None:
        """Tell xlsxwriter a bulk cell exists at (row, col): the sheet's dimension grows."""
        self._check_dimensions(row, col)


def enter_strings(wb: xlsxwriter.Workbook, texts: Sequence[str]) -> None:
    """Put texts first in the workbook's shared string table, before any cell is written, so
    that their indices are 0, 1, 2, … and rows made elsewhere can refer to them. Each counts
    one use (see :attr:`BulkSheet.string_uses`)."""
    table = wb.str_table
    if table.count or table.unique_count:
        raise ValueError("enter_strings: the string table is not empty")
    for i, text in enumerate(texts):
        if table._get_shared_string_index(text) != i:
            raise ValueError("enter_strings: the texts repeat")


def xf_index(fmt: Format) -> int:
    """The ``s=`` attribute of a cell in the given format."""
    return fmt._get_xf_index()
