"""Write the submission workbooks (xlsxwriter), all derived from the form definition.

The same writer serves three jobs: a blank or pre-filled template (``kofu-template``), a filled
sample (``kofu sample``) and an annotated copy to send back (``kofu-validate --annotate``):
they differ only in the values written into the input cells and the marks on faulty cells.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from .. import __version__, forms, periods
from ..cells import a1, col_name, display_width
from ..forms import (
    FIRST_DATA_ROW,
    FIRST_FIELD_COL,
    HEADER_ROW,
    LABEL_COL,
    MUNI_ROW,
    NOTE_ROW,
    SINGLE_HELP_COL,
    SINGLE_UNIT_COL,
    SINGLE_VALUE_COL,
    TITLE_ROW,
    Field,
    Form,
    Placement,
    Table,
)
from ..names import fit_path, safe_name
from ..refdata import Master, Municipality, Schedule, load_schedule
from ..stamp import digest
from .atomic import staged
from .guard import refuse_different
from .xlsx import (
    HEADER_FILL,
    ClassicFormulaSheet,
    Styles,
    build_xlsx,
    print_a4,
    write_text,
    write_value,
)

INPUT_FILL = "#FFF2CC"  # pale yellow: the cells to fill
DERIVED_FILL = "#EDEDED"
ERROR_FILL = "#FF9999"
WARN_FILL = "#FFD966"

NUM_FORMATS = {
    "int": "#,##0",
    "yen": "#,##0",
    "month": 'yyyy"年"m"月"',
    "date": "yyyy/m/d",
    "code": "@",
    "text": "@",
    "phone": "@",
    "email": "@",
    "choice": "@",
}

@dataclass
class Marks:
    """Faulty cells of an annotated copy: catalog id → (severity, Japanese comment)."""

    cells: dict[str, tuple[str, str]] = field(default_factory=dict)


def _field_validation(f: Field) -> dict[str, Any] | None:
    """Excel data validation for an input field, with Japanese input and error messages."""
    hint = forms.input_prompt(f)  # the validator's own bounds, in words
    base: dict[str, Any] = {
        "input_title": f.label[:32],
        "input_message": hint[:255],
        "error_title": "入力内容の確認",
        "show_input": bool(hint),
    }
    if f.type == "choice":
        # Literal lists: a list on another sheet ends up in an extension openpyxl drops.
        return {**base, "validate": "list", "source": list(f.choices),
                "error_message": "一覧から選択してください。", "error_type": "stop",
                "input_message": (hint or "一覧から選択してください。")[:255]}
    if f.numeric:
        lo = f.lower if isinstance(f.lower, int) else 0
        # The validator's bounds exactly: an upper one only where the form sets one.
        bounds: dict[str, Any] = (
            {"criteria": "between", "minimum": lo, "maximum": f.max} if isinstance(f.max, int)
            else {"criteria": ">=", "value": lo})
        # Warning style: "－" (not applicable) must stay typable in a number cell.
        return {**base, "validate": "decimal" if f.type == "yen" else "integer", **bounds,
                "error_type": "warning",
                "error_message": f"{forms.range_text(f)}の整数を入力してください。"
                                 + forms.not_applicable_text(f)}
    if f.type in ("month", "date"):
        from datetime import date

        lo = periods.month_date(f.min) if isinstance(f.min, str) else date(1989, 1, 8)
        hi = periods.month_date(f.max) if isinstance(f.max, str) else date(2099, 12, 31)
        return {**base, "validate": "date", "criteria": "between", "minimum": lo, "maximum": hi,
                "error_type": "warning",
                "error_message": "日付として入力してください（例：2020/4/1、令和2年4月）。"}
    if f.type == "code":
        return {**base, "validate": "length", "criteria": "==", "value": 6, "error_type": "stop",
                "error_message": "6桁の団体コードを入力してください。"}
    return None


def _input_props(f: Field, locked: bool) -> dict[str, Any]:
    props: dict[str, Any] = {"num_format": NUM_FORMATS[f.type], "border": 1}
    if f.type in ("text",) and f.width >= 30:
        props["text_wrap"] = True
    if locked:
        props["bg_color"] = DERIVED_FILL
    else:
        props.update(locked=False, bg_color=INPUT_FILL)
    return props


def _header(f: Field) -> str:
    return f"{f.label}（{f.unit}）" if f.unit else f.label


class _Writer:
    """Writes one workbook of one form."""

    def __init__(
        self,
        wb: xlsxwriter.Workbook,
        styles: Styles,
        form: Form,
        muni: Municipality | None,
        values: Mapping[str, Any],
        marks: Mapping[str, tuple[str, str]],
        schedule: Schedule,
        written: str = "",
    ) -> None:
        self.wb, self.s, self.form, self.muni = wb, styles, form, muni
        self.values, self.marks, self.schedule = values, marks, schedule
        self.written = written
        self.catalog = {(e.table, e.spec.id, e.index): e for e in forms.catalog(form.kind)}

    # -- helpers ---------------------------------------------------------------------------
    def _muni_line(self) -> str:
        if self.muni is None:
            return "団体名：（記入してください）"
        return f"{self.muni.pref_name}　{self.muni.name}（団体コード {self.muni.code}）"

    def _heading(self, ws: Worksheet, table: Table, width: int) -> None:
        ws.merge_range(TITLE_ROW, 0, TITLE_ROW, max(width - 1, 1), table.title,
                       self.s(bold=True, font_size=14))
        write_text(ws, MUNI_ROW, 0, self._muni_line(), self.s, bold=True)
        if table.note:
            write_text(ws, NOTE_ROW, 0, table.note, self.s, font_color="#C00000")
        ws.set_row(TITLE_ROW, 24)

    def _finish(self, ws: Worksheet, landscape: bool, last_col: int) -> None:
        ws.freeze_panes(FIRST_DATA_ROW, 1)
        print_a4(ws, landscape, HEADER_ROW)
        ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
        ws.set_footer("&C&P / &N")
        # Layout locked, input cells open; no password so an office can still adjust.
        ws.protect("", {"select_locked_cells": True, "select_unlocked_cells": True,
                        "format_columns": True, "format_rows": True})
        del last_col

    def _input(self, ws: Worksheet, row: int, col: int, entry: forms.CatalogEntry,
               locked: bool) -> None:
        f = entry.spec
        props = _input_props(f, locked)
        mark = self.marks.get(entry.id)
        if mark:
            props["bg_color"] = ERROR_FILL if mark[0] == "error" else WARN_FILL
            ws.write_comment(row, col, mark[1], {"x_scale": 2.5, "y_scale": 2, "font_name": "游ゴシック"})
        value = self.values.get(entry.id)
        if isinstance(value, str) and f.type in ("int", "yen", "month", "date"):
            # Typed as text (an annotated copy shows what was sent): keep it text.
            write_text(ws, row, col, value, self.s, **{**props, "num_format": "@"})
        else:
            write_value(ws, row, col, value, self.s, **props)  # a blank keeps its input format

    def _num(self, cid: str) -> float | None:
        v = self.values.get(cid)
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    def _name(self, p: Placement) -> None:
        self.wb.define_name(p.name, p.ref)

    # -- tables ----------------------------------------------------------------------------
    def single(self, table: Table) -> None:
        ws = self.wb.add_worksheet(table.sheet, worksheet_class=ClassicFormulaSheet)
        self._heading(ws, table, 4)
        head = self.s(bold=True, bg_color=HEADER_FILL, border=1)
        for col, text in enumerate(("項目", "入力欄", "単位", "説明")):
            ws.write_string(HEADER_ROW, col, text, head)
        for p in forms.placements(table):
            f = p.field
            entry = self.catalog[(table.id, f.id, 0)]
            label = f.label + ("（必須）" if f.required else "")
            ws.write_string(p.first_row, LABEL_COL, label, self.s(border=1))
            locked = f.prefill and self.muni is not None and f.id in _PREFILL_LOCKED
            self._input(ws, p.first_row, SINGLE_VALUE_COL, entry, locked)
            ws.write_string(p.first_row, SINGLE_UNIT_COL, f.unit, self.s(border=1))
            hint = forms.input_prompt(f) or ("一覧から選択してください。" if f.choices else "")
            if hint:
                # wrapped, its row as tall as its lines (LibreOffice does not grow it by itself)
                lines = sum(len(break_lines(h, HELP_LINE)) for h in hint.split("\n"))
                hint = "\n".join(ln for h in hint.split("\n") for ln in break_lines(h, HELP_LINE))
                ws.set_row(p.first_row, max(15, 12.5 * lines))
            ws.write_string(p.first_row, SINGLE_HELP_COL, hint,
                            self.s(border=1, font_size=9, text_wrap=True, valign="top"))
            dv = _field_validation(f)
            if dv and not locked:
                ws.data_validation(p.first_row, SINGLE_VALUE_COL, p.first_row, SINGLE_VALUE_COL, dv)
            self._name(p)
        width_a = max(display_width(f.label) + 8 for f in table.fields)
        ws.set_column(LABEL_COL, LABEL_COL, width_a)
        ws.set_column(SINGLE_VALUE_COL, SINGLE_VALUE_COL, 32)
        ws.set_column(SINGLE_UNIT_COL, SINGLE_UNIT_COL, 6)
        ws.set_column(SINGLE_HELP_COL, SINGLE_HELP_COL, 70)
        if table.id == "basic" and self.form.kind == "plan":
            self._basic_checks(ws, table)
        self._finish(ws, landscape=False, last_col=SINGLE_HELP_COL)

    def _basic_checks(self, ws: Worksheet, table: Table) -> None:
        p = {pl.field.id: pl for pl in forms.placements(table)}["issued_to_date"]
        cell = p.cell()
        ws.conditional_format(cell, {
            "type": "formula",
            "criteria": f"=AND(ISNUMBER({cell}),N(kofu_basic_population)>0,{cell}>kofu_basic_population)",
            "format": self.wb.add_format({"bg_color": ERROR_FILL}),
        })

    def rows(self, table: Table) -> None:
        ws = self.wb.add_worksheet(table.sheet, worksheet_class=ClassicFormulaSheet)
        ncols = FIRST_FIELD_COL + len(table.fields) + len(table.derived)
        self._heading(ws, table, ncols)
        head = self.s(bold=True, bg_color=HEADER_FILL, border=1, text_wrap=True, valign="vcenter",
                      align="center")
        ws.write_string(HEADER_ROW, LABEL_COL, table.row_header, head)
        ws.set_row(HEADER_ROW, 48)
        label_fmt = self.s(border=1)
        for i, row in enumerate(table.rows):
            ws.write_string(FIRST_DATA_ROW + i, LABEL_COL, row.label, label_fmt)
        ws.set_column(LABEL_COL, LABEL_COL, max(display_width(r.label) for r in table.rows) + 2)
        for p in forms.placements(table):
            f = p.field
            ws.write_string(HEADER_ROW, p.col, _header(f), head)
            for i in range(p.nrows):
                self._input(ws, p.first_row + i, p.col, self.catalog[(table.id, f.id, i)], False)
            dv = _field_validation(f)
            if dv:
                ws.data_validation(p.first_row, p.col, p.first_row + p.nrows - 1, p.col, dv)
            ws.set_column(p.col, p.col, f.width or min(max(display_width(f.label) / 2 + 4, 12), 22))
            self._name(p)
        for d in table.derived:
            col = forms.derived_col(table, d.id)
            ws.write_string(HEADER_ROW, col, f"{d.label}（{d.unit}）" if d.unit else d.label, head)
            ws.set_column(col, col, 16)
        extra = _EXTRAS.get(table.id)
        if extra:
            extra(self, ws, table)
        self._finish(ws, landscape=len(table.fields) + len(table.derived) > 3, last_col=ncols - 1)

    # -- table-specific formulas and live checks -------------------------------------------
    def _forecast(self, ws: Worksheet, table: Table) -> None:
        n = len(table.rows)
        b = col_name(FIRST_FIELD_COL)
        c_cum = forms.derived_col(table, "cumulative")
        c_bm = forms.derived_col(table, "benchmark")
        c_gap = forms.derived_col(table, "gap")
        num = self.s(num_format="#,##0", bg_color=DERIVED_FILL, border=1)
        rates = {m.month: self.schedule.rate(m.month) for m in self.schedule.milestones}
        first = FIRST_DATA_ROW + 1
        # Cached results computed here so that a reader that does not recalculate (LibreOffice
        # conversion, previews) shows real numbers; Excel recalculates on open anyway.
        pop = self._num("basic.population")
        running: float | None = self._num("basic.issued_to_date") or 0
        for i, row in enumerate(table.rows):
            r = FIRST_DATA_ROW + i
            x = r + 1
            month_v = self._num(f"forecast.planned_issued.{row.key}")
            running = running + month_v if running is not None and month_v is not None else None
            ws.write_formula(r, c_cum, f'=IF(COUNT(${b}${first}:{b}{x})=0,"",'
                                       f"N(kofu_basic_issued_to_date)+SUM(${b}${first}:{b}{x}))", num,
                             running if running is not None else "")
            if row.key in rates:
                bench = round(pop * rates[row.key]) if pop else None
                ws.write_formula(r, c_bm, f'=IF(N(kofu_basic_population)=0,"",'
                                          f"ROUND(kofu_basic_population*{rates[row.key]:.10f},0))", num,
                                 bench if bench is not None else "")
                cum, bm = a1(r, c_cum), a1(r, c_bm)
                gap = running - bench if running is not None and bench is not None else ""
                ws.write_formula(r, c_gap, f'=IF(OR({cum}="",{bm}=""),"",{cum}-{bm})', num, gap)
            else:
                ws.write_blank(r, c_bm, None, num)
                ws.write_blank(r, c_gap, None, num)
        last = FIRST_DATA_ROW + n - 1
        cum_rng = f"{a1(FIRST_DATA_ROW, c_cum)}:{a1(last, c_cum)}"
        top = a1(FIRST_DATA_ROW, c_cum)
        ws.conditional_format(cum_rng, {
            "type": "formula",
            "criteria": f'=AND({top}<>"",N(kofu_basic_population)>0,{top}>kofu_basic_population)',
            "format": self.wb.add_format({"bg_color": ERROR_FILL}),
        })
        ws.conditional_format(f"{a1(FIRST_DATA_ROW, c_gap)}:{a1(last, c_gap)}", {
            "type": "cell", "criteria": "<", "value": 0,
            "format": self.wb.add_format({"bg_color": WARN_FILL}),
        })
        # Fiscal-year totals beside the table.
        c_fy = c_gap + 2
        head = self.s(bold=True, bg_color=HEADER_FILL, border=1, align="center")
        ws.write_string(HEADER_ROW, c_fy, "年度", head)
        ws.write_string(HEADER_ROW, c_fy + 1, "想定計（枚）", head)
        keys = [r.key for r in table.rows]
        for j, fy in enumerate(periods.fiscal_years()):
            idx = [i for i, k in enumerate(keys) if periods.fiscal_year_of(k) == fy]
            r0, r1 = FIRST_DATA_ROW + idx[0] + 1, FIRST_DATA_ROW + idx[-1] + 1
            ws.write_string(FIRST_DATA_ROW + j, c_fy, periods.fiscal_year_label(fy), self.s(border=1))
            total = sum(self._num(f"forecast.planned_issued.{keys[i]}") or 0 for i in idx)
            ws.write_formula(FIRST_DATA_ROW + j, c_fy + 1, f"=SUM({b}{r0}:{b}{r1})", num, total)
        ws.set_column(c_fy, c_fy, 12)
        ws.set_column(c_fy + 1, c_fy + 1, 14)

    def _costs(self, ws: Worksheet, table: Table) -> None:
        fy2020 = next(p for p in forms.placements(table) if p.field.period == "FY2020")
        keys = [r.key for r in table.rows]
        for item in forms.R1_ONLY_COSTS:
            cell = fy2020.cell(keys.index(item))
            ws.conditional_format(cell, {"type": "cell", "criteria": "!=", "value": 0,
                                         "format": self.wb.add_format({"bg_color": ERROR_FILL})})
        # Totals row below the table (outside the named ranges).
        r = FIRST_DATA_ROW + len(table.rows)
        ws.write_string(r, LABEL_COL, "合計", self.s(bold=True, border=1))
        for p in forms.placements(table):
            rng = f"{p.cell(0)}:{p.cell(p.nrows - 1)}"
            total = sum(self._num(f"costs.{k}.{p.field.period}") or 0 for k in keys)
            ws.write_formula(r, p.col, f"=SUM({rng})",
                             self.s(num_format="#,##0", bg_color=DERIVED_FILL, border=1, bold=True), total)

    def _capacity(self, ws: Worksheet, table: Table) -> None:
        p = {pl.field.id: pl for pl in forms.placements(table)}
        rng = f"{p['terminals'].cell(0)}:{p['terminals'].cell(p['terminals'].nrows - 1)}"
        ws.conditional_format(rng, {"type": "cell", "criteria": "==", "value": 0,
                                    "format": self.wb.add_format({"bg_color": ERROR_FILL})})

    def _methods(self, ws: Worksheet, table: Table) -> None:
        p = {pl.field.id: pl for pl in forms.placements(table)}
        st, start = p["status"], p["start"]
        rng = f"{start.cell(0)}:{start.cell(start.nrows - 1)}"
        s0 = st.cell(0).replace(col_name(st.col), "$" + col_name(st.col))
        ws.conditional_format(rng, {
            "type": "formula",
            "criteria": f'=AND(OR({s0}="実施済",{s0}="実施予定"),{start.cell(0)}="")',
            "format": self.wb.add_format({"bg_color": WARN_FILL}),
        })

    def _actuals(self, ws: Worksheet, table: Table) -> None:
        p = {pl.field.id: pl for pl in forms.placements(table)}
        c_bl = forms.derived_col(table, "backlog")
        num = self.s(num_format="#,##0", bg_color=DERIVED_FILL, border=1)
        d, iss = col_name(p["delivered"].col), col_name(p["issued"].col)
        first = FIRST_DATA_ROW + 1
        backlog, seen = 0.0, False
        for i, row in enumerate(table.rows):
            x = FIRST_DATA_ROW + i + 1
            dv, iv = self._num(f"actuals.delivered.{row.key}"), self._num(f"actuals.issued.{row.key}")
            seen = seen or dv is not None
            backlog += (dv or 0) - (iv or 0)
            ws.write_formula(FIRST_DATA_ROW + i, c_bl,
                             f'=IF(COUNT(${d}${first}:{d}{x})=0,"",'
                             f"SUM(${d}${first}:{d}{x})-SUM(${iss}${first}:{iss}{x}))", num,
                             backlog if seen else "")
        # Live check of the cumulative order (docs/spec/forms.md): later stage ≤ earlier stage, on running totals.
        last = FIRST_DATA_ROW + len(table.rows) - 1
        for later, earlier in (("delivered", "applications"), ("setup", "delivered"),
                               ("issued", "setup"), ("notices", "setup")):
            lc, ec = col_name(p[later].col), col_name(p[earlier].col)
            ws.conditional_format(f"{lc}{first}:{lc}{last + 1}", {
                "type": "formula",
                "criteria": f"=SUM(${lc}${first}:{lc}{first})>SUM(${ec}${first}:{ec}{first})",
                "format": self.wb.add_format({"bg_color": ERROR_FILL}),
            })

    # -- workbook-level sheets -------------------------------------------------------------
    def instructions(self) -> None:
        ws = self.wb.add_worksheet(forms.INSTRUCTIONS_SHEET)
        # Each item broken into lines that fit portrait A4 at 100 %, its row as tall as its lines
        # (a 110-wide column with wrapping left to the viewer ran past the page edge).
        ws.set_column(0, 0, INSTRUCTIONS_WIDTH)
        write_text(ws, 0, 0, f"マイナンバーカード{self.form.label} 記入要領", self.s, bold=True, font_size=14)
        write_text(ws, 1, 0, self._muni_line(), self.s, bold=True)
        for i, item in enumerate(_instructions(self.form), start=3):
            lines = break_lines(item)
            write_text(ws, i, 0, "\n".join(lines), self.s, text_wrap=True, valign="top")
            ws.set_row(i, LINE_HEIGHT * len(lines))
        write_text(ws, 3 + len(_instructions(self.form)) + 1, 0,
                   f"様式バージョン {self.form.version}（kofu-excel {__version__}）", self.s,
                   font_color="#808080")
        print_a4(ws, landscape=False)
        ws.protect("", {"select_locked_cells": True, "select_unlocked_cells": True})

    def meta(self) -> None:
        ws = self.wb.add_worksheet(forms.META_SHEET)
        values = {
            "kind": self.form.kind,
            "version": self.form.version,
            "muni_code": self.muni.code if self.muni else "",
            "generated": forms.FORM_DATE,
            "fingerprint": forms.fingerprint(self.form.kind),
            "tool": f"kofu-excel {__version__}",
            "written": self.written,
            "digest": digest({e.id: self.values.get(e.id) for e in forms.catalog(self.form.kind)})
            if self.written else "",
        }
        # The stamp's rows only on a stamped form: a sample's bytes stay as they were.
        keys = [k for k in forms.META_KEYS if values[k] or k not in ("written", "digest")]
        for i, key in enumerate(keys):
            ws.write_string(i, 0, key)
            ws.write_string(i, 1, values[key])
        self.wb.define_name(forms.META_NAME, f"={forms.META_SHEET}!$A$1:$B${len(keys)}")
        ws.protect("")
        ws.hide()

    def write(self, first_sheet: Callable[[xlsxwriter.Workbook, Styles], None] | None) -> None:
        if first_sheet:
            first_sheet(self.wb, self.s)
        self.instructions()
        for table in self.form.tables:
            (self.single if table.single else self.rows)(table)
        self.meta()
        # Open on the first data sheet (the instructions are one click away).
        self.wb.worksheets()[1 if first_sheet is None else 0].activate()


_EXTRAS: dict[str, Callable[[_Writer, Worksheet, Table], None]] = {
    "forecast": _Writer._forecast,
    "costs": _Writer._costs,
    "capacity": _Writer._capacity,
    "methods": _Writer._methods,
    "actuals": _Writer._actuals,
}
# Pre-filled fields that identify the municipality stay locked; population stays editable
# (the municipality knows the latest figure better than the master).
_PREFILL_LOCKED = ("muni_code", "pref_name", "muni_name")


INSTRUCTIONS_WIDTH = 84  # character units of column A: wider than any line below, in any font
INSTRUCTIONS_LINE = 72  # display width of one printed line: 36 full-width characters ≈ 140 mm
HELP_LINE = 78  # display width of a line of the 9-point help column (70 wide at 11 points)
LINE_HEIGHT = 16.5  # points per line of 11-point text, with room for Japanese glyphs
_NO_LINE_START = "、。，．）」』】〕）］｝・ー：；？！"  # kinsoku: these never begin a line
_ASCII_RUN = re.compile(r"[!-~]+|.", re.S)


def break_lines(text: str, width: int = INSTRUCTIONS_LINE) -> list[str]:
    """``text`` broken into lines of at most ``width`` display units (wide characters count two),
    never inside a run of ASCII (2020/4, R2.4) nor before closing punctuation. The breaks are
    written into the cell, so the page does not depend on how a viewer measures a font:
    LibreOffice neither grows a row for wrapped text nor shrinks this sheet to the page."""
    lines: list[str] = []
    cur, w = "", 0
    for token in _ASCII_RUN.findall(text):
        tw = display_width(token)
        if cur and w + tw > width and token[0] not in _NO_LINE_START:
            lines.append(cur.rstrip())
            cur, w = token.lstrip(), display_width(token.lstrip())
        else:
            cur, w = cur + token, w + tw
    if cur:
        lines.append(cur.rstrip())
    return lines or [""]


def _instructions(form: Form) -> list[str]:
    common = [
        "1. 黄色のセルに入力してください。灰色のセルは自動計算または記入済みのため入力できません。",
        "2. 数値は半角・全角どちらでも構いません（例：1,234）。人・枚・円などの単位は不要です。",
        "3. 必須でない項目で該当がないときは「－」を入力してください（必須の数値は0。1以上の項目もあります）。"
        "空欄は「未回答」として扱います。0 と「－」は区別します。各欄の入力範囲は、欄を選ぶと表示されます。",
        "4. 年月・日付は 2020/4、令和2年4月、R2.4 などの形式で入力できます。",
        "5. 行の挿入・削除、シート名の変更はしないでください（様式の確認ができなくなります）。",
        "6. 入力後、ファイル名を変えずに電子メールで都道府県の担当課あて提出してください。",
    ]
    if form.kind == "plan":
        return [
            *common,
            "7. 交付枚数の想定は、国の全体スケジュールに沿って各月の枚数を入力してください。"
            "「国の想定に基づく目安」は人口に全国の想定割合を乗じた参考値です。",
            "8. 交付体制は四半期ごとに、窓口数・統合端末台数・職員数・土日開庁日数・夜間延長日数を入力してください。",
            "9. 補助対象経費は円単位で入力してください。タブレット端末・モバイルプリンター・ウェブカメラは令和元年度限りです。",
            "10. 計画を改訂した場合は「計画の版」を選び、改めて全体を提出してください（新しい版が前の版に代わります）。",
        ]
    return [
        *common,
        "7. 対象月を入力し、令和元年10月から対象月までの各月の件数（当月分）を入力してください。対象月より後は空欄のままにしてください。",
        "8. 交付申請受付数・カード送付枚数は J-LIS の提供数値を、交付前設定数・交付通知書送付数・交付数は市区町村の実績を入力してください。",
    ]


def prefill_values(kind: str, muni: Municipality | None) -> dict[str, Any]:
    """Values the template writes for a known municipality."""
    if muni is None:
        return {}
    out: dict[str, Any] = {"basic.muni_code": muni.code, "basic.pref_name": muni.pref_name,
                           "basic.muni_name": muni.name}
    if kind == "plan":
        if muni.population is not None:
            out["basic.population"] = muni.population
        if muni.population_date is not None:
            out["basic.population_date"] = muni.population_date
    return out


def workbook_bytes(
    kind: str,
    muni: Municipality | None = None,
    values: Mapping[str, Any] | None = None,
    marks: Mapping[str, tuple[str, str]] | None = None,
    schedule: Schedule | None = None,
    first_sheet: Callable[[xlsxwriter.Workbook, Styles], None] | None = None,
    written: str = "",
) -> bytes:
    """One workbook of ``kind`` as bytes: pre-filled for ``muni``, with ``values`` (catalog id →
    raw cell value) in the input cells and ``marks`` on faulty cells. ``written`` (template or
    annotated) stamps it as the toolkit's own output until someone types into it (stamp.py);
    a sample, filled for validation, is not stamped."""
    form = forms.FORMS[kind]
    all_values = {**prefill_values(kind, muni), **(values or {})}

    def build(wb: xlsxwriter.Workbook, styles: Styles) -> None:
        _Writer(wb, styles, form, muni, all_values, marks or {},
                schedule or load_schedule(None), written).write(first_sheet)

    return build_xlsx(build, title=f"マイナンバーカード{form.label}")


def file_name(kind: str, muni: Municipality | None) -> str:
    label = forms.FORMS[kind].label
    if muni is None:
        return f"様式_{label}.xlsx"
    return safe_name(f"{muni.code}_{muni.name}_{label}.xlsx")


@dataclass(frozen=True)
class TemplateResult:
    kind: str
    files: tuple[Path, ...]


def generate(
    kind: str,
    out_dir: str | Path,
    master: Master | None = None,
    pref: str | None = None,
    munis: Iterable[str] = (),
    blank: bool = False,
    schedule: Schedule | None = None,
    force: bool = False,
) -> TemplateResult:
    """Write one workbook per selected municipality (or one generic blank) into ``out_dir``.

    An existing file of the same name is replaced only when it holds exactly what would be
    written, or with ``force``; otherwise KofuError E901 and nothing is written."""
    out = Path(out_dir)
    schedule = schedule or load_schedule(None)
    if blank or master is None:
        targets: list[Municipality | None] = [None]
    else:
        targets = list(master.select(pref=pref, munis=list(munis) or None))
    planned = [(fit_path(out, file_name(kind, muni)), muni) for muni in targets]
    make = functools.partial(workbook_bytes, kind, schedule=schedule, written="template")
    # A municipality's filled return may carry the standard name: only bytes identical to what
    # would be written are replaced, unless ``force`` (E901 before the first file is written).
    built = refuse_different([(path, functools.partial(make, muni)) for path, muni in planned],
                             force, "--force")
    with staged() as st:  # every workbook, or none of them
        for path, muni in planned:
            data = built.pop(path, None)
            st.write(path, data if data is not None else make(muni))
    return TemplateResult(kind, tuple(st.paths))
