"""Turning a batch's Books into frames: each raw cell normalised once, and the values of each
(kind, table) laid out in ONE combined frame for all books of that kind.

Rows of a frame are book-major with a fixed number of rows per book, so a row's position gives
its book and table row, and each numeric column reshapes into a (books × table rows) matrix on
which the cross-field rules run vectorised. Beside each column, an int8 array keeps each cell's
state: a value, blank (not answered), 「－」 (not applicable: ``model.NA``) or invalid (already
reported). :class:`Run` is the batch being validated: its frames and the findings so far.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import forms
from ..cells import rowcol
from ..findings import Finding, jsonable
from ..forms import CatalogEntry, Table, expected_text
from ..model import NA, Book
from ..normalise import NORMALISERS, Norm, to_choice

if TYPE_CHECKING:
    from ..refdata import Master

# Cell states (int8 arrays beside each frame column).
VALUE, BLANK, NOT_APPLICABLE, BAD = 0, 1, 2, 3

# --- per table: the cells in a fixed grid -----------------------------------------------------


@dataclass(frozen=True)
class TableSpec:
    table: Table
    grid: tuple[tuple[CatalogEntry, ...], ...]  # [table row][field]
    row_keys: tuple[str, ...]  # "" for a single-value table
    normalisers: tuple[Callable[[object], Norm], ...]
    ids: tuple[tuple[str, ...], ...]  # catalog ids, same grid
    by_id: dict[str, CatalogEntry]

    @property
    def nrows(self) -> int:
        return len(self.grid)


@functools.cache
def table_spec(kind: str, table_id: str) -> TableSpec:
    table = forms.FORMS[kind].table(table_id)
    by_pos = {(e.table, e.spec.id, e.index): e for e in forms.catalog(kind)}
    n = 1 if table.single else len(table.rows)
    grid = tuple(tuple(by_pos[(table.id, f.id, i)] for f in table.fields) for i in range(n))
    keys = ("",) if table.single else tuple(r.key for r in table.rows)
    norms = tuple(functools.partial(to_choice, choices=f.choices) if f.type == "choice"
                  else NORMALISERS[f.type] for f in table.fields)
    ids = tuple(tuple(e.id for e in row) for row in grid)
    return TableSpec(table, grid, keys, norms, ids, {e.id: e for row in grid for e in row})


@functools.cache
def catalog_pos(kind: str) -> dict[str, int]:
    return {e.id: i for i, e in enumerate(forms.catalog(kind))}


# --- messages ---------------------------------------------------------------------------------


def _shown(raw: Any) -> str:
    """A raw cell value as the user would recognise it."""
    if isinstance(raw, datetime):
        t = raw.time()
        return f"{raw.year}/{raw.month}/{raw.day}" + (f" {t.isoformat()}" if t != datetime.min.time() else "")
    if isinstance(raw, date):
        return f"{raw.year}/{raw.month}/{raw.day}"
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 1e15:
        return str(int(raw))
    if isinstance(raw, float) and not math.isfinite(raw):
        return jsonable(raw)  # NaN, Infinity: as a JSON document would show them
    return str(raw)


def _plain(raw: Any) -> Any:
    """The raw value for Finding.value: calamine's 434857.0 is the 434857 the user typed."""
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 2**53:
        return int(raw)
    return raw


# --- the batch being validated ----------------------------------------------------------------


@dataclass
class Frame:
    """One (kind, table) for all books of that kind: the frame pandera sees, and beside it the
    state of each cell."""

    spec: TableSpec
    books: list[int]  # batch numbers, in frame order
    df: pd.DataFrame
    states: dict[str, np.ndarray]  # field id → int8 state per frame row

    def pos(self, k: int, r: int) -> int:
        return k * self.spec.nrows + r

    def num(self, fid: str) -> np.ndarray:
        """Valid values of a numeric field as a (books × rows) float matrix, NaN elsewhere."""
        a = self.df[fid].to_numpy(dtype="float64", na_value=np.nan)
        a = np.where(self.states[fid] == VALUE, a, np.nan)
        return a.reshape(len(self.books), self.spec.nrows)

    def raw_num(self, fid: str) -> np.ndarray:
        """Normalised numbers whether or not they passed the range checks (NaN if none)."""
        a = self.df[fid].to_numpy(dtype="float64", na_value=np.nan)
        return a.reshape(len(self.books), self.spec.nrows)

    def state(self, fid: str) -> np.ndarray:
        return self.states[fid].reshape(len(self.books), self.spec.nrows)


@dataclass
class Run:
    """The books of one kind being validated together, with what the rules need to know."""

    books: Sequence[Book]
    kind: str
    members: list[int]  # batch numbers of this kind's books
    master: Master | None = None
    pref_code: str | None = None  # only municipalities of this prefecture
    today: date = field(default_factory=date.today)
    frames: dict[str, Frame] = field(default_factory=dict)
    # batch number → [(catalog id, finding)]; cross-field rules may claim a cell for one code.
    found: dict[int, list[tuple[str, Finding]]] = field(default_factory=dict)
    claimed: dict[tuple[int, str], str] = field(default_factory=dict)

    def entry(self, table_id: str, r: int, fid: str) -> CatalogEntry:
        spec = self.frames[table_id].spec
        return spec.grid[r][[f.id for f in spec.table.fields].index(fid)]

    def add(self, b: int, e: CatalogEntry, code: str, reason: str, *, severity: str = "error",
            expected: str | None = None, figures: dict[str, Any] | None = None,
            show_value: bool = True) -> None:
        book = self.books[b]
        rc = book.cells.get(e.id)
        raw = rc.value if rc is not None else None
        sheet = rc.sheet if rc is not None and rc.sheet else e.sheet
        cell = rc.cell if rc is not None and rc.cell else e.cell
        text = f"「{sheet}」シート {cell}「{e.label}」：{reason}"
        if show_value and raw is not None and not (isinstance(raw, str) and not raw.strip()):
            text += f"（入力値：{_shown(raw)}）"
        self.found.setdefault(b, []).append((e.id, Finding(
            code=code, severity=severity, message=text, file=book.file, member=book.member,
            sheet=sheet, cell=cell, field=e.id, value=_plain(raw),
            expected=expected_text(e.spec) if expected is None else expected,
            muni_code=book.muni_code, figures=figures or {},
        )))

    def claim(self, b: int, e: CatalogEntry, code: str) -> None:
        """This cell's only finding is ``code`` (e.g. E305: the month should be empty at all)."""
        self.claimed[(b, e.id)] = code

    def invalidate(self, b: int, fr: Frame, r: int, fid: str) -> None:
        """A cell that failed a field rule: out of the values and of cross-field sums."""
        fr.states[fid][fr.pos(self.k(b), r)] = BAD
        self.books[b].values.pop(self.entry(fr.spec.table.id, r, fid).id, None)

    @functools.cached_property
    def _kpos(self) -> dict[int, int]:
        return {b: k for k, b in enumerate(self.members)}

    def k(self, b: int) -> int:
        """Position of batch book ``b`` among this kind's books (= its row block in a frame)."""
        return self._kpos[b]


@dataclass
class Prepared:
    """One book's cells of one table, normalised: what a frame is built from."""

    cols: list[list[Any]]  # per field, per table row
    states: list[list[int]]
    xlrows: list[int]  # Excel row of each table row (where the value actually was)
    values: dict[str, Any]  # catalog id → canonical value
    notes: list[tuple[str, str, str, str]]  # (catalog id, code, reason, severity)


def normalise_table(book: Book, spec: TableSpec) -> Prepared:
    """The per-cell work of validation, for one book: it needs nothing from the rest of the
    batch, so the pipeline runs it while the other files are still being read."""
    nf = len(spec.table.fields)
    cols: list[list[Any]] = [[] for _ in range(nf)]
    states: list[list[int]] = [[] for _ in range(nf)]
    xlrows: list[int] = []
    values: dict[str, Any] = {}
    notes: list[tuple[str, str, str, str]] = []
    norms = spec.normalisers
    get = book.cells.get
    for r, ids in enumerate(spec.ids):
        first = get(ids[0])
        where = first.cell if first is not None and first.cell else spec.grid[r][0].cell
        xlrows.append(_xlrow(where))
        # The hot loop of a batch (~250 cells a plan): cheap cases first.
        for cid, norm, col, sts in zip(ids, norms, cols, states, strict=True):
            rc = get(cid)
            raw = None if rc is None else rc.value
            if rc is not None and rc.formula:
                # A formula typed into an input cell: its saved result is all we have.
                notes.append((cid, "W406", "入力欄に数式があります。保存されていた計算結果を"
                              "読み取りました。値を直接入力してください", "warning"))
            if raw is None:
                col.append(None)
                sts.append(BLANK)
                continue
            n = norm(raw)
            st = n.state
            if st == "value":
                col.append(n.value)
                sts.append(VALUE)
                values[cid] = n.value
                if n.code:  # accepted with a warning (W403 near miss, W404 era)
                    notes.append((cid, n.code, n.reason, "warning"))
            elif st == "na":
                col.append(None)
                sts.append(NOT_APPLICABLE)
                values[cid] = NA
            elif st == "blank":
                col.append(None)
                sts.append(BLANK)
            else:
                col.append(None)
                sts.append(BAD)
                notes.append((cid, n.code, n.reason, "error"))
    return Prepared(cols, states, xlrows, values, notes)


@functools.lru_cache(maxsize=4096)
def _xlrow(cell: str) -> int:
    return rowcol(cell)[0] + 1


def prepare(book: Book) -> None:
    """Normalise a readable book's cells ahead of :func:`validate_books` (optional: it gives
    the same result, only sooner). Kept on the book until validation consumes it."""
    if book.kind in forms.FORMS and book.status != "unreadable":
        book.prepared = {t.id: normalise_table(book, table_spec(book.kind, t.id))
                         for t in forms.FORMS[book.kind].tables}


def build_frame(run: Run, spec: TableSpec) -> Frame:
    """The combined frame of one table for all books, built from lists (never by concatenating
    one frame per book)."""
    table = spec.table
    nf = len(table.fields)
    cols: list[list[Any]] = [[] for _ in range(nf)]
    states: list[list[int]] = [[] for _ in range(nf)]
    idx_book: list[int] = []
    idx_xlrow: list[int] = []
    idx_key: list[str] = []
    by_id = spec.by_id
    for b in run.members:
        book = run.books[b]
        p = book.prepared.pop(table.id, None) or normalise_table(book, spec)
        for j in range(nf):
            cols[j].extend(p.cols[j])
            states[j].extend(p.states[j])
        idx_book.extend([b] * len(p.xlrows))
        idx_xlrow.extend(p.xlrows)
        idx_key.extend(spec.row_keys)
        book.values.update(p.values)
        for cid, code, reason, severity in p.notes:
            run.add(b, by_id[cid], code, reason, severity=severity)
    data: dict[str, Any] = {}
    for j, f in enumerate(table.fields):
        if f.numeric:
            data[f.id] = pd.array(cols[j], dtype="Int64")
        elif f.type in ("month", "date"):
            data[f.id] = np.array(cols[j], dtype="datetime64[D]").astype("datetime64[s]")
        else:
            data[f.id] = pd.array(cols[j], dtype="str")
    # A flat index of (book, Excel row, row key) tuples: pandera hands these tuples back in its
    # failure cases (a MultiIndex would come back as the tuples' text).
    index = pd.Index(list(zip(idx_book, idx_xlrow, idx_key, strict=True)), tupleize_cols=False,
                     name="book_row_key")
    df = pd.DataFrame(data, index=index)
    return Frame(spec, list(run.members), df,
                  {f.id: np.array(states[j], dtype=np.int8) for j, f in enumerate(table.fields)})

