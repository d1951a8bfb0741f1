"""The records that flow between stages: intake → read → normalise/validate → review → summarise.

A :class:`Book` is one workbook as it moves down the pipeline. The reader fills ``cells`` (raw
values with their sheet and A1 cell, keyed by catalog id); validation fills ``values``
(canonical values), ``findings`` and ``status``; the merge and the review only read them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .findings import Finding, HasFindings


class _NotApplicable:
    """The canonical value of a cell that says 「－」 (not applicable): kept apart from blank
    (the key is absent) and from 0."""

    _instance: _NotApplicable | None = None

    def __new__(cls) -> _NotApplicable:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NA"

    def __str__(self) -> str:
        return "－"

    def __reduce__(self) -> str:
        return "NA"


NA = _NotApplicable()


class RawCell(NamedTuple):
    """One input cell as read. A NamedTuple, not a frozen dataclass: a national batch builds
    ~430,000 of them and a frozen dataclass's __init__ costs several times more."""

    value: Any  # as the reader got it: None, str, int, float, bool, date/datetime
    sheet: str
    cell: str  # A1 address where the value actually was (after inserted rows, by defined name)
    formula: bool = False  # the cell held a formula (never trusted)


@functools.cache
def _layout(kind: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]] | None:
    """Catalog ids of a form and each one's own (sheet, cell)."""
    from . import forms  # model is below forms in the layering; imported on first use

    if kind not in forms.FORMS:
        return None
    entries = forms.catalog(kind)
    return tuple(e.id for e in entries), tuple((e.sheet, e.cell) for e in entries)


@dataclass
class Book(HasFindings):
    """One workbook found by intake, as it moves down the pipeline."""

    file: str  # path on disk it came from
    member: str = ""  # path inside e-mails/archives joined with " > "
    fmt: str = ""  # xlsx xlsm xls ods
    kind: str = ""  # plan | monthly | summary ("" when unknown)
    version: str = ""
    muni_code: str = ""  # from _meta / the basic sheet, once read
    meta: dict[str, str] = field(default_factory=dict)
    cells: dict[str, RawCell] = field(default_factory=dict)  # catalog id → raw cell (reader)
    values: dict[str, Any] = field(default_factory=dict)  # catalog id → canonical value (validate)
    findings: list[Finding] = field(default_factory=list)
    status: str = ""  # valid | invalid | unreadable
    item_index: int = -1  # index of the intake item this book came from
    # For a prefectural summary read at national level: its tidy rows
    # (団体コード, 区分, 表, 項目, 期間, 値).
    tidy: list[tuple[str, str, str, str, str, Any]] = field(default_factory=list)
    # Normalised cells per table, made ahead of validation (validate.prepare) and consumed by it.
    prepared: dict[str, Any] = field(default_factory=dict, repr=False)

    # Books cross process boundaries (parallel.py): the cells of a form go as a plain list of
    # values in catalog order plus the few cells found elsewhere, ~5x cheaper than 246 tuples.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        layout = _layout(self.kind)
        cells = self.cells
        if layout is None or len(cells) != len(layout[0]):
            return state
        ids, defaults = layout
        try:
            raws = [cells[cid] for cid in ids]
        except KeyError:
            return state
        state["cells"] = None
        state["_values"] = [rc.value for rc in raws]
        state["_moved"] = [(i, rc) for i, (rc, d) in enumerate(zip(raws, defaults, strict=True))
                           if rc.formula or rc.cell != d[1] or rc.sheet != d[0]]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        values = state.pop("_values", None)
        moved = state.pop("_moved", ())
        self.__dict__.update(state)
        if values is not None:
            ids, defaults = _layout(self.kind)  # type: ignore[misc]
            cells = {cid: RawCell(v, d[0], d[1]) for cid, v, d in zip(ids, values, defaults, strict=True)}
            for i, rc in moved:
                cells[ids[i]] = rc
            self.cells = cells

    @property
    def label(self) -> str:
        """How a person names this file: 'inbox/a.eml > 計画.xlsx'."""
        return f"{self.file} > {self.member}" if self.member else self.file
