"""Validation: raw cells → canonical values, findings and a status per workbook (checks.md).

One batch at a time, never one file at a time: every raw cell is normalised once, the values of
each (kind, table) are laid out in ONE combined frame for all books of the batch, and the
pandera schema derived from the form definition runs once on it (``lazy=True``: every fault in
one pass). Rows of a frame are book-major with a fixed number of rows per book, so a row's
position gives its book and table row, and each numeric column reshapes into a
(books × table rows) matrix on which the cross-field rules run vectorised.

Cell states are kept apart all the way: a value, blank (not answered), 「－」 (not applicable:
``model.NA``; counts as 0 in sums), and invalid (already reported; counts as missing in
cross-field sums, so that one fault gives one finding).

Decisions where the spec is silent (one fault, one finding, at the cell to correct):
- The frame index is a flat index of (book, Excel row, row key) tuples, not a MultiIndex:
  pandera (0.35) turns MultiIndex failure cases into the tuples' text.
- Terminals 0 in a quarter with forecast > 0: only E302 (it says more than E203 for
  terminals ≥ 1); terminals 0 in a quarter with no forecast: E203.
- issued_to_date > population: E307 only; E301 would restate it at the first month.
- E301 and E304 use running totals of valid cells. For E304 the earlier stage's total is known
  only up to its first blank or invalid month (no finding on a guess); the later stage counts
  what is valid. NA counts as 0 in both.
- A month after report_month: a figure (valid or not) is E305 and that cell's only finding;
  「－」 there is accepted (it claims nothing). Months up to report_month: E306 per blank cell.
  When report_month itself is unknown, E305/E306 are skipped and E304 runs on every month.
- A required cell holding 「－」: E210; a required-if cell holding 「－」: E308 (it is still
  unanswered). Required text/phone/email fields: to_text keeps 「－」 as text.
- muni_code failing E205–E207 stays in ``values`` (the merge needs it to name the book);
  cells failing a field rule (E2xx) leave ``values``; cross-field findings (E3xx) do not.
- E208 checks population_date and submitted_on against ``today``.
- W402 (a past month changed in a resubmission) needs the previous report, so it is
  :func:`compare_resubmission`, called by the pipeline after intake has settled resubmissions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from . import forms, periods
from .cells import rowcol
from .findings import Finding
from .forms import CatalogEntry, Field, Table
from .model import NA, Book
from .normalise import NORMALISERS, Norm, to_choice
from .refdata import Master, is_valid_code

__all__ = ["compare_resubmission", "expected_text", "schema", "validate_books"]

# Cell states (int8 arrays beside each frame column).
VALUE, BLANK, NOT_APPLICABLE, BAD = 0, 1, 2, 3

# Dates that must not lie in the future (E208).
FUTURE_FIELDS = ("population_date", "submitted_on")
# Monthly cumulative order (forms.md): (later stage, earlier stage). NOT issued ≤ notices:
# cards applied for under 申請時来庁方式 are handed over with no 交付通知書.
MONTHLY_ORDER = (("delivered", "applications"), ("setup", "delivered"),
                 ("issued", "setup"), ("notices", "setup"))
_MONTH0 = np.datetime64(periods.FIRST_MONTH, "M")


# --- the schemas, derived from the form definition -------------------------------------------


def _bound(f: Field, v: int | str) -> int | pd.Timestamp:
    """A Field.min/max as the frame holds it: ints as is, 'YYYY-MM' as that month's first day."""
    return pd.Timestamp(periods.month_date(v)) if isinstance(v, str) else v


def _dtype(f: Field) -> str | type:
    if f.numeric:
        return "Int64"
    if f.type in ("month", "date"):
        return "datetime64[s]"
    return str


def _column(f: Field) -> pa.Column:
    checks: list[pa.Check] = []
    if f.lower is not None:
        checks.append(pa.Check.ge(_bound(f, f.lower)))
    if f.max is not None:
        checks.append(pa.Check.le(_bound(f, f.max)))
    if f.choices:
        checks.append(pa.Check.isin(list(f.choices)))
    return pa.Column(_dtype(f), checks, nullable=not f.required)


def _required_if_check(f: Field) -> pa.Check:
    """Row-wise: the field must be filled when any sibling holds one of the listed values."""
    rules = f.required_if

    def check(df: pd.DataFrame) -> pd.Series:
        needed = functools.reduce(lambda a, b: a | b,
                                  (df[sib].isin(list(vals)) for sib, vals in rules))
        return ~needed | df[f.id].notna()

    return pa.Check(check, name=f"required_if:{f.id}")


@functools.cache
def schema(kind: str, table_id: str) -> pa.DataFrameSchema:
    """The pandera schema of one table: one column per field (dtype, ranges, choices, required)
    and one frame-level check per required-if rule."""
    table = forms.FORMS[kind].table(table_id)
    return pa.DataFrameSchema(
        {f.id: _column(f) for f in table.fields},
        checks=[_required_if_check(f) for f in table.fields if f.required_if],
        name=f"{kind}.{table_id}",
        strict=True,
    )


# --- per table: the cells in a fixed grid -----------------------------------------------------


@dataclass(frozen=True)
class _TableSpec:
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
def _spec(kind: str, table_id: str) -> _TableSpec:
    table = forms.FORMS[kind].table(table_id)
    by_pos = {(e.table, e.spec.id, e.index): e for e in forms.catalog(kind)}
    n = 1 if table.single else len(table.rows)
    grid = tuple(tuple(by_pos[(table.id, f.id, i)] for f in table.fields) for i in range(n))
    keys = ("",) if table.single else tuple(r.key for r in table.rows)
    norms = tuple(functools.partial(to_choice, choices=f.choices) if f.type == "choice"
                  else NORMALISERS[f.type] for f in table.fields)
    ids = tuple(tuple(e.id for e in row) for row in grid)
    return _TableSpec(table, grid, keys, norms, ids, {e.id: e for row in grid for e in row})


@functools.cache
def _catalog_pos(kind: str) -> dict[str, int]:
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
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def _plain(raw: Any) -> Any:
    """The raw value for Finding.value: calamine's 434857.0 is the 434857 the user typed."""
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 2**53:
        return int(raw)
    return raw


def _range_text(f: Field) -> str:
    lo, hi = f.lower, f.max
    if f.type in ("month", "date"):
        parts = [f"{periods.wareki_month(lo)}以降" if isinstance(lo, str) else "",
                 f"{periods.wareki_month(hi)}以前" if isinstance(hi, str) else ""]
        return "・".join(p for p in parts if p)
    unit = "円" if f.type == "yen" else ""
    if isinstance(lo, int) and isinstance(hi, int):
        return f"{lo:,}{unit}以上{hi:,}{unit}以下"
    if isinstance(lo, int):
        return f"{lo:,}{unit}以上"
    return f"{hi:,}{unit}以下" if isinstance(hi, int) else ""


def expected_text(f: Field) -> str:
    """What a cell of this field must hold, in Japanese (Finding.expected)."""
    kind = {
        "int": "整数", "yen": "円単位の整数", "month": "年月（例：令和2年4月）",
        "date": "日付（例：令和2年4月1日）", "phone": "電話番号（例：011-231-4111）",
        "email": "メールアドレス", "code": "6桁の団体コード", "text": "文字",
    }.get(f.type, "")
    if f.choices:
        kind = f"選択肢（{'・'.join(f.choices)}）のいずれか"
    rng = _range_text(f)
    text = f"{rng}の{kind}" if rng else kind
    return text + ("（必須）" if f.required else "")


# --- the batch being validated ----------------------------------------------------------------


@dataclass
class _Frame:
    """One (kind, table) for all books of that kind: the frame pandera sees, and beside it the
    state of each cell."""

    spec: _TableSpec
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
class _Run:
    books: Sequence[Book]
    kind: str
    members: list[int]  # batch numbers of this kind's books
    frames: dict[str, _Frame] = field(default_factory=dict)
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

    def invalidate(self, b: int, fr: _Frame, r: int, fid: str) -> None:
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
class _Prepared:
    """One book's cells of one table, normalised: what a frame is built from."""

    cols: list[list[Any]]  # per field, per table row
    states: list[list[int]]
    xlrows: list[int]  # Excel row of each table row (where the value actually was)
    values: dict[str, Any]  # catalog id → canonical value
    notes: list[tuple[str, str, str, str]]  # (catalog id, code, reason, severity)


def _normalise_table(book: Book, spec: _TableSpec) -> _Prepared:
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
    return _Prepared(cols, states, xlrows, values, notes)


@functools.lru_cache(maxsize=4096)
def _xlrow(cell: str) -> int:
    return rowcol(cell)[0] + 1


def prepare(book: Book) -> None:
    """Normalise a readable book's cells ahead of :func:`validate_books` (optional: it gives
    the same result, only sooner). Kept on the book until validation consumes it."""
    if book.kind in forms.FORMS and book.status != "unreadable":
        book.prepared = {t.id: _normalise_table(book, _spec(book.kind, t.id))
                         for t in forms.FORMS[book.kind].tables}


def _build_frame(run: _Run, spec: _TableSpec) -> _Frame:
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
        p = book.prepared.pop(table.id, None) or _normalise_table(book, spec)
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
    return _Frame(spec, list(run.members), df,
                  {f.id: np.array(states[j], dtype=np.int8) for j, f in enumerate(table.fields)})


# --- pandera: one call per (kind, table), failure cases mapped back to cells -------------------


def _run_schema(run: _Run, fr: _Frame) -> None:
    spec = fr.spec
    try:
        schema(run.kind, spec.table.id).validate(fr.df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return
    row_pos = {k: r for r, k in enumerate(spec.row_keys)}
    fields = {f.id: f for f in spec.table.fields}
    seen: set[tuple[int, int, str, str]] = set()
    for column, check, index in zip(cases["column"], cases["check"], cases["index"], strict=True):
        if not isinstance(index, tuple):
            # dtype or column faults: the frame was built wrongly, not the user's input
            raise RuntimeError(f"{spec.table.id}.{column}: {check}")
        b, _xlrow, key = index
        r = row_pos[key]
        fid = check.split(":", 1)[1] if check.startswith("required_if:") else column
        if (b, r, fid, check) in seen:
            continue  # frame-level checks report once per column of the failing row
        seen.add((b, r, fid, check))
        f = fields[fid]
        e = spec.grid[r][list(fields).index(fid)]
        state = fr.states[fid][fr.pos(run.k(b), r)]
        if state == BAD:
            continue  # already reported by the normaliser
        if check.startswith("required_if:"):
            run.add(b, e, "E308", _required_if_reason(run, fr, b, r, f, state),
                    show_value=state == NOT_APPLICABLE)
        elif check == "not_nullable":
            if state == NOT_APPLICABLE:
                run.add(b, e, "E210", "「－」（該当なし）は入力できない項目です。"
                        + ("該当がない場合は0を入力してください" if f.numeric else "値を入力してください"))
            else:
                run.add(b, e, "E201", "必須項目です。入力してください")
        elif check.startswith(("greater_than_or_equal_to", "less_than_or_equal_to")):
            run.add(b, e, "E203", _range_reason(f, upper=check.startswith("less")))
            run.invalidate(b, fr, r, fid)
        elif check.startswith("isin"):
            run.add(b, e, "E204", f"選択肢（{'・'.join(f.choices)}）のいずれかを選んでください")
            run.invalidate(b, fr, r, fid)
        else:
            raise RuntimeError(f"{spec.table.id}.{column}: unexpected check {check}")


def _range_reason(f: Field, upper: bool) -> str:
    """Name the bound that was broken: 「0以上の整数」 for a negative, not the whole range."""
    bound = f.max if upper else f.lower
    if f.type in ("month", "date"):
        if not isinstance(bound, str):
            return f"{_range_text(f)}の年月を入力してください"
        return f"{periods.wareki_month(bound)}{'以前' if upper else '以降'}の年月を入力してください"
    unit = "円" if f.type == "yen" else ""
    what = "金額（円単位）" if f.type == "yen" else "整数"
    if upper:
        return f"{bound:,}{unit}以下の{what}を入力してください（桁数をご確認ください）"
    return f"{bound:,}{unit}以上の{what}を入力してください"


def _required_if_reason(run: _Run, fr: _Frame, b: int, r: int, f: Field, state: int) -> str:
    book = run.books[b]
    why = []
    for sib, vals in f.required_if:
        v = book.values.get(run.entry(fr.spec.table.id, r, sib).id)
        if v in vals:
            why.append(f"「{fr.spec.table.field(sib).label}」が「{v}」")
    na = "「－」ではなく、" if state == NOT_APPLICABLE else ""
    return f"{'、'.join(why)}のため、{na}{f.label}の入力が必要です"


# --- field rules beyond types -----------------------------------------------------------------


def _field_rules(run: _Run, master: Master, pref_code: str | None, today: date) -> None:
    basic = run.frames["basic"]
    names = [f.id for f in basic.spec.table.fields]
    for b in run.members:
        book = run.books[b]
        code = book.values.get("basic.muni_code")
        if isinstance(code, str):
            e = basic.spec.grid[0][names.index("muni_code")]
            muni = master.by_code.get(code)
            if not is_valid_code(code):
                run.add(b, e, "E205", "団体コードの検査数字（6桁目）が正しくありません",
                        expected="検査数字を含む6桁の団体コード")
            elif muni is None:
                run.add(b, e, "E206", "団体コードが団体名簿にありません",
                        expected="団体名簿にある団体コード")
            elif pref_code is not None and muni.pref_code != pref_code:
                pname = master.prefectures.get(pref_code, pref_code)
                run.add(b, e, "E207", f"{muni.pref_name}{muni.name}の様式です。とりまとめ対象（{pname}）"
                        "の団体ではありません", expected=f"{pname}の団体コード")
            if not book.muni_code:
                book.muni_code = code
        for fid in FUTURE_FIELDS:
            if fid not in names:
                continue
            v = book.values.get(f"basic.{fid}")
            if isinstance(v, date) and v > today:
                e = basic.spec.grid[0][names.index(fid)]
                run.add(b, e, "E208", f"未来の日付です（本日は{periods.wareki_date(today)}）",
                        expected=f"{periods.wareki_date(today)}以前の日付")
                run.invalidate(b, basic, 0, fid)


# --- cross-field rules (vectorised over the batch) --------------------------------------------


def _first_true(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows having a True, column of their first True)."""
    has = m.any(axis=1)
    return np.flatnonzero(has), m.argmax(axis=1)[has]


def _plan_rules(run: _Run) -> None:
    basic, fc, cap, costs = (run.frames[t] for t in ("basic", "forecast", "capacity", "costs"))
    pop = basic.num("population")[:, 0]
    issued0 = basic.num("issued_to_date")[:, 0]
    e_issued0 = run.entry("basic", 0, "issued_to_date")
    over = issued0 > pop  # NaN compares False: unknown population → no finding
    for k in np.flatnonzero(over):
        run.add(run.members[k], e_issued0, "E307",
                f"交付済枚数（{int(issued0[k]):,}枚）が住民基本台帳人口（{int(pop[k]):,}人）を超えています",
                expected=f"{int(pop[k]):,}以下の整数",
                figures={"issued_to_date": int(issued0[k]), "population": int(pop[k])})

    # E301: the first month whose running total (issued_to_date + forecast so far) exceeds the
    # population. Invalid months count as missing; when issued_to_date alone exceeds it, E307
    # says so once.
    plan = fc.num("planned_issued")
    cum = np.nan_to_num(issued0)[:, None] + np.nancumsum(plan, axis=1)
    exceed = (cum > pop[:, None]) & ~over[:, None]
    for k, r in zip(*_first_true(exceed), strict=True):
        b = run.members[k]
        run.add(b, run.entry("forecast", r, "planned_issued"), "E301",
                f"この月で累計（交付済枚数を含む）が{int(cum[k, r]):,}枚となり、"
                f"住民基本台帳人口（{int(pop[k]):,}人）を超えます",
                expected=f"累計が人口（{int(pop[k]):,}人）以下となる枚数",
                figures={"cumulative": int(cum[k, r]), "population": int(pop[k]),
                         "issued_to_date": int(np.nan_to_num(issued0[k])), "month": fc.spec.row_keys[r]})

    # E302: terminals 0 in a quarter with forecast > 0. The explicit 0 also breaks terminals ≥ 1
    # (E203); E302 says more, so it is that cell's only finding.
    months = fc.spec.row_keys
    quarters = cap.spec.row_keys
    to_q = np.zeros((len(months), len(quarters)))
    for i, m in enumerate(months):
        to_q[i, quarters.index(periods.quarter_of(m))] = 1
    q_forecast = np.nan_to_num(plan) @ to_q
    terminals = cap.raw_num("terminals")
    for k, r in zip(*np.nonzero((terminals == 0) & (q_forecast > 0)), strict=True):
        b = run.members[k]
        e = run.entry("capacity", r, "terminals")
        run.add(b, e, "E302", f"この四半期に交付枚数{int(q_forecast[k, r]):,}枚を想定していますが、"
                "統合端末台数が0です", expected="1以上の整数",
                figures={"forecast": int(q_forecast[k, r]), "terminals": 0, "quarter": quarters[r]})
        run.claim(b, e, "E302")

    # W401: temporary staff while terminals outnumber regular staff (第2-2(2)).
    temp, term, reg = cap.num("staff_temporary"), cap.num("terminals"), cap.num("staff_regular")
    for k, r in zip(*np.nonzero((temp > 0) & (term > reg)), strict=True):
        run.add(run.members[k], run.entry("capacity", r, "staff_temporary"), "W401",
                f"統合端末台数（{int(term[k, r])}台）が正規職員数（{int(reg[k, r])}人）を上回っています。"
                "臨時・非常勤職員が端末を操作する場合は、正規職員による研修・監督の体制を備考等で"
                "示してください（通知第2-2(2)）", severity="warning", expected="",
                figures={"terminals": int(term[k, r]), "staff_regular": int(reg[k, r]),
                         "staff_temporary": int(temp[k, r]), "quarter": quarters[r]})

    # E303: R1-only items costed in FY2020.
    fy2020 = costs.num("fy2020")
    rows = [costs.spec.row_keys.index(item) for item in forms.R1_ONLY_COSTS]
    for k, i in zip(*np.nonzero(fy2020[:, rows] > 0), strict=True):
        r = rows[i]
        label = forms.COSTS.rows[r].label
        run.add(run.members[k], run.entry("costs", r, "fy2020"), "E303",
                f"「{label}」は令和元年度限りの補助対象経費です。令和2年度は0としてください",
                expected="0", figures={"item": costs.spec.row_keys[r], "amount": int(fy2020[k, r])})


def _monthly_rules(run: _Run) -> None:
    basic, act = run.frames["basic"], run.frames["actuals"]
    months = act.spec.row_keys
    rm = basic.df["report_month"].to_numpy().astype("datetime64[M]")
    known = (basic.states["report_month"] == VALUE) & ~np.isnat(rm)
    rm_i = np.where(known, (rm - _MONTH0).astype("int64", copy=False), -1)[:, None]
    known = known[:, None]
    j = np.arange(len(months))[None, :]
    upto = (j <= rm_i) | ~known  # report_month unknown: the order is still checked on every month
    after = known & (j > rm_i)
    names = {f.id: f for f in act.spec.table.fields}

    def rm_label(k: int) -> str:
        return periods.wareki_month(months[int(rm_i[k, 0])])

    for fid in names:
        st = act.state(fid)
        # E305: a month after report_month holds a figure (「－」 is harmless and accepted).
        for k, r in zip(*np.nonzero(after & ((st == VALUE) | (st == BAD))), strict=True):
            b = run.members[k]
            e = run.entry("actuals", r, fid)
            run.add(b, e, "E305", f"対象月（{rm_label(k)}）より後の月です。空欄にしてください",
                    expected="空欄")
            run.claim(b, e, "E305")
            run.books[b].values.pop(e.id, None)
        # E306: a month up to report_month left blank (「－」 counts as 0, not as blank).
        for k, r in zip(*np.nonzero(known & (j <= rm_i) & (st == BLANK)), strict=True):
            run.add(run.members[k], run.entry("actuals", r, fid), "E306",
                    f"対象月（{rm_label(k)}）までの各月は入力が必要です。該当がない場合は0または「－」を"
                    "入力してください", expected="0以上の整数または「－」")

    # E304: running totals, months up to report_month. The earlier stage's total is known only
    # up to its first blank or invalid month; the later stage's counts what is valid.
    for later, earlier in MONTHLY_ORDER:
        l_cum = np.nancumsum(act.num(later), axis=1)
        e_st = act.state(earlier)
        e_cum = np.cumsum(np.where(e_st == VALUE, np.nan_to_num(act.num(earlier)), 0), axis=1)
        e_known = np.logical_and.accumulate((e_st == VALUE) | (e_st == NOT_APPLICABLE), axis=1)
        broken = (l_cum > e_cum) & e_known & upto
        for k, r in zip(*_first_true(broken), strict=True):
            b = run.members[k]
            lf, ef = names[later], names[earlier]
            run.add(b, run.entry("actuals", r, later), "E304",
                    f"{periods.wareki_month(months[r])}までの累計で、{lf.label}（{int(l_cum[k, r]):,}）が"
                    f"{ef.label}（{int(e_cum[k, r]):,}）を超えています",
                    expected=f"累計が{ef.label}の累計以下",
                    figures={later: int(l_cum[k, r]), earlier: int(e_cum[k, r]), "month": months[r]})


_CROSS: dict[str, Callable[[_Run], None]] = {"plan": _plan_rules, "monthly": _monthly_rules}


# --- the entry point --------------------------------------------------------------------------


def validate_books(books: list[Book], master: Master, pref: str | None = None,
                   today: date | None = None) -> None:
    """Validate a batch in place: fill each readable book's ``values`` (catalog id → int, date,
    str or ``model.NA``; blank cells absent), append its findings, set status valid/invalid.

    Unreadable books, prefectural summaries and books of no known kind are left untouched.
    ``pref`` (a code or name; :meth:`Master.pref`) limits the municipalities to one prefecture.
    """
    pref_code = master.pref(pref) if pref is not None else None
    today = today or date.today()
    for kind in forms.FORMS:
        members = [b for b, book in enumerate(books)
                   if book.kind == kind and book.status != "unreadable"]
        if not members:
            continue
        run = _Run(books, kind, members)
        for b in members:
            books[b].values.clear()
        for table in forms.FORMS[kind].tables:
            run.frames[table.id] = _build_frame(run, _spec(kind, table.id))
        for fr in run.frames.values():
            _run_schema(run, fr)
        _field_rules(run, master, pref_code, today)
        _CROSS[kind](run)
        _finish(run)


def _finish(run: _Run) -> None:
    order = _catalog_pos(run.kind)
    for b in run.members:
        book = run.books[b]
        found = [(fid, f) for fid, f in run.found.get(b, [])
                 if run.claimed.get((b, fid), f.code) == f.code]
        found.sort(key=lambda t: (order.get(t[0], len(order)), t[1].severity != "error", t[1].code))
        book.findings.extend(f for _fid, f in found)
        book.status = "invalid" if book.errors else "valid"


# --- resubmissions ----------------------------------------------------------------------------


def compare_resubmission(new: Book, old: Book) -> list[Finding]:
    """W402 on ``new`` for each month, up to both report months, whose figure differs from an
    earlier monthly report of the same municipality (``old``). Appended to ``new.findings``.

    A corrected past month is allowed (the backlog figures depend on it) but the prefecture
    should know, so it is a warning, never an error.
    """
    if new.kind != "monthly" or old.kind != "monthly" or new.status != "valid" or old.status != "valid":
        return []
    rm_new, rm_old = new.values.get("basic.report_month"), old.values.get("basic.report_month")
    if not isinstance(rm_new, date) or not isinstance(rm_old, date):
        return []
    last = periods.month_key(min(rm_new, rm_old))
    spec = _spec("monthly", "actuals")
    run = _Run([new], "monthly", [0])
    when = old.values.get("basic.submitted_on")
    since = f"{periods.wareki_date(when)}提出の" if isinstance(when, date) else "前回提出の"
    for r, key in enumerate(spec.row_keys):
        if key > last:
            break
        for e in spec.grid[r]:
            a, b = new.values.get(e.id), old.values.get(e.id)
            if a != b:
                shown = "空欄" if b is None else str(b) if b is NA else f"{b:,}"
                run.add(0, e, "W402", f"{since}報告（{old.label}）では{shown}でした。過去の月を修正した場合は"
                        "理由を連絡してください", severity="warning", expected="",
                        figures={"previous": jsonable_value(b), "current": jsonable_value(a), "month": key})
    found = [f for _fid, f in run.found.get(0, [])]
    new.findings.extend(found)
    return found


def jsonable_value(v: Any) -> Any:
    """A canonical value for Finding.figures: 「－」 as text, the rest as is."""
    return "－" if v is NA else v
