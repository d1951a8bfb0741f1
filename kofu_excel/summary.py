"""The summary workbook (とりまとめ表) of ``kofu-merge``: prefectural or national.

Sheets, in order (names and the headers of 指摘事項, 未提出 and データ are a contract: kofu-advise
and the national merge read them back):

- 概要: scope, 作成日, submissions, intake counts, totals, two native charts (cumulative forecast
  against the national schedule; issuance rate per municipality, or per prefecture nationally);
- 市町村別一覧: one row per municipality of the scope;
- 交付枚数想定, 交付体制, 申請受付等, 補助対象経費, 月次実績, 交付滞留: one sheet per table;
- 指摘事項, 未提出, 取込記録, データ (tidy: every accepted value), and the hidden ``_summary``
  marker (``kofu_meta`` names it, so the reader recognises a summary).

Speed: a national summary holds ~2.5 million cells, most of them in データ. xlsxwriter's
per-cell ``write_*`` plus its XML assembly cost ~3 µs a cell (8 s), so the body rows of the
tables are rendered straight to sheet XML by :class:`_BulkSheet` (a documented xlsxwriter
extension point: ``add_worksheet(worksheet_class=...)``), sharing the workbook's string table
and formats. Header rows, 概要 and the charts' data go through xlsxwriter as usual. Text in
body rows gets the same protection as :func:`xlsxout.write_text`: it is a shared string
(never a formula or link), cut at 32,767 characters, and quote-prefixed when it starts like a
formula.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from . import __version__, forms, periods
from .cells import col_name, display_width
from .findings import Finding, jsonable
from .model import NA
from .refdata import Master, Municipality, Schedule
from .xlsxout import (
    MAX_TEXT,
    Styles,
    build_xlsx,
    needs_quote,
    write_atomic,
    write_text,
    write_title,
    write_value,
)

# --- the contract: sheet names and the headers other tools read ----------------------------
SHEETS = ("概要", "市町村別一覧", "交付枚数想定", "交付体制", "申請受付等", "補助対象経費", "月次実績",
          "交付滞留", "指摘事項", "未提出", "取込記録", "データ")
FINDINGS_SHEET, MISSING_SHEET, INTAKE_SHEET, DATA_SHEET = "指摘事項", "未提出", "取込記録", "データ"
META_SHEET = "_summary"
FINDINGS_COLUMNS = ("団体コード", "都道府県名", "市区町村名", "区分", "コード", "重大度", "観点", "内容",
                    "ファイル", "シート", "セル", "項目", "入力値", "期待値", "数値")
MISSING_COLUMNS = ("団体コード", "都道府県名", "市区町村名", "様式", "種類")
INTAKE_COLUMNS = ("ファイル", "格納場所", "種類", "団体コード", "状態", "理由", "SHA-256")
DATA_COLUMNS = ("団体コード", "区分", "表", "項目", "期間", "値")
CHECKS = ("第4-1(1)", "第4-1(2)", "第4-1(3)", "第4-1(4)", "第4-2")
LIST_COLUMNS = ("団体コード", "市区町村名", "計画の提出状況", "計画ファイル", "実績報告の提出状況",
                "実績報告ファイル", "人口", "交付済枚数", "想定累計（令和5年3月末）", "目安（令和5年3月末）",
                "実績累計交付数", "交付滞留", "エラー件数", *CHECKS, "実績報告の対象月", "交付率")

KINDS = ("plan", "monthly")
KIND_LABELS = {"plan": forms.FORMS["plan"].label, "monthly": forms.FORMS["monthly"].label,
               "summary": "とりまとめ表"}
STATUSES = ("accepted", "rejected", "superseded", "duplicate", "ignored", "opened")
STATUS_LABELS = {"accepted": "受理", "rejected": "不受理", "superseded": "差替え済", "duplicate": "重複",
                 "ignored": "対象外", "opened": "展開"}
SEVERITY_LABELS = {"error": "エラー", "warning": "警告", "info": "参考", "advise": "助言", "urgent": "至急"}
NA_TEXT = "－"
LEVEL_LABELS = {"prefecture": "都道府県", "national": "全国"}

NUM = "#,##0"
MONTH_FMT = 'yyyy"年"m"月"'
DATE_FMT = "yyyy/m/d"
RATE_FMT = "0.0%"
HEADER_FILL = "#DDEBF7"
TOTAL_FILL = "#F2F2F2"
WIDTH_SAMPLE = 300  # rows looked at to size a column: enough to see typical values
MAX_WIDTH = 60

Progress = Callable[[int, int], None]


# --- what the writer is given ---------------------------------------------------------------


@dataclass(frozen=True)
class IntakeRow:
    """One file found by intake, as 取込記録 lists it."""

    path: str
    member: str
    kind: str
    muni_code: str
    status: str  # accepted | rejected | superseded | duplicate | ignored | opened
    reason: str
    sha256: str


@dataclass(frozen=True)
class FindingRow:
    """A finding with the workbook it is about (kind plan | monthly | summary | "")."""

    finding: Finding
    kind: str
    file: str


@dataclass
class Summary:
    """Everything the summary workbook shows; built by :func:`kofu_excel.merge.merge`.

    ``values[kind][code]`` holds the canonical values (catalog id → int / date / str / NA) of the
    accepted workbook of that municipality and kind; ``files[(kind, code)]`` names it and
    ``rejected`` holds the (kind, code) pairs that sent a rejected workbook (shown as 不受理 where
    none was accepted). ``kinds`` are
    the forms collected in this batch: 未提出 lists only those.
    """

    level: str  # prefecture | national
    pref_code: str  # 2 digits; "" for national
    master: Master
    schedule: Schedule
    scope: list[Municipality]
    values: dict[str, dict[str, dict[str, Any]]]
    files: dict[tuple[str, str], str] = field(default_factory=dict)
    rejected: set[tuple[str, str]] = field(default_factory=set)
    kinds: tuple[str, ...] = KINDS
    findings: list[FindingRow] = field(default_factory=list)
    intake: list[IntakeRow] = field(default_factory=list)
    created: date = field(default_factory=lambda: date.fromisoformat(forms.FORM_DATE))
    latest_month: str = periods.FIRST_MONTH
    _totals: dict[str, Any] | None = field(default=None, init=False, repr=False)

    # -- derived -------------------------------------------------------------------------------
    @property
    def scope_name(self) -> str:
        return self.master.prefectures.get(self.pref_code, "") if self.level == "prefecture" else "全国"

    def plan(self, code: str) -> Mapping[str, Any] | None:
        return self.values.get("plan", {}).get(code)

    def monthly(self, code: str) -> Mapping[str, Any] | None:
        return self.values.get("monthly", {}).get(code)

    def rows(self) -> list[Municipality]:
        """Scope municipalities, plus any accepted one outside it (never drop a value)."""
        known = {m.code for m in self.scope}
        extra = sorted({c for kind in self.values.values() for c in kind} - known)
        out = list(self.scope)
        for code in extra:
            m = self.master.by_code.get(code)
            if m is None:
                v = self.plan(code) or self.monthly(code) or {}
                m = Municipality(code, code[:2], _text(v.get("basic.pref_name")),
                                 _text(v.get("basic.muni_name")), "")
            out.append(m)
        return sorted(out, key=lambda m: m.code)

    def missing(self) -> list[tuple[Municipality, str]]:
        """(municipality, kind) of the scope with no accepted workbook, by code then kind."""
        return [(m, kind) for m in self.scope for kind in KINDS
                if kind in self.kinds and m.code not in self.values.get(kind, {})]

    def totals(self) -> dict[str, Any]:
        """Counts and sums for ``--json`` (see :func:`kofu_excel.merge.merge`); computed once."""
        if self._totals is None:
            self._totals = self._compute_totals()
        return self._totals

    def _compute_totals(self) -> dict[str, Any]:
        counts = dict.fromkeys(STATUSES, 0)
        for it in self.intake:
            counts[it.status] = counts.get(it.status, 0) + 1
        out: dict[str, Any] = {"status": counts, "submitted": {}}
        n = len(self.scope)
        for kind in KINDS:
            got = self.values.get(kind, {})
            out["submitted"][kind] = {"submitted": sum(1 for m in self.scope if m.code in got),
                                      "municipalities": n}
            out[kind] = sums(kind, got.values())
        return out


def sums(kind: str, books: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Σ of the numeric values per ``table.field`` (e.g. ``forecast.planned_issued``,
    ``costs.fy2019``): every numeric field of the form is present, 0 when nothing was given."""
    groups = _sum_keys(kind)
    out = dict.fromkeys(groups, 0)
    for v in books:
        get = v.get
        for key, cids in groups.items():
            total = 0
            for cid in cids:
                x = get(cid)
                if type(x) is int or (type(x) is float and math.isfinite(x)):
                    total += x
            out[key] += total
    return out


@cache
def _sum_keys(kind: str) -> dict[str, tuple[str, ...]]:
    """table.field → the catalog ids it sums."""
    out: dict[str, list[str]] = {}
    for e in forms.catalog(kind):
        if e.spec.numeric:
            out.setdefault(f"{e.table}.{e.spec.id}", []).append(e.id)
    return {k: tuple(v) for k, v in out.items()}


@cache
def tidy_index(kind: str) -> dict[str, tuple[str, str, str]]:
    """catalog id → (表, 項目, 期間) of the データ sheet, from :func:`forms.tidy_key`."""
    form = forms.FORMS[kind]
    out: dict[str, tuple[str, str, str]] = {}
    for e in forms.catalog(kind):
        table = form.table(e.table)
        # item×period tables list the item as the catalog's field and the period as its row.
        row_key = e.field if (table.tidy == "item_period" and not table.single) else e.row
        item, period = forms.tidy_key(table, row_key, e.spec)
        out[e.id] = (e.table, item, period)
    return out


@cache
def field_labels(kind: str) -> dict[str, str]:
    return {e.id: e.label for e in forms.catalog(kind)} if kind in forms.FORMS else {}


# --- small helpers ----------------------------------------------------------------------------


def _is_number(x: Any) -> bool:
    t = type(x)
    return t is int or (t is float and math.isfinite(x))


def _num(v: Mapping[str, Any] | None, key: str) -> int:
    """A count for arithmetic: blank, 「－」 and anything not numeric count as 0."""
    if v is None:
        return 0
    x = v.get(key)
    return int(x) if _is_number(x) else 0


def _text(x: Any) -> str:
    return "" if x is None else str(x)


def _month_key(x: Any) -> str | None:
    if isinstance(x, date):
        return periods.month_key(x)
    if isinstance(x, str) and len(x) >= 7 and x[4] == "-":
        return x[:7]
    return None


def _month_cell(key: str) -> date:
    return periods.month_date(key)


# --- bulk body rows -------------------------------------------------------------------------


class _BulkSheet(Worksheet):
    """A worksheet whose body rows arrive as ready sheet XML (see the module docstring).

    Cells written the ordinary way must lie above :attr:`bulk_first` (header rows); the bulk
    rows follow them in ``<sheetData>``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.bulk: list[str] = []
        self.bulk_first: int | None = None

    def _write_rows(self) -> None:
        if self.bulk_first is None or not self.bulk:
            super()._write_rows()
            return
        saved = self.dim_rowmax
        self.dim_rowmax = self.bulk_first - 1  # xlsxwriter's own loop covers the header rows only
        try:
            if self.dim_rowmax >= self.dim_rowmin:
                super()._write_rows()
        finally:
            self.dim_rowmax = saved
        self.fh.writelines(self.bulk)  # no joined copy: the rows are the bulk of the memory
        self.bulk.clear()


class _Body:
    """Renders body rows of one sheet: typed cells, shared strings, column number formats."""

    def __init__(self, ws: _BulkSheet, s: Styles, first_row: int, ncols: int,
                 formats: Mapping[int, str] | None = None) -> None:
        self.ws, self.first, self.row = ws, first_row, first_row
        self.sst = ws.str_table
        self.letters = [col_name(c) for c in range(ncols)]
        self.text_xf = s()._get_xf_index()
        self.quote_xf = s(quote_prefix=True)._get_xf_index()
        formats = formats or {}
        self.num_xf = [s(num_format=formats.get(c, NUM))._get_xf_index() for c in range(ncols)]
        self.date_xf = [s(num_format=formats.get(c, DATE_FMT))._get_xf_index() for c in range(ncols)]
        self.widths = [0] * ncols
        ws.bulk_first = first_row

    def text(self, col: int, s: str, rs: str, xf: int | None = None) -> str:
        if len(s) > MAX_TEXT:
            s = s[: MAX_TEXT - 1] + "…"
        if needs_quote(s):
            xf = self.quote_xf
        elif xf is None:
            xf = self.text_xf
        idx = self.sst._get_shared_string_index(s)
        return f'<c r="{self.letters[col]}{rs}" s="{xf}" t="s"><v>{idx}</v></c>'

    def add(self, values: Sequence[Any], style: dict[str, Any] | None = None,
            styles: Styles | None = None) -> None:
        """One row; ``style`` (with ``styles``) marks a special row such as a total."""
        r = self.row
        rs = str(r + 1)
        parts = [f'<row r="{rs}">']
        append = parts.append
        measure = r - self.first < WIDTH_SAMPLE
        widths, letters, num_xf = self.widths, self.letters, self.num_xf
        row_text_xf: int | None = None
        if style and styles is not None:
            row_text_xf = styles(**style)._get_xf_index()
            num_xf = [styles(**{"num_format": NUM, **style})._get_xf_index()] * len(letters)
        for c, v in enumerate(values):
            if v is None:
                continue
            t = type(v)
            if t is int:
                append(f'<c r="{letters[c]}{rs}" s="{num_xf[c]}"><v>{v}</v></c>')
                w = len(f"{v:,}") if measure else 0
            elif t is str:
                append(self.text(c, v, rs, row_text_xf))
                w = display_width(v) if measure else 0
            elif t is float:
                if not math.isfinite(v):
                    continue
                append(f'<c r="{letters[c]}{rs}" s="{num_xf[c]}"><v>{v:.16G}</v></c>')
                w = 8
            elif t is bool:
                append(self.text(c, "はい" if v else "いいえ", rs, row_text_xf))
                w = 6
            elif isinstance(v, date):
                append(f'<c r="{letters[c]}{rs}" s="{self.date_xf[c]}"><v>{_excel_serial(v)}</v></c>')
                w = 12
            else:  # NA and anything odd: as text
                append(self.text(c, str(v), rs))
                w = 2
            if w > widths[c]:
                widths[c] = w
        append("</row>")
        self.ws.bulk.append("".join(parts))
        self.row += 1

    def finish(self) -> int:
        """Tell xlsxwriter the sheet's extent; returns the last row written (or first - 1)."""
        if self.row > self.first:
            self.ws._check_dimensions(self.first, 0)
            self.ws._check_dimensions(self.row - 1, len(self.letters) - 1)
        return self.row - 1


_EPOCH = date(1899, 12, 30)


def _excel_serial(d: date) -> float | int:
    if isinstance(d, datetime):
        delta = d - datetime(1899, 12, 30)
        return delta.days + delta.seconds / 86400
    return (d - _EPOCH).days


# --- a table sheet: header row, body, widths, filter, print -----------------------------------


@dataclass
class _Table:
    ws: _BulkSheet
    body: _Body
    header: Sequence[str]
    freeze_cols: int = 2  # the code and name stay in view when scrolling right


def _table(wb: xlsxwriter.Workbook, s: Styles, name: str, header: Sequence[str],
           formats: Mapping[int, str] | None = None, freeze_cols: int = 2) -> _Table:
    ws: _BulkSheet = wb.add_worksheet(name, worksheet_class=_BulkSheet)
    for c, h in enumerate(header):
        write_text(ws, 0, c, h, s, bold=True, bg_color=HEADER_FILL, border=1, text_wrap=True,
                   valign="vcenter")
    return _Table(ws, _Body(ws, s, 1, len(header), formats), header, freeze_cols)


def _finish(t: _Table, last_data_row: int | None = None, widths: Mapping[int, float] | None = None) -> None:
    """Frozen header, autofilter over the data rows, widths for Japanese, A4 fit to width."""
    ws, body = t.ws, t.body
    last = body.finish()
    ncols = len(t.header)
    ws.freeze_panes(1, min(t.freeze_cols, ncols))
    ws.autofilter(0, 0, max(0, last_data_row if last_data_row is not None else last), ncols - 1)
    for c, h in enumerate(t.header):
        w = widths.get(c) if widths else None
        if w is None:
            hw = display_width(h)
            hw = math.ceil(hw / 2) if hw > 14 else hw  # long headers wrap onto two lines
            w = min(max(hw, body.widths[c]) + 2, MAX_WIDTH)
        ws.set_column(c, c, max(w, 6))
    ws.set_row(0, 32)
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)


# --- per-municipality figures -----------------------------------------------------------------


def population(summary: Summary, m: Municipality) -> int | None:
    plan = summary.plan(m.code)
    pop = plan.get("basic.population") if plan else None
    if _is_number(pop):
        return int(pop)
    return m.population


def planned_cumulative(plan: Mapping[str, Any] | None, upto: str = periods.LAST_MONTH) -> int | None:
    """issued_to_date + Σ planned_issued to the end of ``upto``."""
    if plan is None:
        return None
    total = _num(plan, "basic.issued_to_date")
    for m in periods.months():
        if m > upto:
            break
        total += _num(plan, f"forecast.planned_issued.{m}")
    return total


def actual_series(monthly: Mapping[str, Any] | None, field_id: str) -> dict[str, int]:
    """Running totals of an actuals field by month, up to the report month."""
    out: dict[str, int] = {}
    if monthly is None:
        return out
    rm = _month_key(monthly.get("basic.report_month")) or periods.LAST_MONTH
    total = 0
    for m in periods.months():
        if m > rm:
            break
        total += _num(monthly, f"actuals.{field_id}.{m}")
        out[m] = total
    return out


def issuance_rate(summary: Summary, m: Municipality) -> tuple[int | None, float | None, str]:
    """(cumulative cards, rate, basis): actual issued (with cards issued before the plan) where a
    monthly report exists, else the plan's cumulative forecast at the latest month."""
    pop = population(summary, m)
    plan, monthly = summary.plan(m.code), summary.monthly(m.code)
    if monthly is not None:
        issued = actual_series(monthly, "issued")
        cum = _num(plan, "basic.issued_to_date") + (issued[max(issued)] if issued else 0)
        basis = "実績"
    elif plan is not None:
        cum = planned_cumulative(plan, summary.latest_month) or 0
        basis = "計画"
    else:
        return None, None, ""
    rate = cum / pop if pop else None
    return cum, rate, basis


def _muni_name(master: Master, code: str) -> tuple[str, str]:
    m = master.by_code.get(code)
    if m is not None:
        return m.pref_name, m.name
    return master.prefectures.get(code[:2], ""), ""


# --- the sheets -------------------------------------------------------------------------------


def _overview(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    ws = wb.add_worksheet("概要")
    title = f"マイナンバーカード交付円滑化計画 とりまとめ表（{sm.scope_name}）"
    write_title(ws, title, s)
    label = {"bold": True, "bg_color": HEADER_FILL, "border": 1}
    cell = {"border": 1}
    rows: list[tuple[str, Any]] = [
        ("区分", LEVEL_LABELS.get(sm.level, sm.level)),
        ("対象", f"{sm.scope_name}（{sm.pref_code}）" if sm.level == "prefecture" else "全国"),
        ("作成日", sm.created),
        ("実績報告の最新月", periods.wareki_month(sm.latest_month) if sm.values.get("monthly") else "－"),
        ("作成ツール", f"kofu-excel {__version__}"),
    ]
    r = 2
    for k, v in rows:
        write_text(ws, r, 0, k, s, **label)
        write_value(ws, r, 1, v, s, **cell, **({"num_format": "yyyy/m/d"} if isinstance(v, date) else {}))
        r += 1

    # Submissions.
    r += 1
    write_text(ws, r, 0, "提出状況", s, bold=True, font_size=12)
    r += 1
    for c, h in enumerate(("様式", "提出", "団体数", "未提出", "提出率")):
        write_text(ws, r, c, h, s, **label)
    r += 1
    for kind in KINDS:
        n = sum(1 for m in sm.scope if m.code in sm.values.get(kind, {}))
        total = len(sm.scope)
        write_text(ws, r, 0, KIND_LABELS[kind], s, **cell)
        write_value(ws, r, 1, n, s, num_format=NUM, **cell)
        write_value(ws, r, 2, total, s, num_format=NUM, **cell)
        write_value(ws, r, 3, total - n, s, num_format=NUM, **cell)
        write_value(ws, r, 4, n / total if total else 0, s, num_format=RATE_FMT, **cell)
        r += 1

    # Intake counts.
    r += 1
    write_text(ws, r, 0, "取込記録（ファイルの取扱い）", s, bold=True, font_size=12)
    r += 1
    write_text(ws, r, 0, "状態", s, **label)
    write_text(ws, r, 1, "件数", s, **label)
    r += 1
    counts = sm.totals()["status"]
    for st in STATUSES:
        write_text(ws, r, 0, STATUS_LABELS[st], s, **cell)
        write_value(ws, r, 1, counts.get(st, 0), s, num_format=NUM, **cell)
        r += 1
    write_text(ws, r, 0, "計", s, bold=True, **cell)
    write_value(ws, r, 1, sum(counts.values()), s, num_format=NUM, bold=True, **cell)
    r += 1

    # Totals of the accepted values (the same sums as --json).
    r += 1
    write_text(ws, r, 0, "合計（受理分）", s, bold=True, font_size=12)
    r += 1
    for c, h in enumerate(("区分", "項目", "合計")):
        write_text(ws, r, c, h, s, **label)
    r += 1
    for kind in KINDS:
        labels = _sum_labels(kind)
        for key, value in sm.totals()[kind].items():
            write_text(ws, r, 0, KIND_LABELS[kind], s, **cell)
            write_text(ws, r, 1, labels.get(key, key), s, **cell)
            write_value(ws, r, 2, value, s, num_format=NUM, **cell)
            r += 1
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 44)
    ws.set_column(2, 4, 14)

    # The charts' data go below the blocks; the charts sit to their right, in view.
    r = _forecast_chart(wb, ws, s, sm, r + 2)
    _rate_chart(wb, ws, s, sm, r + 2)
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.activate()


@cache
def _sum_labels(kind: str) -> dict[str, str]:
    """table.field → 'table title：field label' for the totals block."""
    out: dict[str, str] = {}
    form = forms.FORMS[kind]
    for t in form.tables:
        for f in t.fields:
            if f.numeric:
                key = f"{t.id}.{f.id}"
                suffix = "" if t.single else "（各行の計）"
                out[key] = f"{t.sheet}：{f.label}{suffix}"
    return out


CHART_COL = 6  # G: right of the overview's blocks (A:E)
CHART_WIDTH = 720


def _forecast_chart(wb: xlsxwriter.Workbook, ws: Worksheet, s: Styles, sm: Summary,
                    r0: int) -> int:
    """Σ (issued_to_date + planned) by month against Σ population × the schedule's rate; the
    data table starts at row ``r0`` (columns A:D). Returns the table's last row."""
    plans = sm.values.get("plan", {})
    monthlies = sm.values.get("monthly", {})
    months = periods.months()
    label = {"bold": True, "bg_color": HEADER_FILL, "border": 1, "text_wrap": True}
    c0 = 0
    write_text(ws, r0 - 1, c0, "交付枚数の累計（想定・国の目安・実績）", s, bold=True, font_size=12)
    for j, h in enumerate(("年月", "想定累計", "国の目安", "実績累計")):
        write_text(ws, r0, c0 + j, h, s, **label)
    forecast = dict.fromkeys(months, 0)
    for plan in plans.values():
        total = _num(plan, "basic.issued_to_date")
        for m in months:
            total += _num(plan, f"forecast.planned_issued.{m}")
            forecast[m] += total
    # The benchmark over the same municipalities as the forecast: those with a plan.
    pops = [_num(p, "basic.population") or (sm.master.by_code[c].population or 0
                                              if c in sm.master.by_code else 0)
            for c, p in plans.items()]
    bench = {ms.month: sum(sm.schedule.benchmark(p, ms.month) for p in pops if p)
             for ms in sm.schedule.milestones}
    actual: dict[str, int] = {}
    if monthlies:
        for code, mv in monthlies.items():
            base = _num(plans.get(code), "basic.issued_to_date")
            series = actual_series(mv, "issued")
            last = 0
            for m in months:
                if m > sm.latest_month:
                    break
                last = series.get(m, last)
                actual[m] = actual.get(m, 0) + base + last
    for i, m in enumerate(months, start=1):
        write_text(ws, r0 + i, c0, periods.wareki_month(m), s, border=1)
        write_value(ws, r0 + i, c0 + 1, forecast[m] if plans else None, s, num_format=NUM, border=1)
        write_value(ws, r0 + i, c0 + 2, bench.get(m), s, num_format=NUM, border=1)
        write_value(ws, r0 + i, c0 + 3, actual.get(m), s, num_format=NUM, border=1)
    last = r0 + len(months)
    chart = wb.add_chart({"type": "line"})
    sheet = "概要"
    cats = [sheet, r0 + 1, c0, last, c0]
    chart.add_series({"name": [sheet, r0, c0 + 1], "categories": cats,
                      "values": [sheet, r0 + 1, c0 + 1, last, c0 + 1],
                      "line": {"color": "#2F5597", "width": 2.25}})
    chart.add_series({"name": [sheet, r0, c0 + 2], "categories": cats,
                      "values": [sheet, r0 + 1, c0 + 2, last, c0 + 2],
                      "line": {"color": "#C00000", "width": 1.5, "dash_type": "dash"},
                      "marker": {"type": "diamond", "size": 7,
                                 "fill": {"color": "#C00000"}, "border": {"color": "#C00000"}}})
    if actual:
        chart.add_series({"name": [sheet, r0, c0 + 3], "categories": cats,
                          "values": [sheet, r0 + 1, c0 + 3, last, c0 + 3],
                          "line": {"color": "#548235", "width": 2.25}})
    chart.show_blanks_as("span")  # the schedule has figures at its milestones only
    chart.set_title({"name": f"交付枚数の累計：想定と国の全体スケジュール（{sm.scope_name}）",
                     "name_font": {"size": 12}})
    chart.set_y_axis({"name": "枚", "num_format": NUM, "major_gridlines": {"visible": True}})
    chart.set_x_axis({"num_font": {"rotation": -45}, "interval_unit": 3})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": CHART_WIDTH, "height": 400})
    ws.insert_chart(1, CHART_COL, chart, {"x_offset": 10, "y_offset": 10})
    return last


def _rate_rows(sm: Summary) -> list[tuple[str, int | None, int | None, float | None, str]]:
    """(name, population, cumulative cards, rate, basis) per municipality — or, nationally, per
    prefecture (1,741 bars would be unreadable)."""
    out: list[tuple[str, int | None, int | None, float | None, str]] = []
    if sm.level == "prefecture":
        for m in sm.rows():
            cum, rate, basis = issuance_rate(sm, m)
            out.append((m.name, population(sm, m), cum, rate, basis))
        return out
    agg: dict[str, list[int]] = {}
    for m in sm.rows():
        cum, _rate, _basis = issuance_rate(sm, m)
        pop = population(sm, m)
        if cum is None or not pop:
            continue
        a = agg.setdefault(m.code[:2], [0, 0])
        a[0] += pop
        a[1] += cum
    for pp, name in sm.master.prefectures.items():
        pop, cum = agg.get(pp, (0, 0))
        out.append((name, pop or None, cum if pop else None, cum / pop if pop else None,
                    "提出分" if pop else ""))
    return out


def _rate_chart(wb: xlsxwriter.Workbook, ws: Worksheet, s: Styles, sm: Summary, r0: int) -> None:
    """Issuance rate per municipality (or prefecture); the data table starts at row ``r0``."""
    rows = _rate_rows(sm)
    c0 = 0
    unit = "市区町村" if sm.level == "prefecture" else "都道府県"
    write_text(ws, r0 - 1, c0, f"交付率（{unit}別：累計交付数 ÷ 人口）", s, bold=True, font_size=12)
    label = {"bold": True, "bg_color": HEADER_FILL, "border": 1, "text_wrap": True}
    for j, h in enumerate((unit, "人口", "累計交付数", "交付率", "根拠")):
        write_text(ws, r0, c0 + j, h, s, **label)
    for i, (name, pop, cum, rate, basis) in enumerate(rows, start=1):
        write_text(ws, r0 + i, c0, name, s, border=1)
        write_value(ws, r0 + i, c0 + 1, pop, s, num_format=NUM, border=1)
        write_value(ws, r0 + i, c0 + 2, cum, s, num_format=NUM, border=1)
        write_value(ws, r0 + i, c0 + 3, rate, s, num_format=RATE_FMT, border=1)
        write_value(ws, r0 + i, c0 + 4, basis or None, s, border=1)
    if not rows:
        return
    last = r0 + len(rows)
    chart = wb.add_chart({"type": "bar"})
    chart.add_series({"name": "交付率", "categories": ["概要", r0 + 1, c0, last, c0],
                      "values": ["概要", r0 + 1, c0 + 3, last, c0 + 3],
                      "fill": {"color": "#2F5597"}, "gap": 40})
    chart.set_title({"name": f"{unit}別の交付率（実績、実績報告がない団体は計画の想定）",
                     "name_font": {"size": 12}})
    chart.set_x_axis({"num_format": "0%", "major_gridlines": {"visible": True}})
    chart.set_y_axis({"reverse": True, "num_font": {"size": 8}, "interval_unit": 1})
    chart.set_legend({"none": True})
    chart.set_size({"width": CHART_WIDTH, "height": max(360, 22 * len(rows) + 100)})
    ws.insert_chart(23, CHART_COL, chart, {"x_offset": 10, "y_offset": 10})


def _municipalities(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    t = _table(wb, s, "市町村別一覧", LIST_COLUMNS,
               {LIST_COLUMNS.index("実績報告の対象月"): MONTH_FMT, LIST_COLUMNS.index("交付率"): RATE_FMT})
    errors: dict[str, int] = {}
    checks: dict[tuple[str, str], int] = {}
    for fr in sm.findings:
        f = fr.finding
        if f.severity == "error":
            errors[f.muni_code] = errors.get(f.muni_code, 0) + 1
        if f.check:
            checks[(f.muni_code, f.check)] = checks.get((f.muni_code, f.check), 0) + 1
    last = periods.LAST_MONTH
    has_last = last in sm.schedule.months
    for m in sm.rows():
        plan, monthly = sm.plan(m.code), sm.monthly(m.code)
        pop = population(sm, m)
        issued = actual_series(monthly, "issued")
        delivered = actual_series(monthly, "delivered")
        cum_issued = issued[max(issued)] if issued else None
        backlog = (delivered[max(delivered)] - cum_issued) if (delivered and cum_issued is not None) else None
        _cum, rate, _basis = issuance_rate(sm, m)
        rm = _month_key(monthly.get("basic.report_month")) if monthly else None
        row = [
            m.code, m.name,
            _status(sm, "plan", m.code), sm.files.get(("plan", m.code)),
            _status(sm, "monthly", m.code), sm.files.get(("monthly", m.code)),
            pop, plan.get("basic.issued_to_date") if plan else None,
            planned_cumulative(plan),
            sm.schedule.benchmark(pop, last) if (pop and has_last) else None,
            cum_issued, backlog, errors.get(m.code, 0),
            *(checks.get((m.code, c), 0) for c in CHECKS),
            _month_cell(rm) if rm else None, rate,
        ]
        if row[7] is NA:
            row[7] = NA_TEXT
        t.body.add(row)
    _finish(t, widths={3: 30, 5: 30})


def _status(sm: Summary, kind: str, code: str) -> str:
    if code in sm.values.get(kind, {}):
        return "受理"
    if (kind, code) in sm.rejected:
        return "不受理"
    return "未提出"


def _cell(x: Any) -> Any:
    """A canonical value as a presentation cell: NA as 「－」, dates as dates."""
    if x is NA:
        return NA_TEXT
    return x


def _forecast(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    months = periods.months()
    fys = periods.fiscal_years()
    header = ("団体コード", "市区町村名", *(periods.wareki_month(m) for m in months),
              *(f"{periods.fiscal_year_label(fy)}計" for fy in fys), "合計")
    t = _table(wb, s, "交付枚数想定", header)
    col_tot = [0] * (len(months) + len(fys) + 1)
    for m in sm.rows():
        plan = sm.plan(m.code)
        if plan is None:
            t.body.add([m.code, m.name])
            continue
        vals = [plan.get(f"forecast.planned_issued.{k}") for k in months]
        by_fy = dict.fromkeys(fys, 0)
        for k, v in zip(months, vals, strict=True):
            if _is_number(v):
                by_fy[periods.fiscal_year_of(k)] += v
        nums = [*(v if _is_number(v) else 0 for v in vals), *by_fy.values(), sum(by_fy.values())]
        col_tot = [a + b for a, b in zip(col_tot, nums, strict=True)]
        t.body.add([m.code, m.name, *(_cell(v) for v in vals), *by_fy.values(), sum(by_fy.values())])
    last = t.body.row - 1
    t.body.add([None, "合計", *col_tot], {"bold": True, "bg_color": TOTAL_FILL}, s)
    _finish(t, last_data_row=last, widths={i: 12 for i in range(2, len(header))})


def _capacity(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    table = forms.FORMS["plan"].table("capacity")
    header = ("団体コード", "市区町村名", "四半期", "期間", *(f.label for f in table.fields))
    t = _table(wb, s, "交付体制", header)
    quarters = [(q, periods.quarter_label(q), [f"capacity.{f.id}.{q}" for f in table.fields])
                for q in periods.quarters()]
    for m in sm.rows():
        plan = sm.plan(m.code)
        if plan is None:
            continue
        for q, label, cids in quarters:
            vals = [_cell(plan.get(cid)) for cid in cids]
            if all(v is None for v in vals):
                continue
            t.body.add([m.code, m.name, label, q, *vals])
    _finish(t, widths={2: 32, **{i: 12 for i in range(4, len(header))}})


def _methods(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    rows = forms.METHOD_ROWS
    header = ("団体コード", "市区町村名", *(label for _k, label in rows),
              *(f"{label}（開始）" for _k, label in rows))
    formats = {2 + len(rows) + i: MONTH_FMT for i in range(len(rows))}
    t = _table(wb, s, "申請受付等", header, formats)
    for m in sm.rows():
        plan = sm.plan(m.code)
        if plan is None:
            t.body.add([m.code, m.name])
            continue
        t.body.add([m.code, m.name, *(_cell(plan.get(f"methods.status.{k}")) for k, _l in rows),
                    *(_cell(plan.get(f"methods.start.{k}")) for k, _l in rows)])
    _finish(t, widths={i: 14 for i in range(2, len(header))})


def _costs(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    table = forms.FORMS["plan"].table("costs")
    fields = table.fields
    cols = [(k, f) for k, _l in forms.COST_ROWS for f in fields]
    header = ("団体コード", "市区町村名",
              *(f"{label}（{f.label}）" for k, label in forms.COST_ROWS for f in fields),
              *(f"合計（{f.label}）" for f in fields), "総計")
    t = _table(wb, s, "補助対象経費", header)
    col_tot = [0] * (len(cols) + len(fields) + 1)
    for m in sm.rows():
        plan = sm.plan(m.code)
        if plan is None:
            t.body.add([m.code, m.name])
            continue
        vals = [plan.get(f"costs.{k}.{f.period}") for k, f in cols]
        per_fy = [sum(v for (k, f2), v in zip(cols, vals, strict=True) if f2 is f and _is_number(v)) for f in fields]
        nums = [*(v if _is_number(v) else 0 for v in vals), *per_fy, sum(per_fy)]
        col_tot = [a + b for a, b in zip(col_tot, nums, strict=True)]
        t.body.add([m.code, m.name, *(_cell(v) for v in vals), *per_fy, sum(per_fy)])
    last = t.body.row - 1
    t.body.add([None, "合計", *col_tot], {"bold": True, "bg_color": TOTAL_FILL}, s)
    _finish(t, last_data_row=last, widths={i: 14 for i in range(2, len(header))})


def _actuals(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    table = forms.FORMS["monthly"].table("actuals")
    header = ("団体コード", "市区町村名", "年月", *(f.label for f in table.fields))
    t = _table(wb, s, "月次実績", header, {2: MONTH_FMT})
    for m in sm.rows():
        mv = sm.monthly(m.code)
        if mv is None:
            continue
        for k in periods.months():
            vals = [_cell(mv.get(f"actuals.{f.id}.{k}")) for f in table.fields]
            if all(v is None for v in vals):
                continue
            t.body.add([m.code, m.name, _month_cell(k), *vals])
    _finish(t, widths={2: 12, **{i: 14 for i in range(3, len(header))}})


def _backlog(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    months = periods.months(periods.FIRST_MONTH, sm.latest_month) if sm.values.get("monthly") else ()
    header = ("団体コード", "市区町村名", *(periods.wareki_month(k) for k in months))
    t = _table(wb, s, "交付滞留", header)
    col_tot = [0] * len(months)
    for m in sm.rows():
        mv = sm.monthly(m.code)
        if mv is None:
            t.body.add([m.code, m.name])
            continue
        delivered, issued = actual_series(mv, "delivered"), actual_series(mv, "issued")
        vals = [delivered[k] - issued[k] if k in delivered else None for k in months]
        col_tot = [a + (v or 0) for a, v in zip(col_tot, vals, strict=True)]
        t.body.add([m.code, m.name, *vals])
    last = t.body.row - 1
    if months:
        t.body.add([None, "合計", *col_tot], {"bold": True, "bg_color": TOTAL_FILL}, s)
    _finish(t, last_data_row=last, widths={i: 12 for i in range(2, len(header))})


_KIND_RANK = {"plan": 0, "monthly": 1, "summary": 2, "": 3}


def _findings(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    t = _table(wb, s, FINDINGS_SHEET, FINDINGS_COLUMNS, freeze_cols=1)
    order = sorted(range(len(sm.findings)),
                   key=lambda i: (sm.findings[i].finding.muni_code or "~",
                                  _KIND_RANK.get(sm.findings[i].kind, 3), i))
    for i in order:
        fr = sm.findings[i]
        f = fr.finding
        pref_name, muni_name = _muni_name(sm.master, f.muni_code) if f.muni_code else ("", "")
        value = f.value
        if value is NA:
            value = NA_TEXT
        elif value is not None and not isinstance(value, (str, int, float, date)):
            value = str(value)
        t.body.add([
            f.muni_code or None, pref_name or None, muni_name or None,
            KIND_LABELS.get(fr.kind) if fr.kind in ("plan", "monthly") else None,
            f.code, SEVERITY_LABELS.get(f.severity, f.severity), f.check or None, f.message,
            fr.file or None, f.sheet or None, f.cell or None,
            field_labels(fr.kind).get(f.field, f.field) if f.field else None,
            value, f.expected or None,
            json.dumps({k: jsonable(v) for k, v in f.figures.items()}, ensure_ascii=False,
                       default=jsonable),
        ])
    _finish(t, widths={7: 70, 8: 30, 11: 30, 14: 40})


def _missing(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    t = _table(wb, s, MISSING_SHEET, MISSING_COLUMNS)
    for m, kind in sm.missing():
        t.body.add([m.code, m.pref_name, m.name, KIND_LABELS[kind], kind])
    _finish(t)


def _intake(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    t = _table(wb, s, INTAKE_SHEET, INTAKE_COLUMNS, freeze_cols=1)
    for it in sm.intake:
        t.body.add([it.path, it.member or None, KIND_LABELS.get(it.kind, it.kind) or None,
                    it.muni_code or None, STATUS_LABELS.get(it.status, it.status), it.reason or None,
                    it.sha256 or None])
    _finish(t, widths={0: 50, 1: 30, 5: 60, 6: 20})


def _data(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    """Every accepted value, one row each: the sheet the national merge reads back.

    Rows are sorted by 団体コード, 区分 (plan, monthly) and the form's order of the cells. They
    are assembled from per-(kind, catalog id) pieces: 区分/表/項目/期間 repeat for every
    municipality, so only the row number and the value vary.
    """
    t = _table(wb, s, DATA_SHEET, DATA_COLUMNS)
    body, ws = t.body, t.ws
    sst = body.sst
    tx, qx, nx = body.text_xf, body.quote_xf, body.num_xf[5]
    out = ws.bulk.append
    asked = sst.count
    cells = 0  # string cells written: the string table counts each use, pieces are reused
    r = body.first  # Excel's 1-based number of the last row written
    for kind in KINDS:
        got = sm.values.get(kind, {})
        if not got:
            continue
        # Each cell's pieces (区分, 表, 項目, 期間 as shared strings), in the form's order.
        pieces: list[tuple[str, str, int]] = []
        for cid, (table, item, period) in tidy_index(kind).items():
            texts = [kind, table, item] + ([period] if period else [])
            nexts = ["C", "D", "E", "F"] if period else ["C", "D", "F"]
            segs = [f'" s="{tx}" t="s"><v>{sst._get_shared_string_index(x)}</v></c><c r="{n}'
                    for x, n in zip(texts, nexts, strict=True)]
            pieces.append((cid, "\0".join(segs), len(segs)))
        for code in sorted(got):
            get = got[code].get
            a_seg = f'" s="{tx}" t="s"><v>{sst._get_shared_string_index(code)}</v></c><c r="B'
            for cid, segs, nsegs in pieces:
                v = get(cid)
                if v is None:
                    continue
                r += 1
                rs = str(r)
                vt = type(v)
                if vt is int or (vt is float and math.isfinite(v)):
                    tail = f'" s="{nx}"><v>{v if vt is int else format(v, ".16G")}</v></c>'
                else:
                    text = _data_text(v)
                    if len(text) > MAX_TEXT:
                        text = text[: MAX_TEXT - 1] + "…"
                    xf = qx if needs_quote(text) else tx
                    tail = f'" s="{xf}" t="s"><v>{sst._get_shared_string_index(text)}</v></c>'
                    cells += 1
                cells += 1 + nsegs
                out(f'<row r="{rs}"><c r="A{rs}{a_seg}{rs}{segs.replace(NUL, rs)}{rs}{tail}</row>')
    sst.count = asked + cells
    body.row = r
    _finish(t, widths={0: 12, 1: 10, 2: 12, 3: 32, 4: 12, 5: 16})


NUL = "\0"  # where the row number goes in a row's pieces (never in sheet XML otherwise)


def _data_text(v: Any) -> str:
    """A non-numeric canonical value as データ holds it: ISO dates, 「－」, text."""
    if v is NA:
        return NA_TEXT
    if isinstance(v, datetime):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, bool):
        return "はい" if v else "いいえ"
    return str(v)


def _meta(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    ws = wb.add_worksheet(META_SHEET)
    values = {"kind": "summary", "level": sm.level, "pref": sm.pref_code,
              "version": forms.FORM_VERSION, "generated": sm.created.isoformat(),
              "tool": f"kofu-excel {__version__}"}
    for i, (k, v) in enumerate(values.items()):
        write_text(ws, i, 0, k, s)
        write_text(ws, i, 1, v, s)
    wb.define_name(forms.META_NAME, f"='{META_SHEET}'!$A$1:$B${len(values)}")
    ws.hide()


STEPS: tuple[Callable[[xlsxwriter.Workbook, Styles, Summary], None], ...] = (
    _overview, _municipalities, _forecast, _capacity, _methods, _costs, _actuals, _backlog,
    _findings, _missing, _intake, _data, _meta,
)


def summary_bytes(sm: Summary, progress: Progress | None = None) -> bytes:
    """The summary workbook as bytes (deterministic for the same summary)."""

    def build(wb: xlsxwriter.Workbook, s: Styles) -> None:
        for i, step in enumerate(STEPS, start=1):
            step(wb, s, sm)
            if progress is not None:
                progress(i, len(STEPS) + 1)

    data = build_xlsx(build, title=f"交付円滑化計画とりまとめ表（{sm.scope_name}）",
                      fast_deflate=True)
    if progress is not None:
        progress(len(STEPS) + 1, len(STEPS) + 1)
    return data


def write_summary(sm: Summary, path: str | Path, progress: Progress | None = None) -> Path:
    """Write the summary atomically (temp file + fsync + rename): all or nothing."""
    write_atomic(path, summary_bytes(sm, progress))
    return Path(path)
