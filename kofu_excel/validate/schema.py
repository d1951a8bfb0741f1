"""The pandera schemas, derived from the form definition, and their failures mapped to codes.

Every pandera check carries its code as its error text (``error="E203"``), so a failure case's
``check`` column IS the code; the check object behind it (``check_number``) gives the bound or
field it was about. pandera's own nullable check (``not_nullable``) is E201, or E210 for 「－」.
One call per (kind, table) on the combined frame of the batch, ``lazy=True``: every fault in one
pass.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pandera.pandas as pa

from .. import forms, periods
from ..forms import Field, range_text
from .prepare import BAD, NOT_APPLICABLE, Frame, Run


@contextlib.contextmanager
def _hypothesis_hidden() -> Iterator[None]:
    """pandera's pandas checks import hypothesis when it is installed, for generating example
    data, which this package never does: 0.6 s on the first validation where it is (the test
    extra; the offline bundle has none). Hidden while they load, unless already loaded."""
    if "hypothesis" in sys.modules:
        yield
        return
    sys.modules["hypothesis"] = None  # type: ignore[assignment]  # "import hypothesis" fails
    try:
        yield
    finally:
        if sys.modules.get("hypothesis", 0) is None:
            del sys.modules["hypothesis"]


with _hypothesis_hidden():
    import pandera.backends.pandas.builtin_checks  # noqa: F401  # what imports it, once


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
        checks.append(pa.Check.ge(_bound(f, f.lower), error="E203"))
    if f.max is not None:
        checks.append(pa.Check.le(_bound(f, f.max), error="E203"))
    if f.choices:
        checks.append(pa.Check.isin(list(f.choices), error="E204"))
    return pa.Column(_dtype(f), checks, nullable=not f.required)


def _required_if_check(f: Field) -> pa.Check:
    """Row-wise: the field must be filled when any sibling holds one of the listed values."""
    rules = f.required_if

    def check(df: pd.DataFrame) -> pd.Series:
        needed = functools.reduce(lambda a, b: a | b,
                                  (df[sib].isin(list(vals)) for sib, vals in rules))
        return ~needed | df[f.id].notna()

    return pa.Check(check, name=f"required_if:{f.id}", error="E308", statistics={"field": f.id})


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


def _check_of(sch: pa.DataFrameSchema, context: str, column: str, number: Any) -> pa.Check:
    """The check object a failure case names: a column's own or one of the frame's."""
    checks = sch.checks if context == "DataFrameSchema" else sch.columns[column].checks
    return checks[int(number)]


def run_schema(run: Run, fr: Frame) -> None:
    """Validate one frame; each failure becomes a finding at its cell (once), and a cell that
    broke a range or choice leaves the values and the cross-field sums."""
    spec = fr.spec
    sch = schema(run.kind, spec.table.id)
    try:
        sch.validate(fr.df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return
    row_pos = {k: r for r, k in enumerate(spec.row_keys)}
    fields = {f.id: f for f in spec.table.fields}
    seen: set[tuple[int, int, str, str, Any]] = set()
    rows = zip(cases["schema_context"], cases["column"], cases["check"], cases["check_number"],
               cases["index"], strict=True)
    for context, column, code, number, index in rows:
        if not isinstance(index, tuple):
            # dtype or column faults: the frame was built wrongly, not the user's input
            raise RuntimeError(f"{spec.table.id}.{column}: {code}")
        b, _xlrow, key = index
        r = row_pos[key]
        check = None if code == "not_nullable" else _check_of(sch, context, column, number)
        fid = check.statistics["field"] if code == "E308" else column
        if (b, r, fid, code, number) in seen:
            continue  # frame-level checks report once per column of the failing row
        seen.add((b, r, fid, code, number))
        f = fields[fid]
        e = spec.grid[r][list(fields).index(fid)]
        state = fr.states[fid][fr.pos(run.k(b), r)]
        if state == BAD:
            continue  # already reported by the normaliser
        if code == "E308":
            run.add(b, e, "E308", _required_if_reason(run, fr, b, r, f, state),
                    show_value=state == NOT_APPLICABLE)
        elif code == "not_nullable":
            if state == NOT_APPLICABLE:
                run.add(b, e, "E210", "「－」（該当なし）は入力できない項目です。"
                        + ("該当がない場合は0を入力してください" if f.numeric else "値を入力してください"))
            else:
                run.add(b, e, "E201", "必須項目です。入力してください")
        elif code == "E203":
            run.add(b, e, "E203", _range_reason(f, upper="max_value" in check.statistics))
            run.invalidate(b, fr, r, fid)
        elif code == "E204":
            run.add(b, e, "E204", f"選択肢（{'・'.join(f.choices)}）のいずれかを選んでください")
            run.invalidate(b, fr, r, fid)
        else:
            raise RuntimeError(f"{spec.table.id}.{column}: unexpected check {code}")


def _range_reason(f: Field, upper: bool) -> str:
    """Name the bound that was broken: 「0以上の整数」 for a negative, not the whole range."""
    bound = f.max if upper else f.lower
    if f.type in ("month", "date"):
        if not isinstance(bound, str):
            return f"{range_text(f)}の年月を入力してください"
        return f"{periods.wareki_month(bound)}{'以前' if upper else '以降'}の年月を入力してください"
    unit = "円" if f.type == "yen" else ""
    what = "金額（円単位）" if f.type == "yen" else "整数"
    if upper:
        return f"{bound:,}{unit}以下の{what}を入力してください（桁数をご確認ください）"
    return f"{bound:,}{unit}以上の{what}を入力してください"


def _required_if_reason(run: Run, fr: Frame, b: int, r: int, f: Field, state: int) -> str:
    book = run.books[b]
    why = []
    for sib, vals in f.required_if:
        v = book.values.get(run.entry(fr.spec.table.id, r, sib).id)
        if v in vals:
            why.append(f"「{fr.spec.table.field(sib).label}」が「{v}」")
    na = "「－」ではなく、" if state == NOT_APPLICABLE else ""
    return f"{'、'.join(why)}のため、{na}{f.label}の入力が必要です"
