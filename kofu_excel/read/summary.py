"""The national read-back: a prefectural summary's tidy データ sheet, for the national merge.

Its sheet name and headers are the summary writer's (:mod:`kofu_excel.contract`), so that a
renamed header can never break the reader on the other side.
"""

from __future__ import annotations

from datetime import date, datetime

from ..contract import DATA_COLUMNS, DATA_SHEET, SUMMARY_KIND
from ..model import Book
from .values import Values, add_finding, code_text, value_text

__all__ = ["read_summary"]

_SUMMARY_HEADER_ROWS = 10  # the header may sit under a title row or two


def read_summary(book: Book, values: Values) -> None:
    """A prefectural summary: its tidy データ sheet, for the national merge."""
    if DATA_SHEET not in values.sheets:
        add_finding(book, "E117", f"とりまとめ表の {DATA_SHEET} シートがありません")
        return
    grid = values.grid(DATA_SHEET)
    header_row = -1
    cols: dict[str, int] = {}
    for i, row in enumerate(grid.rows[:_SUMMARY_HEADER_ROWS]):
        labels = {value_text(v): j for j, v in enumerate(row)}
        if all(c in labels for c in DATA_COLUMNS):
            header_row, cols = i, labels
            break
    if header_row < 0:
        add_finding(book, "E117", f"{DATA_SHEET} シートに見出し（{'・'.join(DATA_COLUMNS)}）がありません"
                               "（本ツールの様式でも、とりまとめ表でもありません）", sheet=DATA_SHEET)
        return
    book.kind = SUMMARY_KIND
    book.version = book.meta.get("version", "")
    book.muni_code = ""
    idx = [cols[c] for c in DATA_COLUMNS]
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
        tidy.append((code_text(code), value_text(kind), value_text(table), value_text(item), value_text(period), value))
