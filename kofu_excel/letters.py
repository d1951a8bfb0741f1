"""Advice (助言) and reminder (督促) letters rendered from a summary workbook (kofu-advise).

Data flows one way: the summary's 指摘事項 and 未提出 sheets → :class:`Letter` records (facts
only: names, dates, numbered items, findings with their figures) → Jinja templates (all the
wording and layout) → md / html / docx bytes → files written atomically.

Templates live in the top-level ``templates/`` folder, shipped as the package
``kofu_excel.templates``; a user's folder (``--templates DIR``) is searched first. Municipal
text (names, finding messages, cell values) only ever reaches a template as a context value,
never as template source. There is ONE environment factory (:func:`make_environment`):
StrictUndefined (a typo in a template is an error, not a blank), autoescape for html and for
the docx mini-markup (XML), and a sandbox when a user's templates are used.

docx: the template ``<kind>.docx.j2`` renders a small XML markup (``<p align= indent= first=
bold= size=>``, ``<b>``, ``<br/>``, ``<pagebreak/>``), autoescaped like HTML, which is parsed
with defusedxml and laid out with python-docx (A4, Japanese Mincho font set for both the
east-Asian and the Latin script so Word does not fall back).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from importlib import resources
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    select_autoescape,
)
from jinja2.loaders import split_template_path
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from markupsafe import Markup

from .findings import KofuError
from .names import fit_path
from .periods import wareki_date, wareki_month
from .refdata import (
    Master,
    ReviewConfig,
    holidays,
    is_prefecture_code,
    is_year_end,
    load_config,
    load_master,
    openpyxl_defused,
)
from .review import CHECKS
from .xlsxout import write_atomic

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "FINDINGS_HEADER",
    "FORMATS",
    "MISSING_HEADER",
    "Entry",
    "Item",
    "Letter",
    "LetterFile",
    "LettersResult",
    "MissingRow",
    "Summary",
    "SummaryRow",
    "build_advice",
    "build_reminders",
    "make_environment",
    "read_summary",
    "render_letters",
]

E_SUMMARY = "E601"  # the input is not a summary workbook of this toolkit
E_TEMPLATE = "E602"  # a letter template cannot be used
E_OPTION = "E603"  # a bad option value (format, date)

FORMATS = ("docx", "html", "md")
MARKUP_FORMATS = ("docx", "html")  # escaped: html, and the XML markup docx is built from
FINDINGS_SHEET = "指摘事項"
MISSING_SHEET = "未提出"
FINDINGS_HEADER = ("団体コード", "都道府県名", "市区町村名", "区分", "コード", "重大度", "観点",
                   "内容", "ファイル", "シート", "セル", "項目", "入力値", "期待値", "数値")
MISSING_HEADER = ("団体コード", "都道府県名", "市区町村名", "様式", "種類")
SEVERITY_FROM_LABEL = {"エラー": "error", "警告": "warning", "参考": "info", "助言": "advise",
                       "至急": "urgent"}
KIND_FROM_LABEL = {"交付円滑化計画": "plan", "実績報告": "monthly"}
FORM_LABELS = {"plan": "交付円滑化計画", "monthly": "実績報告"}
KIND_WORDS = {"advice": "助言", "reminder": "督促"}

# Order of the numbered items of an advice letter: corrections first (a rejected workbook
# blocks everything else), then the notice's checks 第4-1(1)…(4) and the follow-up 第4-2.
ITEM_ORDER = ("correct", "第4-1(1)", "第4-1(2)", "第4-1(3)", "第4-1(4)", "第4-2")
ADVICE_CODES = re.compile(r"R\d{3}|F10[12]")
# Errors that say the workbook is not one of ours to advise (wrong or foreign code).
NOT_OURS = ("E120", "E206", "E207")
MAX_ERRORS = 30  # error lines per workbook in a letter; the rest is counted
MAX_SUMMARY_BYTES = 256 * 1024 * 1024
MAX_ROWS = 1_000_000
DEFAULT_DUE_DAYS = 7
DEFAULT_NOTICE = "令和元年9月11日付け閣副第396号ほか「マイナンバーカード交付円滑化計画の策定について」"
WEEKDAYS = "月火水木金土日"
_CODE = re.compile(r"\d{6}")
_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# --- the summary ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryRow:
    """One row of 指摘事項."""

    muni_code: str
    pref_name: str
    muni_name: str
    kind: str  # plan | monthly | ""
    code: str
    severity: str  # error warning info advise urgent
    check: str
    message: str
    file: str = ""
    sheet: str = ""
    cell: str = ""
    field: str = ""
    value: str = ""
    expected: str = ""
    figures: Mapping[str, Any] = dc_field(default_factory=dict)


@dataclass(frozen=True)
class MissingRow:
    """One row of 未提出."""

    muni_code: str
    pref_name: str
    muni_name: str
    form: str
    kind: str  # plan | monthly


@dataclass(frozen=True)
class Summary:
    findings: tuple[SummaryRow, ...]
    missing: tuple[MissingRow, ...]


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() else v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v).strip()


def _code(v: Any) -> str:
    s = _text(v)
    return s.zfill(6) if s.isdigit() and len(s) == 5 else s  # a code Excel stored as a number


def _figures(v: Any) -> dict[str, Any]:
    try:
        d = json.loads(_text(v)) if v not in (None, "") else {}
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


def read_summary(path: str | Path) -> Summary:
    """The 指摘事項 and 未提出 sheets of a summary written by kofu-merge (E601 otherwise)."""
    import openpyxl  # only this command needs it

    p = Path(path)
    name = p.name

    def not_ours(detail: str) -> KofuError:
        return KofuError(E_SUMMARY, f"{name} は本ツールのとりまとめ表として読み込めません（{detail}）")

    try:
        size = p.stat().st_size
    except OSError:
        raise KofuError(E_SUMMARY, f"{name} が見つからないか読み込めません") from None
    if size > MAX_SUMMARY_BYTES:
        raise not_ours("ファイルが大きすぎます")
    if not zipfile.is_zipfile(p):
        raise not_ours("xlsx 形式のブックではありません")
    if not openpyxl_defused():
        raise not_ours("openpyxl が defusedxml を使わない設定です（OPENPYXL_DEFUSEDXML=False など）")
    try:
        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise not_ours(f"ブックを開けません: {type(exc).__name__}") from None
    try:
        missing_sheets = [s for s in (FINDINGS_SHEET, MISSING_SHEET) if s not in wb.sheetnames]
        if missing_sheets:
            raise not_ours(f"シート「{'」「'.join(missing_sheets)}」がありません")
        findings = [_finding_row(r) for r in _rows(wb[FINDINGS_SHEET], FINDINGS_HEADER, not_ours)]
        missing = [
            MissingRow(_code(r[0]), _text(r[1]), _text(r[2]), _text(r[3]), _text(r[4]))
            for r in _rows(wb[MISSING_SHEET], MISSING_HEADER, not_ours)
        ]
    except KofuError:
        raise
    except Exception as exc:  # read-only mode parses each sheet only now: damage shows here
        raise not_ours(f"シートを読み込めません: {type(exc).__name__}") from None
    finally:
        wb.close()
    return Summary(tuple(f for f in findings if f.code), tuple(m for m in missing if m.muni_code))


def _rows(ws: Any, header: Sequence[str], not_ours: Callable[[str], KofuError]) -> list[list[Any]]:
    ws.reset_dimensions()  # read-only mode trusts <dimension>, which may lie
    it = ws.iter_rows(values_only=True)
    first = next(it, None)
    got = [_text(c) for c in (first or ())]
    while got and not got[-1]:
        got.pop()
    if tuple(got) != tuple(header):
        raise not_ours(f"シート「{ws.title}」の見出し行が違います")
    out: list[list[Any]] = []
    for i, row in enumerate(it):
        if i >= MAX_ROWS:
            raise not_ours(f"シート「{ws.title}」の行が多すぎます")
        cells = list(row[: len(header)]) + [None] * (len(header) - len(row))
        if any(c not in (None, "") for c in cells):
            out.append(cells)
    return out


def _finding_row(r: list[Any]) -> SummaryRow:
    return SummaryRow(
        muni_code=_code(r[0]), pref_name=_text(r[1]), muni_name=_text(r[2]),
        kind=KIND_FROM_LABEL.get(_text(r[3]), ""), code=_text(r[4]).upper(),
        severity=SEVERITY_FROM_LABEL.get(_text(r[5]), "advise"), check=_text(r[6]),
        message=_text(r[7]), file=_text(r[8]), sheet=_text(r[9]), cell=_text(r[10]),
        field=_text(r[11]), value=_text(r[12]), expected=_text(r[13]), figures=_figures(r[14]),
    )


# --- letters as data --------------------------------------------------------------------------


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


def _next_open_day(d: dt.date) -> dt.date:
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
        sender=str(letters.get("sender", "")), department=str(letters.get("sender_department", "")),
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
        advice = [r for r in rows if ADVICE_CODES.fullmatch(r.code)
                  and r.severity in ("info", "advise", "urgent")]
        rejected = _rejections(rows)
        if not rejected and not any(r.severity != "info" for r in advice):
            continue
        items: list[Item] = []
        for kind in ("plan", "monthly", ""):  # a rejected workbook first: it blocks the rest
            if kind in rejected:
                entries, more = _error_entries(rejected[kind])
                file = next((_file_name(r.file) for r in rejected[kind] if r.file), "")
                items.append(Item(len(items) + 1, "correct", tuple(entries), ("E",), more=more,
                                  form=FORM_LABELS.get(kind, ""), file=file))
        groups: dict[str, list[SummaryRow]] = {}
        for r in advice:
            groups.setdefault(r.check if r.check in ITEM_ORDER else _check_of(r.code), []).append(r)
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


def _check_of(code: str) -> str:
    return CHECKS.get(code, "第4-2" if code.startswith("F") else "第4-1(1)")


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


# --- templates --------------------------------------------------------------------------------


def _template_root() -> Traversable:
    """The package's templates: ``kofu_excel.templates`` once installed; in a source checkout
    that was not installed, the same top-level ``templates/`` folder."""
    try:
        return resources.files("kofu_excel.templates")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "templates"


class _ResourceLoader(BaseLoader):
    """Loads templates from a package resource folder (works from a wheel or a zip too)."""

    def __init__(self, root: Traversable) -> None:
        self.root = root

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool]]:
        node = self.root
        for part in split_template_path(template):  # refuses '..'
            node = node.joinpath(part)
        if not node.is_file():
            raise TemplateNotFound(template)
        return node.read_text(encoding="utf-8"), f"kofu_excel/templates/{template}", lambda: True

    def list_templates(self) -> list[str]:
        return sorted(n.name for n in self.root.iterdir() if n.name.endswith(".j2"))


def _finalize(value: Any) -> Any:
    """Every printed value: no control characters (they break XML and docx)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return _CONTROL.sub("", value)
    return value


def make_environment(templates_dir: str | Path | None = None, fmt: str = "html") -> Environment:
    """THE Jinja environment of the letters: a user's folder first (sandboxed), then ours.

    Escaping is decided per template name, and for the shared parts (``_wording.j2``) by the
    output format: a macro's text takes the escaping of the template that calls it, so a
    shared part must be compiled with the same setting as the html/docx layout using it, or
    municipal text would reach the output unescaped.
    """
    loaders: list[BaseLoader] = []
    if templates_dir is not None:
        folder = Path(templates_dir)
        if not folder.is_dir():
            raise KofuError(E_TEMPLATE, f"テンプレートのフォルダ {folder} が見つかりません")
        loaders.append(FileSystemLoader(str(folder), encoding="utf-8"))
    loaders.append(_ResourceLoader(_template_root()))
    cls = SandboxedEnvironment if templates_dir is not None else Environment
    return cls(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        # html and the docx markup (XML) are escaped; markdown is text.
        autoescape=select_autoescape(
            enabled_extensions=("html", "htm", "xml", "html.j2", "htm.j2", "xml.j2", "docx.j2"),
            disabled_extensions=("md", "txt", "md.j2", "txt.j2"),
            default_for_string=True,
            default=fmt in MARKUP_FORMATS,
        ),
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )


def _render(env: Environment, name: str, context: Mapping[str, Any]) -> str:
    """Render a template; every template fault becomes one clear E602 message."""
    try:
        return env.get_template(name).render(context)
    except TemplateNotFound as exc:
        raise KofuError(E_TEMPLATE, f"文書のテンプレート {exc.name} が見つかりません") from None
    except TemplateSyntaxError as exc:
        where = f"{Path(exc.filename).name if exc.filename else exc.name or name}（{exc.lineno}行目）"
        raise KofuError(E_TEMPLATE, f"テンプレート {where} の書き方に誤りがあります: {exc.message}") from None
    except UndefinedError as exc:
        raise KofuError(E_TEMPLATE, f"テンプレート {name} に未定義の名前があります（{exc.message}）。"
                                    "名前の綴りを確認してください") from None
    except SecurityError as exc:
        raise KofuError(E_TEMPLATE, f"テンプレート {name} で許可されていない操作です（{exc}）") from None
    except TemplateError as exc:
        raise KofuError(E_TEMPLATE, f"テンプレート {name} を処理できません（{exc}）") from None
    except (TypeError, ValueError, KeyError, AttributeError, ZeroDivisionError) as exc:
        raise KofuError(E_TEMPLATE, f"テンプレート {name} の処理中にエラーが発生しました"
                                    f"（{type(exc).__name__}: {exc}）") from None


# --- docx -------------------------------------------------------------------------------------

DOCX_FONT = "ＭＳ 明朝"  # on every Japanese Windows; LibreOffice substitutes a Mincho face
DOCX_SIZE_PT = 12
_ALIGN = {"left": "LEFT", "center": "CENTER", "right": "RIGHT", "justify": "JUSTIFY"}
_BREAKS = re.compile(r"[ \t\r]*\n[ \t\r]*")  # template line breaks, not the text's own spaces


def _set_fonts(rpr: Any, font: str) -> None:
    from docx.oxml.ns import qn

    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, rfonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)  # a theme font would win over the name
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), font)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = rpr.makeelement(qn("w:lang"), {})
        rpr.append(lang)
    lang.set(qn("w:eastAsia"), "ja-JP")


def _docx_bytes(markup: str, title: str, when: dt.date, name: str) -> bytes:
    import defusedxml.ElementTree as SafeET
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    try:
        root = SafeET.fromstring(markup)
    except Exception as exc:  # ParseError or a defusedxml refusal
        raise KofuError(E_TEMPLATE, f"テンプレート {name} の出力が正しい形式（XML）になっていません（{exc}）") from None
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.size = Pt(DOCX_SIZE_PT)
    _set_fonts(normal.element.get_or_add_rPr(), DOCX_FONT)
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    if defaults is not None:
        rpr = defaults.find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}")
        if rpr is not None:
            _set_fonts(rpr, DOCX_FONT)
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.line_spacing = 1.15
    for section in doc.sections:
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(30), Mm(25)
        section.left_margin, section.right_margin = Mm(25), Mm(20)
    props = doc.core_properties
    props.title, props.author, props.last_modified_by = title, "kofu-excel", "kofu-excel"
    stamp = dt.datetime(when.year, when.month, when.day)
    props.created = props.modified = stamp  # the same letters give the same file
    props.revision = 1

    em = DOCX_SIZE_PT
    page_break = False
    for el in root:
        if el.tag == "pagebreak":
            page_break = True
            continue
        if el.tag != "p":
            raise KofuError(E_TEMPLATE, f"テンプレート {name}: <{el.tag}> は使えません（p, pagebreak のみ）")
        para = doc.add_paragraph()
        fmt = para.paragraph_format
        if page_break:
            fmt.page_break_before, page_break = True, False
        align = _ALIGN.get(el.get("align", "left"))
        if align is None:
            raise KofuError(E_TEMPLATE, f"テンプレート {name}: align は left/center/right/justify です")
        para.alignment = getattr(WD_ALIGN_PARAGRAPH, align)
        try:
            indent, first = float(el.get("indent", 0)), float(el.get("first", 0))
            size = float(el.get("size", 0))
        except ValueError:
            raise KofuError(E_TEMPLATE, f"テンプレート {name}: indent / first / size は数で指定します") from None
        if indent:
            fmt.left_indent = Pt(em * indent)  # in characters, as Word's 字下げ
        if first:
            fmt.first_line_indent = Pt(em * first)  # negative: a hanging indent
        bold = el.get("bold") in ("1", "true")

        def run(text: str | None, strong: bool, para: Any = para, size: float = size) -> None:
            text = _BREAKS.sub("", text or "")
            if text:
                r = para.add_run(text)
                r.bold = strong or None
                if size:
                    r.font.size = Pt(size)

        run(el.text if len(el) else (el.text or "").strip("\n\r\t "), bold)
        for child in el:
            if child.tag == "b":
                run(child.text, True)
            elif child.tag == "br":
                para.add_run().add_break(WD_BREAK.LINE)
            else:
                raise KofuError(E_TEMPLATE, f"テンプレート {name}: <{child.tag}> は使えません（b, br のみ）")
            run(child.tail, bold)
    buf = BytesIO()
    doc.save(buf)
    return _stable_zip(buf.getvalue(), stamp)


def _stable_zip(data: bytes, stamp: dt.datetime) -> bytes:
    """The package re-zipped with fixed member times: the same letters give the same bytes
    (python-docx stamps every member with the time of saving)."""
    out = BytesIO()
    with zipfile.ZipFile(BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            fixed.external_attr = info.external_attr
            # level 1: letters are small; the second compression should cost little
            dst.writestr(fixed, src.read(info.filename), zipfile.ZIP_DEFLATED, 1)
    return out.getvalue()


# --- rendering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LetterFile:
    muni_code: str
    muni_name: str
    path: Path
    doc_number: str
    items: int
    urgent: bool

    def to_json(self) -> dict[str, Any]:
        return {"muni_code": self.muni_code, "muni_name": self.muni_name, "path": str(self.path),
                "doc_number": self.doc_number, "items": self.items, "urgent": self.urgent}


@dataclass
class LettersResult:
    kind: str  # advice | reminder
    fmt: str
    out_dir: Path
    date: str  # ISO date on the letters
    letters: list[LetterFile] = dc_field(default_factory=list)
    combined: Path | None = None  # all letters in one file, for printing

    @property
    def files(self) -> list[Path]:
        return [f.path for f in self.letters] + ([self.combined] if self.combined else [])

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "format": self.fmt, "output": str(self.out_dir),
                "date": self.date, "letters": [f.to_json() for f in self.letters],
                "combined": str(self.combined) if self.combined else None}


def _as_date(v: dt.date | str | None, what: str) -> dt.date | None:
    if v is None or v == "":
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v).strip())
    except ValueError:
        raise KofuError(E_OPTION, f"{what}「{v}」は YYYY-MM-DD（例: 2020-04-10）で指定してください") from None


def render_letters(
    summary_path: str | Path,
    out_dir: str | Path,
    fmt: str = "docx",
    templates_dir: str | Path | None = None,
    config: ReviewConfig | str | Path | None = None,
    missing: bool = False,
    munis: Sequence[str] = (),
    date: dt.date | str | None = None,
    master: Master | None = None,
    due: dt.date | str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LettersResult:
    """Write one letter per municipality that needs one, plus one combined file for printing.

    ``missing=False``: advice letters (助言) from the review findings and rejected workbooks;
    ``missing=True``: reminders (督促) to those with a form not submitted. ``munis``: only these
    municipalities (codes or names, as the master resolves them). ``date``: the date on
    the letters (default: ``[letters] date`` of the config, else today); ``due``: the reminder's
    deadline (default: 7 days later, moved to an open day). Nothing is written when a template
    fails: every letter is rendered before the first file is written. ``progress(done, total)``
    is called as letters are rendered.
    """
    if fmt not in FORMATS:
        raise KofuError(E_OPTION, f"形式「{fmt}」は使えません（{' / '.join(FORMATS)}）")
    cfg = config if isinstance(config, ReviewConfig) else load_config(config)
    master = master or load_master(None)
    when = _as_date(date, "日付") or _as_date(cfg.letters.get("date"), "設定の日付") or dt.date.today()
    summary = read_summary(summary_path)
    kind = "reminder" if missing else "advice"
    # --muni takes codes or names as kofu-template does (E504 for one the master lacks)
    codes = [m.code for m in master.select(munis=munis)] if munis else []
    if kind == "advice":
        letters = build_advice(summary, master, cfg, when, codes)
    else:
        deadline = _as_date(due, "提出期限") or _next_open_day(when + dt.timedelta(days=DEFAULT_DUE_DAYS))
        letters = build_reminders(summary, master, cfg, when, deadline, codes)
    out = Path(out_dir)
    result = LettersResult(kind, fmt, out, when.isoformat())
    if not letters:
        return result

    env = make_environment(templates_dir, fmt)
    name = f"{kind}.{fmt}.j2"

    def render(batch: list[Letter], combined: bool) -> bytes:
        text = _render(env, name, {"letters": batch, "combined": combined})
        if fmt == "docx":
            title = f"マイナンバーカード交付円滑化計画（{KIND_WORDS[kind]}）"
            return _docx_bytes(text, title, when, name)
        return text.encode("utf-8")

    outputs: list[tuple[Path, bytes, Letter]] = []
    for i, lt in enumerate(letters):
        outputs.append((fit_path(out, f"{lt.file_stem}.{fmt}"), render([lt], False), lt))
        if progress is not None:
            progress(i + 1, len(letters) + 1)
    combined = (out / f"{KIND_WORDS[kind]}_一括.{fmt}", render(letters, True))
    if progress is not None:
        progress(len(letters) + 1, len(letters) + 1)
    for path, data, lt in outputs:
        write_atomic(path, data)
        result.letters.append(LetterFile(lt.muni_code, lt.muni_name, path, lt.doc_number,
                                         len(lt.items), lt.urgent))
    write_atomic(*combined)
    result.combined = combined[0]
    return result
