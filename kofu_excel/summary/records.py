"""指摘事項, 未提出 and 取込記録: the records of a merge, one row per finding, missing form and
file. Their headers are a contract (kofu-advise and the national merge read them back): they
come from :mod:`kofu_excel.contract`."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING

from ..contract import (
    FINDINGS_COLUMNS,
    FINDINGS_SHEET,
    INTAKE_COLUMNS,
    INTAKE_SHEET,
    KIND_LABELS,
    MISSING_COLUMNS,
    MISSING_SHEET,
    NA_TEXT,
    SEVERITY_LABELS,
    STATUS_LABELS,
)
from ..findings import jsonable
from ..model import NA
from ..refdata import Master
from ..write.report import field_label
from ..write.xlsx import Styles
from .model import Summary
from .sheet import finish, table_sheet

if TYPE_CHECKING:
    import xlsxwriter


_KIND_RANK = {"plan": 0, "monthly": 1, "summary": 2, "": 3}


def findings_sheet(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    t = table_sheet(wb, s, FINDINGS_SHEET, FINDINGS_COLUMNS, freeze_cols=1, wrap=(7, 14))
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
            field_label(fr.kind, f.field) if f.field else None,
            value, f.expected or None,
            json.dumps({k: jsonable(v) for k, v in f.figures.items()}, ensure_ascii=False, allow_nan=False,
                       default=jsonable),
        ])
    finish(t, widths={7: 70, 8: 30, 11: 30, 14: 40})


def missing_sheet(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    t = table_sheet(wb, s, MISSING_SHEET, MISSING_COLUMNS)
    for m, kind in sm.missing():
        t.body.add([m.code, m.pref_name, m.name, KIND_LABELS[kind], kind])
    finish(t)


def intake_sheet(wb: xlsxwriter.Workbook, s: Styles, sm: Summary) -> None:
    t = table_sheet(wb, s, INTAKE_SHEET, INTAKE_COLUMNS, freeze_cols=1, wrap=(0, 5))
    for it in sm.intake:
        t.body.add([it.path, it.member or None, KIND_LABELS.get(it.kind, it.kind) or None,
                    it.muni_code or None, STATUS_LABELS.get(it.status, it.status), it.reason or None,
                    it.sha256 or None])
    finish(t, widths={0: 50, 1: 30, 5: 60, 6: 20})


def _muni_name(master: Master, code: str) -> tuple[str, str]:
    m = master.by_code.get(code)
    if m is not None:
        return m.pref_name, m.name
    return master.prefectures.get(code[:2], ""), ""
