"""Field rules beyond types, for every form: the municipality code against the master, and
dates that must not lie in the future."""

from __future__ import annotations

from datetime import date

from ... import periods
from ...refdata import is_valid_code
from ..prepare import Run
from .base import rule

# Dates that must not lie in the future (E208).
FUTURE_FIELDS = ("population_date", "submitted_on")


@rule("E205", "E206", "E207", "W407")
def muni_code(run: Run) -> None:
    """The code's check digit, the master, the prefecture (the first that fails). A failing code
    stays in ``values``: the merge needs it to name the book. The 団体コード cell is the one
    source of truth for whose book it is (model.muni_code_of); a ``_meta`` that names another
    municipality (edited, or a form made for a neighbour) is W407."""
    basic = run.frames["basic"]
    names = [f.id for f in basic.spec.table.fields]
    master, pref_code = run.master, run.pref_code
    assert master is not None
    for b in run.members:
        book = run.books[b]
        code = book.values.get("basic.muni_code")
        if not isinstance(code, str):
            continue
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
        meta = book.meta.get("muni_code", "")
        if meta and meta != code and muni is not None and is_valid_code(code):  # else E205/E206 say it
            run.add(b, e, "W407", f"様式の管理情報（_meta シート）の団体コード {meta} と一致しません。"
                    f"この欄の団体コード {code} の団体のブックとして扱います", severity="warning",
                    expected=f"様式を作成した団体の団体コード（{meta}）")


@rule("E208")
def future_dates(run: Run) -> None:
    """population_date and submitted_on not after ``today``."""
    basic = run.frames["basic"]
    names = [f.id for f in basic.spec.table.fields]
    today = run.today
    for b in run.members:
        book = run.books[b]
        for fid in FUTURE_FIELDS:
            if fid not in names:
                continue
            v = book.values.get(f"basic.{fid}")
            if isinstance(v, date) and v > today:
                e = basic.spec.grid[0][names.index(fid)]
                run.add(b, e, "E208", f"未来の日付です（本日は{periods.wareki_date(today)}）",
                        expected=f"{periods.wareki_date(today)}以前の日付")
                run.invalidate(b, basic, 0, fid)


GENERAL = [muni_code, future_dates]
