"""A table sheet of the summary: header row, bulk body rows, widths, filter, print setup.

Every sheet but 概要 is one of these. The body rows are rendered straight to sheet XML on
:class:`kofu_excel.write.xlsx.BulkSheet` (a national summary holds ~2.5 million cells; xlsxwriter's
per-cell ``write_*`` would cost ~8 s), sharing the workbook's string table and formats. Text in
body rows gets the same protection as :func:`kofu_excel.write.xlsx.write_text`: a shared string
(never a formula or link), cut at 32,767 characters, quote-prefixed when it starts like a formula.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ..cells import col_name, display_width
from ..write.xlsx import (
    HEADER_FILL,
    MAX_TEXT,
    BulkSheet,
    Styles,
    needs_quote,
    print_a4,
    write_text,
    xf_index,
)

if TYPE_CHECKING:
    import xlsxwriter

NUM = "#,##0"
MONTH_FMT = 'yyyy"年"m"月"'
DATE_FMT = "yyyy/m/d"
RATE_FMT = "0.0%"
TOTAL_FILL = "#F2F2F2"
TOTAL_STYLE = {"bold": True, "bg_color": TOTAL_FILL}  # the 合計 row under a table
WIDTH_SAMPLE = 300  # rows looked at to size a column: enough to see typical values
MAX_WIDTH = 60


class Body:
    """Renders body rows of one sheet: typed cells, shared strings, column number formats."""

    def __init__(self, ws: BulkSheet, s: Styles, first_row: int, ncols: int,
                 formats: Mapping[int, str] | None = None, wrap: Sequence[int] = ()) -> None:
        self.ws, self.first, self.row = ws, first_row, first_row
        self.string_index = ws.string_indexer()
        self.letters = [col_name(c) for c in range(ncols)]
        self.text_xf = xf_index(s())
        # Long text (messages, reasons) wraps in its column: on paper it stays inside the page.
        wrap_xf = xf_index(s(text_wrap=True, valign="top"))
        self.col_text_xf = [wrap_xf if c in wrap else self.text_xf for c in range(ncols)]
        self.quote_xf = xf_index(s(quote_prefix=True))
        formats = formats or {}
        self.num_xf = [xf_index(s(num_format=formats.get(c, NUM))) for c in range(ncols)]
        self.date_xf = [xf_index(s(num_format=formats.get(c, DATE_FMT))) for c in range(ncols)]
        self.widths = [0] * ncols
        self._tails: dict[int, dict[str, str]] = {}  # text format → text → its cell's tail
        self.reused = 0  # uses of a kept tail, not yet counted in the string table
        ws.bulk_first = first_row

    def text(self, col: int, s: str, rs: str, xf: int | None = None) -> str:
        """A text cell. The same text in the same format repeats down a sheet (names, labels,
        quarters): its rendered tail is kept, and its uses counted here (see :meth:`finish`)."""
        base = self.col_text_xf[col] if xf is None else xf
        tails = self._tails.get(base)
        if tails is None:
            tails = self._tails[base] = {}
        tail = tails.get(s)
        if tail is None:
            text = s if len(s) <= MAX_TEXT else s[: MAX_TEXT - 1] + "…"
            shown = self.quote_xf if needs_quote(text) else base
            tail = tails[s] = f'" s="{shown}" t="s"><v>{self.string_index(text)}</v></c>'
        else:
            self.reused += 1
        return f'<c r="{self.letters[col]}{rs}{tail}'

    def add(self, values: Sequence[Any], style: dict[str, Any] | None = None,
            styles: Styles | None = None) -> None:
        """One row; ``style`` (with ``styles``) marks a special row such as a total."""
        r = self.row
        rs = str(r + 1)
        parts = [f'<row r="{rs}">']
        append = parts.append
        letters, num_xf = self.letters, self.num_xf
        row_text_xf: int | None = None
        if style and styles is not None:
            row_text_xf = xf_index(styles(**style))
            num_xf = [xf_index(styles(**{"num_format": NUM, **style}))] * len(letters)
        for c, v in enumerate(values):
            if v is None:
                continue
            t = type(v)
            if t is int:
                append(f'<c r="{letters[c]}{rs}" s="{num_xf[c]}"><v>{v}</v></c>')
            elif t is str:
                append(self.text(c, v, rs, row_text_xf))
            elif t is float:
                if math.isfinite(v):
                    append(f'<c r="{letters[c]}{rs}" s="{num_xf[c]}"><v>{v:.16G}</v></c>')
            elif t is bool:
                append(self.text(c, "はい" if v else "いいえ", rs, row_text_xf))
            elif isinstance(v, date):
                append(f'<c r="{letters[c]}{rs}" s="{self.date_xf[c]}"><v>{excel_serial(v)}</v></c>')
            else:  # NA and anything odd: as text
                append(self.text(c, str(v), rs))
        append("</row>")
        self.ws.bulk.append("".join(parts))
        self.ws.spill()
        if r - self.first < WIDTH_SAMPLE:
            self._measure(values)
        self.row += 1

    def _measure(self, values: Sequence[Any]) -> None:
        """Widen the columns for a row's values, as they are shown."""
        widths = self.widths
        for c, v in enumerate(values):
            if v is None:
                continue
            t = type(v)
            w = (len(f"{v:,}") if t is int else display_width(v) if t is str else
                 (8 if math.isfinite(v) else 0) if t is float else 6 if t is bool else
                 12 if isinstance(v, date) else 2)
            if w > widths[c]:
                widths[c] = w

    def finish(self) -> int:
        """Tell xlsxwriter the sheet's extent and the uses of kept texts; returns the last row
        written (or first - 1)."""
        self.ws.string_uses += self.reused
        self.reused = 0
        if self.row > self.first:
            self.ws.extend_to(self.first, 0)
            self.ws.extend_to(self.row - 1, len(self.letters) - 1)
        return self.row - 1


_EPOCH = date(1899, 12, 30)


def excel_serial(d: date) -> float | int:
    if isinstance(d, datetime):
        delta = d - datetime(1899, 12, 30)
        return delta.days + delta.seconds / 86400
    return (d - _EPOCH).days


@dataclass
class TableSheet:
    ws: BulkSheet
    body: Body
    header: Sequence[str]
    freeze_cols: int = 2  # the code and name stay in view when scrolling right


def table_sheet(wb: xlsxwriter.Workbook, s: Styles, name: str, header: Sequence[str],
           formats: Mapping[int, str] | None = None, freeze_cols: int = 2,
           wrap: Sequence[int] = ()) -> TableSheet:
    ws: BulkSheet = wb.add_worksheet(name, worksheet_class=BulkSheet)
    for c, h in enumerate(header):
        write_text(ws, 0, c, h, s, bold=True, bg_color=HEADER_FILL, border=1, text_wrap=True,
                   valign="vcenter")
    return TableSheet(ws, Body(ws, s, 1, len(header), formats, wrap), header, freeze_cols)


def finish(t: TableSheet, last_data_row: int | None = None, widths: Mapping[int, float] | None = None) -> None:
    """Frozen header, autofilter over the data rows, widths for Japanese, A4 fit to width."""
    ws, body = t.ws, t.body
    last = body.finish()
    ncols = len(t.header)
    ws.freeze_panes(1, min(t.freeze_cols, ncols))
    ws.autofilter(0, 0, max(0, last_data_row if last_data_row is not None else last), ncols - 1)
    for c, h in enumerate(t.header):
        w = widths.get(c) if widths else None
        if w is None:
            hw = display_width(h)
            hw = math.ceil(hw / 2) if hw > 14 else hw  # long headers wrap onto two lines
            w = min(max(hw, body.widths[c]) + 2, MAX_WIDTH)
        ws.set_column(c, c, max(w, 6))
    ws.set_row(0, 32)
    print_a4(ws, repeat_row=0)
