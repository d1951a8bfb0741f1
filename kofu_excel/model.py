"""The records that flow between stages: intake → read → normalise/validate → review → summarise.

A :class:`Book` is one workbook as it moves down the pipeline. The reader fills ``cells`` (raw
values with their sheet and A1 cell, keyed by catalog id); validation fills ``values``
(canonical values), ``findings`` and ``status``; the merge and the review only read them.
A :class:`FileResult` is one file as kofu-validate reports it. :class:`BatchOptions` is what
every batch entry point (``load_batch``, ``validate_paths``, ``merge``, the worker pool) is
asked to do its reading with.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple

from .findings import Finding, HasFindings, jsonable

if TYPE_CHECKING:
    from .formats import Limits
    from .refdata import Master


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
    # What the toolkit itself wrote, unchanged since (stamp.py): summary, report, template,
    # annotated; "" for a submission.
    own: str = ""

    # Books cross process boundaries (pipeline/pool.py): the cells of a form go as a plain list of
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


def muni_code_of(book: Book, fallback: str = "") -> str:
    """The municipality a book stands for: its validated 団体コード (``basic.muni_code``), else
    ``fallback`` (what intake settled on, when the caller has it), else the code the reader
    found in the form's ``_meta`` or its 団体コード cell."""
    code = book.values.get("basic.muni_code")
    if isinstance(code, str) and code:
        return code
    return fallback or book.muni_code


@dataclass(frozen=True)
class FileResult(HasFindings):
    """One file as kofu-validate reports it (docs/spec/cli.md's ``--json`` entry)."""

    path: str
    member: str
    kind: str
    muni_code: str
    status: str  # valid | invalid | unreadable | ignored
    findings: tuple[Finding, ...]
    # An invalid workbook that a later accepted submission of the same municipality and form
    # settles (settle.py): why it is no longer an open problem. Empty otherwise.
    settled: str = ""

    @property
    def label(self) -> str:
        return f"{self.path} > {self.member}" if self.member else self.path

    def to_json(self) -> dict[str, Any]:
        doc = {
            "path": self.path, "member": self.member, "kind": self.kind,
            "muni_code": self.muni_code, "status": self.status,
            "errors": [{"code": f.code, "severity": f.severity, "sheet": f.sheet, "cell": f.cell,
                        "field": f.field, "value": jsonable(f.value), "message": f.message}
                       for f in self.findings],
        }
        if self.settled:
            doc["settled"] = self.settled
        return doc


Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BatchOptions:
    """How a batch is taken in and read: the same for kofu-validate, kofu-merge and the pool.

    ``None`` means the default: the built-in master, intake's default limits, the system
    date, ``KOFU_WORKERS`` or the cores.
    """

    passwords: Sequence[str] = ()  # tried on encrypted zips and workbooks (never shown)
    master: Master | None = None
    pref: str | None = None  # only municipalities of this prefecture are valid (a code or name)
    limits: Limits | None = None  # intake's bounds on sizes, ratios, depths
    today: date | None = None  # for future dates (E208)
    workers: int | None = None  # worker processes for intake and reading (1: no pool)
    progress: Progress | None = None  # progress(done, total) after each file read
    # Keep each book's raw cells after validation (kofu-validate's annotated copies need them;
    # the merge does not, and so holds only the values: memory stays nearly flat in N).
    keep_cells: bool = True
