"""Letters as data: one :class:`Letter` per municipality (names, dates, numbered items, the
findings with their figures), built from the summary read back by :mod:`.source`. No wording:
that is the templates' job (:mod:`.render`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from .. import codes
from ..contract import FORM_KINDS, KIND_LABELS
from ..periods import wareki_date, wareki_month
from ..refdata import Master, ReviewConfig, holidays, is_prefecture_code, is_year_end
from .source import MissingRow, Summary, SummaryRow

FORM_LABELS = {k: KIND_LABELS[k] for k in FORM_KINDS}  # plan / monthly only
KIND_WORDS = {"advice": "助言", "reminder": "督促"}

# Order of the numbered items of an advice letter: corrections first (a rejected workbook
# blocks everything else), then the notice's checks 第4-1(1)…(4) and the follow-up 第4-2.
ITEM_ORDER = ("correct", "第4-1(1)", "第4-1(2)", "第4-1(3)", "第4-1(4)", "第4-2")
# Which findings a letter carries as advice, and which errors say the workbook is not ours to
# advise: both from the one table of codes.
ADVICE_CODES = codes.advice_codes()
# Errors that say the workbook is not one of ours to advise (wrong or foreign code).
NOT_OURS = codes.not_ours_codes()
MAX_ERRORS = 30  # error lines per workbook in a letter; the rest is counted
DEFAULT_DUE_DAYS = 7
DEFAULT_NOTICE = "令和元年9月11日付け閣副第396号ほか「マイナンバーカード交付円滑化計画の策定について」"
WEEKDAYS = "月火水木金土日"
_CODE = re.compile(r"\d{6}")
_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


@dataclass(frozen=True)
class Entry:
    """One finding as a letter states it."""

    code: str
    severity: str  # error info advise urgent
    text: str
    figures: Mapping[str, Any] = dc_field(default_factory=dict)

    @property
    def urgent(self) -> bool:
        return self.severity == "urgent"


@dataclass(frozen=True)
class Item:
    """A numbered item under 記: one notice check (advice) or one missing form (reminder)."""

    number: int
    key: str  # advice: "correct" or a check such as 第4-1(1); reminder: plan | monthly
    entries: tuple[Entry, ...]
    codes: tuple[str, ...]  # distinct codes, in order: each gets its request sentence
    more: int = 0  # entries left out (too many errors to list)
    form: str = ""  # 交付円滑化計画 / 実績報告
    status: str = ""  # reminder: missing | late | rejected
    month: str = ""  # reminder for a monthly report: 令和2年3月
    last_month: str = ""  # reminder, late: the month of the latest report received
    file: str = ""  # correction: the workbook

    @property
    def urgent(self) -> bool:
        return any(e.urgent for e in self.entries)

    @property
    def unfilled(self) -> bool:
        """The workbook came back not filled in (E121): the letter asks for the form, filled."""
        return any(e.code == "E121" for e in self.entries)


@dataclass(frozen=True)
class Letter:
    kind: str  # advice | reminder
    muni_code: str
    pref_name: str
    muni_name: str
    addressee: str  # 札幌市長 (the template adds 殿)
    honorific: str  # 貴市
    doc_number: str
    date: str  # 令和元年10月1日
    date_iso: str
    sender: str
    department: str
    contact_person: str
    contact_phone: str
    contact_email: str
    notice: str
    items: tuple[Item, ...]
    sources: str = ""  # advice: 交付円滑化計画 / 実績報告 / 交付円滑化計画及び実績報告
    forms: tuple[str, ...] = ()  # reminder: plan / monthly asked for
    due: str = ""  # reminder: 令和2年4月17日（金）
    due_iso: str = ""

    @property
    def urgent(self) -> bool:
        return any(i.urgent for i in self.items)

    @property
    def file_stem(self) -> str:
        name = _UNSAFE_NAME.sub("_", self.muni_name).strip(". ")[:40] or "団体"
        return f"{self.muni_code}_{name}_{KIND_WORDS[self.kind]}"


def sender_of(letters: Mapping[str, Any], pref_name: str) -> str:
    """The sender: ``[letters] sender`` when the user set it, else the governor of the
    municipality's prefecture by its own title (東京都知事, 北海道知事, 大阪府知事, 鳥取県知事).
    A sender still holding the old placeholder 「○○」 counts as not set."""
    own = str(letters.get("sender", "") or "").strip()
    if own and PLACEHOLDER_MARK not in own:
        return own
    return f"{pref_name}知事" if pref_name else own


# What the built-in [letters] settings hold until a prefecture writes its own.
PLACEHOLDER_MARK = "○○"
_PLACEHOLDERS = (PLACEHOLDER_MARK, "000-000-0000", "xxxx@", ".example.")


def placeholder_keys(letters: Mapping[str, Any]) -> list[str]:
    """The [letters] keys still holding a placeholder (○○, 000-000-0000, an example address).
    An empty sender is not one: it means the prefecture's governor (:func:`sender_of`)."""
    out = []
    for key, value in letters.items():
        if not isinstance(value, str):
            continue
        if any(p in value for p in _PLACEHOLDERS):
            out.append(key)
    return out


def _head_char(name: str, kind: str) -> str:
    """市 / 町 / 村 / 区 of a municipality, from the master's 種別 or else its name."""
    head = {"指定都市": "市", "市": "市", "特別区": "区", "町": "町", "村": "村"}.get(kind, "")
    return head or (name[-1] if name[-1:] in ("市", "区", "町", "村") else "")


def _addressee(name: str, head: str) -> str:
    """札幌市 → 札幌市長; a name without its 市/町/村 gets it added."""
    if not head or name.endswith(head):
        return f"{name}長"
    return f"{name}{head}長"


def _wareki_day(d: dt.date) -> str:
    return f"{wareki_date(d)}（{WEEKDAYS[d.weekday()]}）"


def next_open_day(d: dt.date) -> dt.date:
    """The due date moved off weekends, public holidays and the year-end closure."""
    hol = holidays()
    while d.weekday() >= 5 or d in hol or is_year_end(d):
        d += dt.timedelta(days=1)
    return d


class _Numbering:
    def __init__(self, letters: Mapping[str, Any]) -> None:
        self.pattern = str(letters.get("doc_number", "") or "")
        self.seq = int(letters.get("seq_start", 1) or 0)

    def next(self) -> str:
        out = self.pattern.format(seq=self.seq) if self.pattern else ""
        self.seq += 1
        return out


def _muni_info(code: str, rows: Sequence[SummaryRow | MissingRow], master: Master) -> tuple[str, str, str]:
    """(都道府県名, 市区町村名, kind) from the summary, else the master."""
    m = master.by_code.get(code)
    pref = next((r.pref_name for r in rows if r.pref_name), m.pref_name if m else "")
    name = next((r.muni_name for r in rows if r.muni_name), m.name if m else code)
    return pref, name, m.kind if m else ""


def _letter(kind: str, code: str, rows: Sequence[SummaryRow | MissingRow], master: Master,
            letters: Mapping[str, Any], when: dt.date, numbering: _Numbering,
            items: tuple[Item, ...], **extra: Any) -> Letter:
    pref, name, mkind = _muni_info(code, rows, master)
    head = _head_char(name, mkind)
    return Letter(
        kind=kind, muni_code=code, pref_name=pref, muni_name=name,
        addressee=_addressee(name, head), honorific=f"貴{head or '団体'}",
        doc_number=numbering.next(), date=wareki_date(when), date_iso=when.isoformat(),
        sender=sender_of(letters, pref), department=str(letters.get("sender_department", "")),
        contact_person=str(letters.get("contact_person", "")),
        contact_phone=str(letters.get("contact_phone", "")),
        contact_email=str(letters.get("contact_email", "")),
        notice=str(letters.get("notice", "") or DEFAULT_NOTICE), items=items, **extra,
    )


def _error_entries(rows: Sequence[SummaryRow]) -> tuple[list[Entry], int]:
    entries: list[Entry] = []
    for r in rows[:MAX_ERRORS]:
        where = "".join((
            f"シート「{r.sheet}」" if r.sheet else "", f"セル{r.cell}" if r.cell else "",
            f"（{r.field}）" if r.field else "",
        ))
        if r.sheet and r.sheet in r.message:  # the validator's message already says where
            where = ""
        value = f"（入力値：{r.value}）" if r.value and r.value not in r.message else ""
        text = f"{where}：{r.message}{value}" if where else f"{r.message}{value}"
        entries.append(Entry(r.code, "error", text, r.figures))
    return entries, max(len(rows) - MAX_ERRORS, 0)


def _file_name(label: str) -> str:
    """The name a municipality knows its file by: 'inbox/a.eml > 計画.xlsx' → '計画.xlsx'
    (the prefecture's folders are none of the letter's business)."""
    return re.split(r"[\\/]", label.split(" > ")[-1])[-1]


def _rejections(rows: Iterable[SummaryRow]) -> dict[str, list[SummaryRow]]:
    """kind → error rows of the rejected workbooks of one municipality (not the foreign ones)."""
    out: dict[str, list[SummaryRow]] = {}
    for r in rows:
        if r.severity == "error" and r.code.startswith("E") and r.code not in NOT_OURS:
            out.setdefault(r.kind, []).append(r)
    return out


def _by_muni(rows: Iterable[Any], munis: Sequence[str]) -> dict[str, list[Any]]:
    wanted = set(munis)
    out: dict[str, list[Any]] = {}
    seen: set[Any] = set()
    for r in rows:
        if not _CODE.fullmatch(r.muni_code) or is_prefecture_code(r.muni_code):
            continue  # a prefecture's own summary is not advised by these letters
        if wanted and r.muni_code not in wanted:
            continue
        key = (r.muni_code, *(str(getattr(r, f)) for f in r.__dataclass_fields__))
        if key in seen:  # the same finding listed twice (e.g. a duplicate file)
            continue
        seen.add(key)
        out.setdefault(r.muni_code, []).append(r)
    return dict(sorted(out.items()))


def build_advice(summary: Summary, master: Master, config: ReviewConfig, when: dt.date,
                 munis: Sequence[str] = ()) -> list[Letter]:
    """One advice letter per municipality with advice (advise/urgent) or a rejected workbook.

    Findings of severity info are added to a letter that is written anyway, never a reason for
    one: a fully compliant municipality gets no letter.
    """
    numbering = _Numbering(config.letters)
    out: list[Letter] = []
    for code, rows in _by_muni(summary.findings, munis).items():
        advice = [r for r in rows if r.code in ADVICE_CODES
                  and r.severity in ("info", "advise", "urgent")]
        rejected = _rejections(rows)
        if not rejected and not any(r.severity != "info" for r in advice):
            continue
        items: list[Item] = []
        for kind in ("plan", "monthly", ""):  # a rejected workbook first: it blocks the rest
            if kind in rejected:
                entries, more = _error_entries(rejected[kind])
                file = next((_file_name(r.file) for r in rejected[kind] if r.file), "")
                # A form returned unfilled: the lead asks for it filled in, no "上記の箇所を修正".
                asks = () if all(e.code == "E121" for e in entries) else ("E",)
                items.append(Item(len(items) + 1, "correct", tuple(entries), asks, more=more,
                                  form=FORM_LABELS.get(kind, ""), file=file))
        groups: dict[str, list[SummaryRow]] = {}
        for r in advice:
            groups.setdefault(r.check if r.check in ITEM_ORDER else codes.check_of(r.code), []).append(r)
        for key in ITEM_ORDER:
            if key in groups:
                rs = groups[key]
                items.append(Item(len(items) + 1, key,
                                  tuple(Entry(r.code, r.severity, r.message, r.figures) for r in rs),
                                  tuple(dict.fromkeys(r.code for r in rs))))
        kinds = {r.kind for r in advice} | set(rejected)
        sources = ("及び".join(FORM_LABELS[k] for k in ("plan", "monthly") if k in kinds)
                   or FORM_LABELS["plan"])
        out.append(_letter("advice", code, rows, master, config.letters, when, numbering,
                           tuple(items), sources=sources))
    return out


def build_reminders(summary: Summary, master: Master, config: ReviewConfig, when: dt.date,
                    due: dt.date, munis: Sequence[str] = ()) -> list[Letter]:
    """One reminder per municipality with a form not submitted (未提出), a monthly report
    missing or out of date (F103), or a rejected workbook still to be resubmitted."""
    numbering = _Numbering(config.letters)
    missing = _by_muni(summary.missing, munis)
    findings = _by_muni(summary.findings, munis)
    out: list[Letter] = []
    for code in sorted(set(missing) | {c for c, rs in findings.items()
                                       if any(r.code == "F103" for r in rs)}):
        rows = findings.get(code, [])
        rejected = _rejections(rows)
        late = next((r for r in rows if r.code == "F103"), None)
        wanted = {m.kind for m in missing.get(code, []) if m.kind in FORM_LABELS}
        if late is not None:
            wanted.add("monthly")
        items: list[Item] = []
        for kind in ("plan", "monthly"):
            if kind not in wanted:
                continue
            month = last = ""
            if kind == "monthly" and late is not None:
                exp, found = late.figures.get("latest_month"), late.figures.get("report_month")
                month = wareki_month(exp) if _is_month(exp) else ""
                last = wareki_month(found) if _is_month(found) else ""
            entries, more = _error_entries(rejected.get(kind, []))
            status = "rejected" if entries else ("late" if last else "missing")
            items.append(Item(len(items) + 1, kind, tuple(entries), (), more=more,
                              form=FORM_LABELS[kind], status=status, month=month, last_month=last))
        if not items:
            continue
        out.append(_letter("reminder", code, [*missing.get(code, []), *rows], master,
                           config.letters, when, numbering, tuple(items),
                           forms=tuple(i.key for i in items), due=_wareki_day(due),
                           due_iso=due.isoformat()))
    return out


def _is_month(v: Any) -> bool:
    return isinstance(v, str) and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", v) is not None
