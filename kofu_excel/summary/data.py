"""データ: every accepted value, one row each (団体コード, 区分, 表, 項目, 期間, 値) — the sheet the
national merge reads back, and most of a national summary's 2.5 million cells.

A national データ is ~390,000 rows, 100 MB of sheet XML: making and deflating them was over half
of writing the summary. So :class:`DataSheet` has them made by :func:`render` into a deflated
piece that the archive splices into the part (:mod:`kofu_excel.write.deflate`) — in a process
beside this one when there are many (:class:`kofu_excel.procs.Beside`), while the other sheets
are written here. Both processes must agree on the cells' shared-string indices: :func:`texts`
lists every text the rows use in a fixed order, and they are entered first in the workbook's
string table, so that their indices are 0, 1, 2, … everywhere. The bytes are the same whichever
process made the rows (and if the child fails, this process makes them).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ..contract import DATA_COLUMNS, DATA_SHEET, NA_TEXT
from ..model import NA
from ..procs import Beside, cores
from ..write.deflate import Deflated, DeflateStream
from ..write.xlsx import MAX_TEXT, Styles, deflate_level, enter_strings, needs_quote, xf_index
from .model import KINDS, Summary, tidy_index
from .sheet import NUM, finish, table_sheet

if TYPE_CHECKING:
    import xlsxwriter

Values = Mapping[str, Mapping[str, Mapping[str, Any]]]  # kind → 団体コード → catalog id → value

# Below this many values the rows are made in this process: a child's start-up would cost more
# than the work (fork ~15 ms; spawn, on Windows, ~0.3 s). A prefecture's データ is at most
# ~40,000 rows (北海道); a national one ~390,000.
BESIDE_VALUES = 100_000
_SLICE_ROWS = 16_384  # rows encoded and deflated at a time (~4 MB)


@dataclass(frozen=True)
class Rendered:
    rows: Deflated
    last_row: int  # Excel's 1-based number of the last row written (the header's if none)
    uses: int  # string cells written: the string table counts every use


@dataclass(frozen=True)
class _Xfs:
    text: int
    quote: int
    num: int


# The formats a summary's workbook gives its first three formats (xlsxwriter's default is 0):
# データ's text, quoted text and number, which DataSheet creates before any other. Rows made
# before the workbook exists (DataRows) use these, and DataSheet checks that they hold.
FIRST_XFS = _Xfs(1, 2, 3)
LEVEL = 1  # the summary's deflate level (summary_bytes: build_xlsx(fast_deflate=True))


class DataRows:
    """データ's rows in the making: started as soon as the values are final — the merge starts
    them before its review, so that they are made while it runs — in a child process beside
    this one when there are many (one core or a small summary: made here when asked for)."""

    def __init__(self, values: Values) -> None:
        self.source = values
        self.values = {k: values[k] for k in KINDS if values.get(k)}
        self.texts = texts(self.values)
        big = sum(len(v) for got in self.values.values() for v in got.values()) >= BESIDE_VALUES
        self._beside = Beside(render, self.values, self.texts, FIRST_XFS, LEVEL) \
            if big and cores() > 1 else None

    def result(self, xfs: _Xfs, level: int) -> Rendered:
        """The rows, in these formats at this level: the child's if it made them so, else made
        here (the same bytes either way)."""
        got = self._beside.result() if self._beside is not None else None
        self._beside = None
        if got is None or xfs != FIRST_XFS or level != LEVEL:
            got = render(self.values, self.texts, xfs, level)
        return got

    def close(self) -> None:
        if self._beside is not None:
            self._beside.close()
            self._beside = None


class DataSheet:
    """The データ sheet of one summary: created before the other sheets (its formats and texts
    come first in the workbook, see :data:`FIRST_XFS`), written by :meth:`sheet` in its place
    among them."""

    def __init__(self, wb: xlsxwriter.Workbook, s: Styles, sm: Summary, rows: DataRows | None) -> None:
        # The formats Body gives this sheet's cells (table_sheet below): text, quoted, number.
        self.xfs = _Xfs(xf_index(s()), xf_index(s(quote_prefix=True)), xf_index(s(num_format=NUM)))
        self.rows = rows if rows is not None and rows.source is sm.values else DataRows(sm.values)
        self._own = self.rows is not rows  # started here: closed here
        enter_strings(wb, self.rows.texts)

    def sheet(self, wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
        t = table_sheet(wb, s, DATA_SHEET, DATA_COLUMNS)
        ws = t.body.ws
        got = self.rows.result(self.xfs, deflate_level())
        if got.last_row > 1:
            ws.deflated_rows(got.rows)
        # Each text was counted once when entered; the rows' uses are counted here.
        ws.string_uses += got.uses - len(self.rows.texts)
        t.body.row = got.last_row
        finish(t, widths={0: 12, 1: 10, 2: 12, 3: 32, 4: 12, 5: 16})
        # Rows for machines (the national merge, pivot tables), not for paper: printing the
        # workbook gives its header only, not hundreds of pages of values (the print area bounds
        # Excel's and LibreOffice's "print all sheets" alike).
        ws.print_area(0, 0, 0, len(DATA_COLUMNS) - 1)

    def close(self) -> None:
        if self._own:
            self.rows.close()


def texts(values: Values) -> list[str]:
    """Every text the rows use, each once, in a fixed order: per kind the pieces of its cells
    (区分, 表, 項目, 期間), then the 団体コード, then the text values."""
    out: dict[str, None] = {}
    for kind in values:
        for table, item, period in tidy_index(kind).values():
            out.update(dict.fromkeys((kind, table, item, period) if period else (kind, table, item)))
    out.update(dict.fromkeys(code for got in values.values() for code in sorted(got)))
    for kind, got in values.items():
        ids = tidy_index(kind)
        for code in sorted(got):
            for cid, v in got[code].items():
                vt = type(v)  # most values are numbers: passed over without a call
                if vt is int or (vt is float and math.isfinite(v)) or cid not in ids:
                    continue
                out[_text(v) or ""] = None
    return list(out)


def render(values: Values, texts: list[str], xfs: _Xfs, level: int) -> Rendered:
    """The rows, sorted by 団体コード, 区分 (plan, monthly) and the form's order of the cells,
    deflated. Each row is assembled from per-(kind, catalog id) pieces: 区分/表/項目/期間 repeat
    for every municipality, so only the row number and the value vary."""
    state = {"row": 1, "uses": 0}
    # Deflated on a thread (zlib releases the GIL) while the next rows are made.
    stream = DeflateStream(level)
    try:
        for piece in _slices(values, {t: i for i, t in enumerate(texts)}, xfs, state):
            stream.feed(piece)
        return Rendered(stream.finish(), state["row"], state["uses"])
    finally:
        stream.close()


def _slices(values: Values, index: dict[str, int], xfs: _Xfs, state: dict[str, int]) -> Iterator[bytes]:
    tx, qx, nx = xfs.text, xfs.quote, xfs.num
    rows: list[str] = []
    out = rows.append
    uses = 0
    r = state["row"]
    for kind, got in values.items():
        pieces: list[tuple[str, str, int]] = []
        for cid, (table, item, period) in tidy_index(kind).items():
            texts = [kind, table, item] + ([period] if period else [])
            nexts = ["C", "D", "E", "F"] if period else ["C", "D", "F"]
            segs = [f'" s="{tx}" t="s"><v>{index[x]}</v></c><c r="{n}'
                    for x, n in zip(texts, nexts, strict=True)]
            pieces.append((cid, NUL.join(segs), len(segs)))
        for code in sorted(got):
            get = got[code].get
            a_seg = f'" s="{tx}" t="s"><v>{index[code]}</v></c><c r="B'
            for cid, segs, nsegs in pieces:
                v = get(cid)
                if v is None:
                    continue
                r += 1
                rs = str(r)
                vt = type(v)
                if vt is int or (vt is float and math.isfinite(v)):
                    tail = f'" s="{nx}"><v>{v if vt is int else format(v, ".16G")}</v></c>'
                else:
                    text = _text(v) or ""
                    tail = f'" s="{qx if needs_quote(text) else tx}" t="s"><v>{index[text]}</v></c>'
                    uses += 1
                uses += 1 + nsegs
                out(f'<row r="{rs}"><c r="A{rs}{a_seg}{rs}{segs.replace(NUL, rs)}{rs}{tail}</row>')
            if len(rows) >= _SLICE_ROWS:
                yield "".join(rows).encode()
                rows.clear()
    if rows:
        yield "".join(rows).encode()
    state["row"], state["uses"] = r, uses


NUL = "\0"  # where the row number goes in a row's pieces (never in sheet XML otherwise)


def _text(v: Any) -> str | None:
    """A value's text as データ holds it (ISO dates, 「－」, text, cut to a cell's limit), or None
    for a number."""
    vt = type(v)
    if vt is int or (vt is float and math.isfinite(v)):
        return None
    if v is NA:
        text = NA_TEXT
    elif isinstance(v, datetime):
        text = v.date().isoformat()
    elif isinstance(v, date):
        text = v.isoformat()
    elif isinstance(v, bool):
        text = "はい" if v else "いいえ"
    else:
        text = str(v)
    return text[: MAX_TEXT - 1] + "…" if len(text) > MAX_TEXT else text

