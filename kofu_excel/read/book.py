"""Read one workbook's bytes into a :class:`Book`: raw input cells found by defined name.

The read stage sits between intake (which has already bounded the zip and the sheet extents)
and normalisation. It never judges a value; it only says where each input cell is and what it
held, or why the workbook cannot be read at all (E1xx findings, status ``unreadable``).

How it stays near the speed floor (python-calamine reading every sheet, ~0.6 ms a file):
- values come from python-calamine, each needed sheet read once to a list of lists;
- defined names and formula cells come from the format's package
  (:func:`kofu_excel.formats.open_package`), since calamine exposes none; a formula cell's
  value is what the file cached, and ``RawCell.formula`` tells later stages not to trust it.
openpyxl is not used here (it is ~14× slower than calamine). Macros, external links, DDE and
OLE objects are reported (W405), never executed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .. import forms, stamp
from ..cells import a1
from ..contract import DATA_SHEET, SUMMARY_KIND
from ..formats import BROKEN, MULTI, Package, Ref, Unreadable, open_package
from ..model import Book, RawCell
from .summary import read_summary
from .values import Values, add_finding, code_text, value_text

__all__ = ["KNOWN_VERSIONS", "read_book"]

KNOWN_VERSIONS = frozenset({forms.FORM_VERSION})

# Every sheet any form uses: a workbook holding one of them without _meta is "ours, damaged"
# (E103), anything else is foreign (E117).
_FORM_SHEETS = frozenset(t.sheet for f in forms.FORMS.values() for t in f.tables)


# --- the form definition, arranged for reading -----------------------------------------------
@dataclass(frozen=True, slots=True)
class _Slot:
    placement: forms.Placement
    key: str  # casefolded defined name
    entries: tuple[forms.CatalogEntry, ...]  # by index inside the range


@cache
def _slots(kind: str) -> tuple[_Slot, ...]:
    by_name: dict[str, list[forms.CatalogEntry]] = {}
    for e in forms.catalog(kind):
        by_name.setdefault(e.defined_name, []).append(e)
    out = []
    for table in forms.FORMS[kind].tables:
        for p in forms.placements(table):
            entries = sorted(by_name[p.name], key=lambda e: e.index)
            out.append(_Slot(p, p.name.casefold(), tuple(entries)))
    return tuple(out)


# --- the reader ------------------------------------------------------------------------------
def read_book(data: bytes, fmt: str, file: str = "", member: str = "") -> Book:
    """Bytes of one workbook → a :class:`Book` with raw input cells keyed by catalog id.

    Never raises for bad input: what stops reading becomes an E1xx finding and status
    ``unreadable`` (with no cells). ``fmt`` (xlsx xlsm xls ods) is recorded as given; the
    container is recognised from the bytes. Intake must have run ``check_workbook`` first
    (calamine aborts the whole process on some hostile sheet extents).
    """
    book = Book(file=file, member=member, fmt=fmt)
    pkg: Package | None = None
    try:
        pkg = open_package(data)
        values = Values(data, pkg)
        _read(book, pkg, values)
    except Unreadable as e:
        add_finding(book, e.code, str(e))
    if pkg is not None and pkg.active:
        add_finding(book, "W405", f"{'・'.join(pkg.active)}が含まれています。実行せず、値のみ読み取りました",
                 severity="warning")
    if book.status == "unreadable":
        book.cells = {}
        book.tidy = []
    return book


def _read(book: Book, pkg: Package, values: Values) -> None:
    meta_target = pkg.names.get(forms.META_NAME)
    meta_ref = meta_target if isinstance(meta_target, Ref) else None
    meta_sheet = meta_ref.sheet if meta_ref is not None else forms.META_SHEET
    has_meta = meta_sheet in values.sheets
    if has_meta:
        book.meta = _read_meta(values, meta_sheet, meta_ref)
    kind = book.meta.get("kind", "")
    if kind == stamp.REPORT_KIND:  # kofu-validate's report: never a submission
        book.own = kind
        return
    # A summary written by the merge may carry a _meta marker of its own; older ones do not.
    if kind == SUMMARY_KIND or (not has_meta and DATA_SHEET in values.sheets):
        read_summary(book, values)
        if kind == SUMMARY_KIND:  # stamped: a national summary is input to nothing
            book.own = "national" if book.meta.get("level") == "national" else "summary"
        return
    if not has_meta:
        if pkg.names or _FORM_SHEETS & values.sheets:
            add_finding(book, "E103", f"{forms.META_SHEET} シートがありません（本ツールで作成した様式か、"
                                   "シートを削除していないか確認してください）")
        else:
            add_finding(book, "E117", "本ツールの様式でも、とりまとめ表でもありません"
                                   f"（シート: {'、'.join(pkg.sheets[:5]) or 'なし'}）")
        return
    book.muni_code = book.meta.get("muni_code", "")
    if not kind:
        add_finding(book, "E105", f"{forms.META_SHEET} シートに様式の種類（kind）がありません（様式が改変されています）",
                 sheet=meta_sheet)
        return
    if kind not in forms.FORMS:
        add_finding(book, "E117", f"{forms.META_SHEET} シートの様式の種類「{kind}」は本ツールの様式ではありません",
                 sheet=meta_sheet)
        return
    book.kind = kind
    book.version = book.meta.get("version", "")
    if book.version not in KNOWN_VERSIONS:
        known = "、".join(sorted(KNOWN_VERSIONS))
        add_finding(book, "E104", f"様式のバージョン「{book.version}」には対応していません（対応: {known}）。"
                               "最新の様式で作成し直してください", sheet=meta_sheet)
        return
    if book.meta.get("fingerprint", "") != forms.fingerprint(kind):
        add_finding(book, "E105", f"{forms.META_SHEET} シートの様式の指紋が一致しません"
                               "（様式が改変されています）。配布した様式で作成し直してください", sheet=meta_sheet)
        return
    refs = _resolve_names(book, pkg, values, kind)
    if book.status == "unreadable":
        return
    _read_cells(book, pkg, values, kind, refs)
    written, written_digest = book.meta.get("written", ""), book.meta.get("digest", "")
    if written in stamp.WRITTEN_KINDS and written_digest and written_digest == stamp.digest(
            {cid: rc.value for cid, rc in book.cells.items()}):
        book.own = written  # as the toolkit wrote it: nobody has typed into it since
    if not book.muni_code:
        raw = book.cells.get("basic.muni_code")
        book.muni_code = code_text(raw.value) if raw else ""


def _read_meta(values: Values, sheet: str, ref: Ref | None) -> dict[str, str]:
    grid = values.grid(sheet)
    last = grid.r0 + len(grid.rows) - 1
    if ref is not None and ref.c1 >= ref.c0 + 1:
        r0, r1, c0 = ref.r0, min(ref.r1, last), ref.c0  # a name can claim a million rows
    else:
        r0, r1, c0 = grid.r0, last, grid.c0
    meta: dict[str, str] = {}
    for r in range(r0, r1 + 1):
        key = value_text(grid.get(r, c0))
        if key and key not in meta:
            meta[key] = value_text(grid.get(r, c0 + 1))
    return meta


def _resolve_names(book: Book, pkg: Package, values: Values, kind: str) -> dict[str, Ref]:
    """Every input name of the form → its area, checked against the definition's shape."""
    refs: dict[str, Ref] = {}
    for slot in _slots(kind):
        p = slot.placement
        target = pkg.names.get(slot.key)
        if isinstance(target, Ref):
            if target.sheet not in values.sheets:
                add_finding(book, "E106", f"名前付き範囲 {p.name} が指すシート「{target.sheet}」がありません",
                         sheet=target.sheet, field=p.name)
                continue
            nrows, ncols = target.r1 - target.r0 + 1, target.c1 - target.c0 + 1
            if (nrows, ncols) != (p.nrows, 1):
                add_finding(book, "E105", f"名前付き範囲 {p.name}（{target.sheet}!{target.a1}）の大きさが"
                                       f"{nrows}行×{ncols}列で、様式の{p.nrows}行×1列と違います"
                                       "（表の中に行・列を挿入・削除していませんか）",
                         sheet=target.sheet, cell=target.a1, field=p.name)
                continue
            refs[slot.key] = target
        elif target is None:
            add_finding(book, "E106", f"名前付き範囲 {p.name} がありません（様式の行・列やシートを削除していませんか）",
                     sheet=p.sheet, field=p.name)
        elif target == BROKEN:
            add_finding(book, "E106", f"名前付き範囲 {p.name} の参照先が失われています（行・列・シートを削除していませんか）",
                     sheet=p.sheet, field=p.name)
        elif target == MULTI:
            add_finding(book, "E105", f"名前付き範囲 {p.name} が複数の範囲を指しています（様式が改変されています）",
                     sheet=p.sheet, field=p.name)
    return refs


def _read_cells(book: Book, pkg: Package, values: Values, kind: str, refs: dict[str, Ref]) -> None:
    slots = _slots(kind)
    # Formula cells: one pass over each input sheet's part, limited to the input columns.
    cols: dict[str, set[int]] = {}
    last: dict[str, int] = {}
    for ref in refs.values():
        cols.setdefault(ref.sheet, set()).add(ref.c0)
        last[ref.sheet] = max(last.get(ref.sheet, 0), ref.r1)
    formulas = {sheet: pkg.formula_cells(sheet, frozenset(c), last[sheet]) for sheet, c in cols.items()}
    cells = book.cells
    for slot in slots:
        ref = refs[slot.key]
        sheet = ref.sheet
        grid = values.grid(sheet)
        found = formulas[sheet]
        p = slot.placement
        n = len(slot.entries)
        # The column's values in one list comprehension (no call per cell); calamine's rows
        # all have the used range's width, and cells outside the used range are blank.
        rows, i0, j = grid.rows, ref.r0 - grid.r0, ref.c0 - grid.c0
        if rows and 0 <= j < len(rows[0]):
            col_values = [row[j] for row in rows[max(i0, 0):max(i0 + n, 0)]]
            if i0 < 0:
                col_values[:0] = [None] * min(-i0, n)
            col_values.extend([None] * (n - len(col_values)))
        else:
            col_values = [None] * n
        if ref.r0 == p.first_row and ref.c0 == p.col and not found:
            # The usual case: the name still points at the definition's own cells.
            for entry, v in zip(slot.entries, col_values, strict=True):
                cells[entry.id] = RawCell(None if v == "" else v, sheet, entry.cell, False)
            continue
        col = ref.c0
        for i, (entry, v) in enumerate(zip(slot.entries, col_values, strict=True)):
            row = ref.r0 + i
            cells[entry.id] = RawCell(None if v == "" else v, sheet, a1(row, col), (row, col) in found)
