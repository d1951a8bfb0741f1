"""What one stage writes and another reads, named once.

The summary writer, the national read-back (``read``), the letters (which read the summary's
指摘事項 and 未提出 back) and the validation report all take their sheet names, headers and
labels from here, so that renaming a header can never break the reader on the other side.
Only plain data lives here: importing this module costs nothing.
"""

from __future__ import annotations

from types import MappingProxyType

# --- form kinds -----------------------------------------------------------------------------
FORM_KINDS = ("plan", "monthly")
SUMMARY_KIND = "summary"
KIND_LABELS = MappingProxyType({"plan": "交付円滑化計画", "monthly": "実績報告", SUMMARY_KIND: "とりまとめ表"})
KIND_FROM_LABEL = MappingProxyType({v: k for k, v in KIND_LABELS.items() if k in FORM_KINDS})

# --- severities, intake statuses, levels ---------------------------------------------------
SEVERITIES = ("error", "warning", "info", "advise", "urgent")
SEVERITY_LABELS = MappingProxyType({"error": "エラー", "warning": "警告", "info": "参考", "advise": "助言",
                                    "urgent": "至急"})
SEVERITY_FROM_LABEL = MappingProxyType({v: k for k, v in SEVERITY_LABELS.items()})

STATUSES = ("accepted", "rejected", "superseded", "duplicate", "ignored", "opened")
STATUS_LABELS = MappingProxyType({"accepted": "受理", "rejected": "不受理", "superseded": "差替え済",
                                  "duplicate": "重複", "ignored": "対象外", "opened": "展開"})

LEVELS = ("prefecture", "national")
LEVEL_LABELS = MappingProxyType({"prefecture": "都道府県", "national": "全国"})

NA_TEXT = "－"  # 「該当なし」 as written in a summary and read back

# --- the summary workbook (kofu-merge) -------------------------------------------------------
OVERVIEW_SHEET = "概要"
LIST_SHEET = "市町村別一覧"
FINDINGS_SHEET = "指摘事項"
MISSING_SHEET = "未提出"
INTAKE_SHEET = "取込記録"
DATA_SHEET = "データ"
SUMMARY_META_SHEET = "_summary"
SUMMARY_SHEETS = (OVERVIEW_SHEET, LIST_SHEET, "交付枚数想定", "交付体制", "申請受付等", "補助対象経費",
                  "月次実績", "交付滞留", FINDINGS_SHEET, MISSING_SHEET, INTAKE_SHEET, DATA_SHEET)

FINDINGS_COLUMNS = ("団体コード", "都道府県名", "市区町村名", "区分", "コード", "重大度", "観点", "内容",
                    "ファイル", "シート", "セル", "項目", "入力値", "期待値", "数値")
MISSING_COLUMNS = ("団体コード", "都道府県名", "市区町村名", "様式", "種類")
INTAKE_COLUMNS = ("ファイル", "格納場所", "種類", "団体コード", "状態", "理由", "SHA-256")
DATA_COLUMNS = ("団体コード", "区分", "表", "項目", "期間", "値")
CHECKS = ("第4-1(1)", "第4-1(2)", "第4-1(3)", "第4-1(4)", "第4-2")

# --- the validation report (kofu-validate --report) and annotated copies --------------------
REPORT_FINDINGS_SHEET = "確認結果"
REPORT_FILES_SHEET = "ファイル一覧"
ANNOTATED_RESULT_SHEET = "確認結果"
RESULT_LABELS = MappingProxyType({"valid": "OK", "invalid": "NG（要修正）", "unreadable": "NG（読込不可）",
                                  "ignored": "対象外"})
