"""Validation: raw cells → canonical values, findings and a status per workbook (docs/spec/checks.md).

One batch at a time, never one file at a time (:mod:`.prepare` lays every (kind, table) out in
ONE combined frame for all books of the batch); the pandera schema derived from the form
(:mod:`.schema`) runs once on each frame; then the rules of the form kind (:mod:`.rules`) run
vectorised over the batch.

Cell states are kept apart all the way: a value, blank (not answered), 「－」 (not applicable:
``model.NA``; counts as 0 in sums), and invalid (already reported; counts as missing in
cross-field sums, so that one fault gives one finding).

Decisions where the spec is silent (one fault, one finding, at the cell to correct):
- The frame index is a flat index of (book, Excel row, row key) tuples, not a MultiIndex:
  pandera (0.35) turns MultiIndex failure cases into the tuples' text.
- A required cell holding 「－」: E210; a required-if cell holding 「－」: E308 (it is still
  unanswered). Required text/phone/email fields: to_text keeps 「－」 as text.
- muni_code failing E205–E207 stays in ``values`` (the merge needs it to name the book);
  cells failing a field rule (E2xx) leave ``values``; cross-field findings (E3xx) do not.
- E208 checks population_date and submitted_on against ``today``.
- W402 (a past month changed in a resubmission) needs the previous report, so it is
  :func:`compare_resubmission`, called by the pipeline after intake has settled resubmissions.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from .. import forms, periods
from ..codes import render
from ..findings import Finding
from ..model import NA, Book, muni_code_of
from ..refdata import Master
from .prepare import Run, build_frame, catalog_pos, expected_text, prepare, table_spec
from .rules import RULES
from .schema import run_schema, schema  # binds the name to the function, not the module

__all__ = ["compare_resubmission", "expected_text", "jsonable_value", "prepare", "schema",
           "validate_books"]


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
        run = Run(books, kind, members, master, pref_code, today)
        for b in members:
            books[b].values.clear()
        for table in forms.FORMS[kind].tables:
            run.frames[table.id] = build_frame(run, table_spec(kind, table.id))
        for fr in run.frames.values():
            run_schema(run, fr)
        for rule in RULES[kind]:
            rule(run)
        _finish(run)


# Findings that only say "this cell is blank": a book made mostly of them was not filled in.
BLANK_CODES = frozenset({"E201", "E306", "E308"})
E_UNFILLED = "E121"
UNFILLED_MIN_BLANK = 5  # fewer blank cells are listed one by one, whatever the share
UNFILLED_SHARE = 0.1  # filled cells at most this share of (filled + blank) → not filled in


def _filled_cells(book: Book, kind: str) -> int:
    """Cells the municipality wrote something in (not counting what the template pre-fills)."""
    n = 0
    for e in forms.catalog(kind):
        rc = book.cells.get(e.id)
        if e.spec.prefill or rc is None or rc.value is None:
            continue
        if isinstance(rc.value, str) and not rc.value.strip():
            continue
        n += 1
    return n


def _unfilled(book: Book, kind: str, found: list[tuple[str, Finding]]) -> Finding | None:
    """One book-level E121 for a template returned blank or nearly so (one problem, one
    message: not 200 E201 lines, and a reminder that says so), else None."""
    blank = sum(1 for _fid, f in found if f.code in BLANK_CODES)
    if blank < UNFILLED_MIN_BLANK:
        return None
    filled = _filled_cells(book, kind)
    if filled > UNFILLED_SHARE * (filled + blank):
        return None
    variant = "blank" if filled == 0 else "nearly"
    return Finding(code=E_UNFILLED, severity="error",
                   message=render(E_UNFILLED, variant, blank=blank, filled=filled),
                   file=book.file, member=book.member, muni_code=book.muni_code,
                   figures={"blank": blank, "filled": filled})


def _finish(run: Run) -> None:
    order = catalog_pos(run.kind)
    for b in run.members:
        book = run.books[b]
        found = [(fid, f) for fid, f in run.found.get(b, [])
                 if run.claimed.get((b, fid), f.code) == f.code]
        found.sort(key=lambda t: (order.get(t[0], len(order)), t[1].severity != "error", t[1].code))
        unfilled = _unfilled(book, run.kind, found)
        if unfilled is not None:  # the book's one finding first, then any other real fault
            book.findings.append(unfilled)
            found = [(fid, f) for fid, f in found if f.code not in BLANK_CODES]
        book.findings.extend(f for _fid, f in found)
        book.status = "invalid" if book.errors else "valid"
        # One municipality per book, everywhere (--json, messages, report, merge): its cell's.
        code = muni_code_of(book)
        if code != book.muni_code:
            book.muni_code = code
            book.findings[:] = [replace(f, muni_code=code) for f in book.findings]


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
    spec = table_spec("monthly", "actuals")
    run = Run([new], "monthly", [0])
    when = old.values.get("basic.submitted_on")
    since = f"{periods.wareki_date(when)}提出の" if isinstance(when, date) else "前回提出の"
    for r, key in enumerate(spec.row_keys):
        if key > last:
            break
        for e in spec.grid[r]:
            a, b = new.values.get(e.id), old.values.get(e.id)
            if a != b:
                shown = "空欄" if b is None else str(b) if b is NA else f"{b:,}"
                run.add(0, e, "W402", render("W402", since=since, label=old.label, shown=shown),
                        severity="warning", expected="",
                        figures={"previous": jsonable_value(b), "current": jsonable_value(a), "month": key})
    found = [f for _fid, f in run.found.get(0, [])]
    new.findings.extend(found)
    return found


def jsonable_value(v: Any) -> Any:
    """A canonical value for Finding.figures: 「－」 as text, the rest as is."""
    return "－" if v is NA else v
