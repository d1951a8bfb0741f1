"""kofu-merge as a library call: an inbox → the prefectural or national summary workbook.

Stages: :func:`pipeline.load_batch` (intake → read → validate → settle) → pick the accepted
values per municipality and kind → :func:`review.review` → :class:`summary.Summary` →
:func:`summary.write_summary` (atomic). The library never prints: the CLI renders the
:class:`MergeResult`.

National level: the inputs are prefectural summaries (their データ sheet, read back as
``book.tidy``) and/or municipal workbooks. Tidy rows are mapped back to catalog ids through the
reverse of :func:`forms.tidy_key`, so a value passes prefecture → nation unchanged. Where a
municipality's own accepted workbook is among the inputs too, it wins over the summary's copy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from . import forms, periods, stamp
from .contract import STATUSES
from .findings import Finding, KofuError
from .model import NA, BatchOptions, Book, Progress, muni_code_of
from .pipeline import E_NOTHING, Item, Stored, gc_paused, load_batch
from .refdata import (
    Master,
    ReviewConfig,
    Schedule,
    load_config,
    load_master,
    load_schedule,
)
from .review import kind_of, review
from .summary import (
    KINDS,
    DataRows,
    FindingRow,
    IntakeRow,
    Summary,
    peaks,
    sums,
    tidy_index,
    write_summary,
)
from .write.guard import E_OUTPUT_IS_INPUT, InputFiles, refuse_not_regular

__all__ = ["E_NOTHING", "E_OUTPUT_IS_INPUT", "E_PREF", "MergeResult", "merge"]

E_PREF = "E905"  # the prefecture cannot be told (several prefectures among the inputs)
E_OPTIONS = "E709"  # options that cannot go together (--level national with --pref): usage

LEVELS = ("prefecture", "national")
SUMMARY_KIND = "summary"
R_SUMMARY_AT_PREF = ("とりまとめ表は都道府県のとりまとめでは取り込みません"
                     "（全国のとりまとめは --level national で行います）")


@dataclass
class MergeResult:
    """What kofu-merge did. ``exit_code``: 0 every input accepted (or harmlessly set aside:
    superseded, duplicate, ignored, opened); 1 the summary was written but some input was
    rejected; 2 nothing usable — no output was written, an earlier file at ``out`` is untouched.
    """

    output: Path | None
    items: list[Item]
    missing: list[str]
    totals: dict[str, Any]
    exit_code: int
    summary: Summary | None = None
    pref_code: str = ""
    level: str = "prefecture"

    def count(self, status: str) -> int:
        return sum(1 for it in self.items if it.status == status)

    def to_json(self) -> dict[str, Any]:
        """docs/spec/cli.md's ``kofu-merge --json`` document (each input also carries the stable ``code``
        of its reason, so a program need not parse the Japanese text)."""
        return {
            "output": str(self.output) if self.output is not None else None,
            "inputs": [{"path": it.path, "member": it.member, "sha256": it.sha256,
                        "kind": it.kind or "", "muni_code": it.muni_code or "",
                        "status": it.status, "code": it.code or "", "reason": it.reason or ""}
                       for it in self.items],
            "missing": self.missing,
            "totals": self.totals,
        }


@gc_paused
def merge(
    paths: Iterable[str | Path],
    out: str | Path,
    options: BatchOptions | None = None,
    level: str = "prefecture",
    schedule: Schedule | None = None,
    config: ReviewConfig | None = None,
) -> MergeResult:
    """Merge every workbook found under ``paths`` into the summary workbook ``out``.

    ``options`` says how to read the batch (passwords, master, limits, progress …).
    ``level="prefecture"``: the rows are the master's municipalities of ``options.pref`` (a
    code or name), or — when omitted — of the one prefecture all accepted workbooks belong to
    (KofuError E905 when they span several). ``level="national"``: every municipality of the
    master; inputs are prefectural summaries and/or municipal workbooks.

    ``totals`` (``--json``)::

        {"status":    {"accepted": n, "rejected": n, "superseded": n, "duplicate": n,
                       "ignored": n, "opened": n},          # every intake item, by status
         "submitted": {"plan": {"submitted": n, "municipalities": N}, "monthly": {...}},
         "plan":      {"basic.population": Σ, "forecast.planned_issued": Σ, "costs.fy2019": Σ,
                       "capacity.counters": Σ in the peak quarter, ...},
         "monthly":   {"actuals.issued": Σ, ...},
         "peak":      {"plan": {"capacity.counters": "2020Q2", ...}, "monthly": {}}}

    ``plan``/``monthly`` hold, for every numeric field of the form keyed ``table.field``, the sum
    of the accepted values over all municipalities and rows (blank and 「－」 count 0) — except
    the stocks by quarter (窓口数, 統合端末台数, 職員数: ``forms.Field.stock``), which are never
    summed over time: theirs is the total over municipalities in the quarter where it peaks, and
    ``peak`` names that quarter. ``missing``: codes of the scope
    with no accepted workbook of a form collected in this batch.

    Raises :class:`KofuError` E903 when ``out`` is one of the inputs, E905 for an ambiguous
    prefecture, E709 for --pref with the national level, E901/E902 when the output cannot be written.
    ``options.progress(done, total)`` covers reading the workbooks and writing the summary.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}: {level!r}")
    options = options if options is not None else BatchOptions()
    pref = options.pref
    master = options.master if options.master is not None else load_master(None)
    schedule = schedule if schedule is not None else load_schedule(None)
    config = config if config is not None else load_config(None)
    if level == "national" and pref is not None:
        raise KofuError(E_OPTIONS, "全国のとりまとめ（--level national）では --pref は指定できません")
    pref_code = master.pref(pref) if pref is not None else ""
    out = Path(out)
    paths = [p if isinstance(p, Stored) else Path(p) for p in paths]
    # Before anything is read: the output is a regular file or absent (E904). Before anything
    # is written: it is none of the files given or found (E903), by device and inode whatever
    # the names look like.
    inputs = InputFiles(paths)
    refuse_not_regular(out)

    steps = _StepCounter(options.progress)
    # The summary needs the values only: each book's raw cells go once it is validated.
    batch = load_batch(paths, dataclasses.replace(options, master=master, pref=pref_code or None,
                                                  progress=steps.reading, keep_cells=False))
    items, books = batch.items, batch.books
    if level == "prefecture":
        for b in books:
            it = items[b.item_index]
            if b.kind == SUMMARY_KIND and it.status in ("accepted", "superseded"):
                it.status, it.code = "ignored", stamp.E_OWN
                it.reason = f"{stamp.reason(b.own or 'summary')}。{R_SUMMARY_AT_PREF}"
    # The toolkit's own earlier outputs (this summary of an earlier run, reports, unfilled
    # templates) may be written over: a rerun with the output inside the inbox works.
    inputs.skip(it.path for it in items if it.code == stamp.E_OWN and not it.member)
    inputs.refuse([out])

    accepted = [b for b in books if items[b.item_index].status == "accepted"]
    municipal = [b for b in accepted if b.kind in KINDS]
    summaries = [b for b in accepted if b.kind == SUMMARY_KIND]

    extra_findings: list[FindingRow] = []
    values: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in KINDS}
    files: dict[tuple[str, str], str] = {}
    for b in sorted(municipal, key=lambda b: b.item_index):
        code = muni_code_of(b, items[b.item_index].muni_code)
        values[b.kind][code] = b.values
        files[(b.kind, code)] = b.label
    if level == "national":
        for b in sorted(summaries, key=lambda b: b.item_index):
            extra_findings.extend(_from_summary(b, values, files, master))

    if level == "prefecture" and not pref_code:
        prefs = sorted({c[:2] for kind in values.values() for c in kind})
        if len(prefs) > 1:
            names = "、".join(master.prefectures.get(p, p) for p in prefs)
            raise KofuError(E_PREF, f"複数の都道府県の様式が含まれています（{names}）。"
                                    "--pref で都道府県を指定してください")
        pref_code = prefs[0] if prefs else ""

    usable = any(values[k] for k in KINDS)
    scope = master.select(pref=pref_code or None) if (level == "national" or pref_code) else []
    # A prefecture that does not collect its designated cities' returns ([scope]
    # designated_cities = false): they report to the state, so they are outside its scope —
    # never 未提出, never reminded. The national scope always holds them.
    without_designated = level == "prefecture" and not config.designated_cities
    if without_designated:
        scope = [m for m in scope if not m.designated]
    kinds = _kinds_in_play(items, books, values)
    # データ's rows depend on the accepted values only: they are made (beside this process, for
    # a national merge) while the review runs.
    rows = DataRows(values) if usable else None
    try:
        sm: Summary | None = None
        if scope or usable:
            sm = _summary(level, pref_code, master, schedule, config, scope, values, files, kinds,
                          items, books, extra_findings, without_designated)
        missing = sorted({m.code for m, _k in sm.missing()}) if sm is not None else []
        totals = sm.totals() if sm is not None else _empty_totals(items)
        if not usable:
            return MergeResult(None, items, missing, totals, 2, sm, pref_code, level)

        assert sm is not None
        write_summary(sm, out, progress=steps.writing, rows=rows)
    finally:
        if rows is not None:
            rows.close()
    exit_code = 1 if any(it.status == "rejected" for it in items) else 0
    return MergeResult(out, items, missing, totals, exit_code, sm, pref_code, level)


# --- steps ------------------------------------------------------------------------------------


class _StepCounter:
    """One progress scale for reading (the pipeline's steps) and writing (the summary's)."""

    WRITE_STEPS = 14

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.read_total = 0

    def reading(self, done: int, total: int) -> None:
        self.read_total = total
        if self.progress is not None:
            self.progress(done, total + self.WRITE_STEPS)

    def writing(self, done: int, total: int) -> None:
        if self.progress is not None:
            scale = self.WRITE_STEPS / max(total, 1)
            self.progress(self.read_total + round(done * scale), self.read_total + self.WRITE_STEPS)


def _kinds_in_play(items: Sequence[Item], books: Sequence[Book],
                   values: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """The forms this batch collects: a kind is expected from everyone only when at least one
    workbook of it came in (a plan-only inbox does not list every monthly report as missing)."""
    seen = {it.kind for it in items} | {b.kind for b in books} | {k for k in KINDS if values.get(k)}
    return tuple(k for k in KINDS if k in seen)


def _empty_totals(items: Sequence[Item]) -> dict[str, Any]:
    counts = dict.fromkeys(STATUSES, 0)
    for it in items:
        counts[it.status] = counts.get(it.status, 0) + 1
    out: dict[str, Any] = {"status": counts, "submitted": {}, "peak": {}}
    for kind in KINDS:
        out["submitted"][kind] = {"submitted": 0, "municipalities": 0}
        out[kind] = sums(kind, ())
        out["peak"][kind] = {k: p for k, (p, _v) in peaks(kind, ()).items()}
    return out


# --- national: values back from a prefectural summary's データ ---------------------------------


@cache
def _reverse_index(kind: str) -> dict[tuple[str, str, str], forms.CatalogEntry]:
    """(表, 項目, 期間) → catalog entry: the inverse of the データ sheet's keys."""
    entries = {e.id: e for e in forms.catalog(kind)}
    return {key: entries[cid] for cid, key in tidy_index(kind).items()}


def _canonical(value: Any, entry: forms.CatalogEntry) -> Any:
    """A データ cell back to its canonical value: ISO text → date, 「－」 → NA, 12.0 → 12."""
    if value is None or value is NA:
        return value
    if isinstance(value, str):
        s = value.strip()
        if s in ("－", "-"):
            return NA
        if entry.type in ("date", "month"):
            try:
                return date.fromisoformat(s[:10])
            except ValueError:
                return value
        if entry.type in ("int", "yen"):
            try:
                return int(s)
            except ValueError:
                return value
        return value
    if isinstance(value, datetime):
        return value.date() if entry.type in ("date", "month") else value
    if isinstance(value, float) and value.is_integer() and entry.type in ("int", "yen"):
        return int(value)
    return value


def _from_summary(book: Book, values: dict[str, dict[str, dict[str, Any]]],
                  files: dict[tuple[str, str], str], master: Master) -> list[FindingRow]:
    """Add a summary's values for municipalities with no workbook of their own in the batch."""
    rebuilt: dict[tuple[str, str], dict[str, Any]] = {}
    unknown: dict[str, int] = {}
    for code, kind, table, item, period, value in book.tidy:
        entry = _reverse_index(kind).get((table, item, period)) if kind in KINDS else None
        if entry is None or code not in master.by_code:
            key = code if entry is not None else f"{kind}/{table}/{item}/{period}"
            unknown[key] = unknown.get(key, 0) + 1
            continue
        v = _canonical(value, entry)
        if v is not None:
            rebuilt.setdefault((kind, code), {})[entry.id] = v
    for (kind, code), v in sorted(rebuilt.items()):
        if code in values[kind]:
            continue  # the municipality's own workbook (or an earlier summary) wins
        values[kind][code] = v
        files[(kind, code)] = book.label
    out: list[FindingRow] = []
    for key, n in sorted(unknown.items()):
        what = f"団体コード {key} は名簿にありません" if key.isdigit() else f"不明な項目 {key} です"
        f = Finding("W408", "warning", f"データ シートの {n} 行を取り込みませんでした（{what}）",
                    file=book.file, member=book.member, sheet="データ")
        out.append(FindingRow(f, SUMMARY_KIND, book.label))
    return out


# --- the summary ------------------------------------------------------------------------------


def _latest_month(monthlies: Mapping[str, Mapping[str, Any]]) -> str | None:
    months = [periods.month_key(v) for mv in monthlies.values()
              if isinstance(v := mv.get("basic.report_month"), date)]
    return max(months, default=None)


def _created(values: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> date:
    """データの基準日: the latest submission date among the accepted workbooks (never the clock, so the
    same inputs give the same bytes); the form's date when none carries one."""
    dates = [d for kind in values.values() for v in kind.values()
             if isinstance(d := v.get("basic.submitted_on"), date)]
    latest = max(dates, default=None)
    if isinstance(latest, datetime):
        latest = latest.date()
    return latest or date.fromisoformat(forms.FORM_DATE)


def _summary(level: str, pref_code: str, master: Master, schedule: Schedule, config: ReviewConfig,
             scope: list[Any], values: dict[str, dict[str, dict[str, Any]]],
             files: dict[tuple[str, str], str], kinds: tuple[str, ...], items: list[Item],
             books: list[Book], extra: list[FindingRow], without_designated: bool = False) -> Summary:
    created = _created(values)
    latest = _latest_month(values["monthly"])
    if latest is None:
        latest = min(max(periods.month_key(created), periods.FIRST_MONTH), periods.LAST_MONTH)
    rejected = {(it.kind, it.muni_code) for it in items
                if it.status == "rejected" and it.kind in KINDS and it.muni_code}

    rows: list[FindingRow] = []
    for b in sorted(books, key=lambda b: b.item_index):
        it = items[b.item_index]
        if it.status not in ("accepted", "rejected"):
            continue  # superseded and duplicate copies: their findings are stale or repeated
        code = muni_code_of(b, it.muni_code) if b.kind in KINDS else ""
        for f in b.findings:
            if code and not f.muni_code:
                f = dataclasses.replace(f, muni_code=code)
            rows.append(FindingRow(f, b.kind, b.label))
    read = {b.item_index for b in books}
    for i, it in enumerate(items):
        if it.status == "rejected" and i not in read:  # refused before any reader saw it
            f = Finding(it.code or "E101", "error", it.reason or "", file=it.path, member=it.member,
                        muni_code=it.muni_code or "")
            rows.append(FindingRow(f, it.kind or "", it.where))
    rows.extend(extra)
    scope_codes = [m.code for m in scope] if "monthly" in kinds else []
    for f in review(values["plan"], values["monthly"], master, schedule, config,
                    scope=scope_codes, latest_month=_latest_month(values["monthly"])):
        kind = kind_of(f.code)
        rows.append(FindingRow(f, kind, files.get((kind, f.muni_code), "")))

    intake_rows = [IntakeRow(it.path, it.member, it.kind or "", it.muni_code or "", it.status,
                             it.reason or "", it.sha256 or "") for it in items]
    return Summary(level=level, pref_code=pref_code if level == "prefecture" else "", master=master,
                   schedule=schedule, scope=list(scope), values=values, files=files,
                   rejected=rejected, kinds=kinds, findings=rows, intake=intake_rows,
                   created=created, latest_month=latest, without_designated=without_designated)

