"""データ: every accepted value, one row each (団体コード, 区分, 表, 項目, 期間, 値) — the sheet the
national merge reads back, and most of a national summary's 2.5 million cells, so its rows are
written as ready sheet XML from pieces reused across municipalities (see :func:`data_sheet`).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ..contract import DATA_COLUMNS, DATA_SHEET, NA_TEXT
from ..model import NA
from ..write.xlsx import MAX_TEXT, Styles, needs_quote
from .model import KINDS, Summary, tidy_index
from .sheet import finish, table_sheet

if TYPE_CHECKING:
    import xlsxwriter


def data_sheet(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    """Every accepted value, one row each: the sheet the national merge reads back.

    Rows are sorted by 団体コード, 区分 (plan, monthly) and the form's order of the cells. They
    are assembled from per-(kind, catalog id) pieces: 区分/表/項目/期間 repeat for every
    municipality, so only the row number and the value vary.
    """
    t = table_sheet(wb, s, DATA_SHEET, DATA_COLUMNS)
    body, ws = t.body, t.ws
    shared = ws.string_indexer()
    tx, qx, nx = body.text_xf, body.quote_xf, body.num_xf[5]
    out = ws.bulk.append
    asked = ws.string_uses
    cells = 0  # string cells written: the string table counts each use, pieces are reused
    r = body.first  # Excel's 1-based number of the last row written
    for kind in KINDS:
        got = sm.values.get(kind, {})
        if not got:
            continue
        # Each cell's pieces (区分, 表, 項目, 期間 as shared strings), in the form's order.
        pieces: list[tuple[str, str, int]] = []
        for cid, (table, item, period) in tidy_index(kind).items():
            texts = [kind, table, item] + ([period] if period else [])
            nexts = ["C", "D", "E", "F"] if period else ["C", "D", "F"]
            segs = [f'" s="{tx}" t="s"><v>{shared(x)}</v></c><c r="{n}'
                    for x, n in zip(texts, nexts, strict=True)]
            pieces.append((cid, "\0".join(segs), len(segs)))
        for code in sorted(got):
            get = got[code].get
            a_seg = f'" s="{tx}" t="s"><v>{shared(code)}</v></c><c r="B'
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
                    text = _data_text(v)
                    if len(text) > MAX_TEXT:
                        text = text[: MAX_TEXT - 1] + "…"
                    xf = qx if needs_quote(text) else tx
                    tail = f'" s="{xf}" t="s"><v>{shared(text)}</v></c>'
                    cells += 1
                cells += 1 + nsegs
                out(f'<row r="{rs}"><c r="A{rs}{a_seg}{rs}{segs.replace(NUL, rs)}{rs}{tail}</row>')
    ws.string_uses = asked + cells
    body.row = r
    finish(t, widths={0: 12, 1: 10, 2: 12, 3: 32, 4: 12, 5: 16})
    # Rows for machines (the national merge, pivot tables), not for paper: printing the workbook
    # gives its header only, not hundreds of pages of values (the print area bounds Excel's and
    # LibreOffice's "print all sheets" alike).
    ws.print_area(0, 0, 0, len(DATA_COLUMNS) - 1)


NUL = "\0"  # where the row number goes in a row's pieces (never in sheet XML otherwise)


def _data_text(v: Any) -> str:
    """A non-numeric canonical value as データ holds it: ISO dates, 「－」, text."""
    if v is NA:
        return NA_TEXT
    if isinstance(v, datetime):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, bool):
        return "はい" if v else "いいえ"
    return str(v)
