"""The one declarative definition of both forms (plan and monthly).

Everything else is derived from it: the template writer, the reader, the pandera schemas, the
summary columns, the field catalog (``kofu fields``) and the docs. A field is listed here once;
where two forms share a field (the basic block), they share the same :class:`Field` object.

Layout is part of the definition (GSA FAC style): each table has its own sheet, and every
input cell or column range has a workbook-scoped defined name, so a reader finds values by
name even when a user inserted rows above a table or moved it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from . import periods
from .cells import a1, range_ref

FORM_VERSION = "2019.1"
# Fixed document date so the same inputs give the same bytes (and the _meta "generated" value).
FORM_DATE = "2019-10-01"

STATUS_CHOICES = ("実施済", "実施予定", "検討中", "予定なし")
PUBLICITY_CHOICES = ("実施済", "実施予定", "予定なし")
DESK_CHOICES = ("設置済", "設置予定", "予定なし")
BODY_CHOICES = ("推進本部", "プロジェクトチーム", "その他", "未設置")
REVISION_CHOICES = ("当初", "改訂1", "改訂2", "改訂3", "改訂4", "改訂5")

BIG = 10**9  # upper bound for counts where the form sets none (catches typos of extra digits)


@dataclass(frozen=True, slots=True)
class Field:
    """One input: a single cell (single tables) or a column (row tables)."""

    id: str
    label: str
    type: str  # int yen month date text choice email phone code
    unit: str = ""
    required: bool = False
    choices: tuple[str, ...] = ()
    min: int | str | None = None  # int, or 'YYYY-MM' for months
    max: int | str | None = None
    prefill: bool = False  # written by the template for a known municipality, then locked
    # Required when a sibling field (same row) holds one of the values: ((field, values), ...).
    required_if: tuple[tuple[str, tuple[str, ...]], ...] = ()
    help: str = ""
    period: str | None = None  # for item×period tables: the period this column holds
    width: float = 0  # column width override
    # A level at a point in time (counters, terminals, staff, population), not an amount over a
    # period (cards issued, applications, yen): it adds up across municipalities, never across
    # periods. The summary shows it per period and at its peak period, never summed over time.
    stock: bool = False

    @property
    def numeric(self) -> bool:
        return self.type in ("int", "yen")

    @property
    def lower(self) -> int | str | None:
        """The effective lower bound: counts and yen are ≥ 0 unless said otherwise."""
        if self.min is None and self.numeric:
            return 0
        return self.min


@dataclass(frozen=True, slots=True)
class Row:
    key: str  # period ('2020-04', '2019Q4') or item id ('visit_apply')
    label: str


@dataclass(frozen=True, slots=True)
class Derived:
    """A formula column: shown to help the filler, never read back (recomputed instead)."""

    id: str
    label: str
    unit: str = ""


@dataclass(frozen=True, slots=True)
class Table:
    id: str
    sheet: str
    title: str
    fields: tuple[Field, ...]
    rows: tuple[Row, ...] = ()  # empty: a single-value table (one cell per field)
    # How a (row, field) maps to the tidy data's 項目/期間:
    #   "period": 項目 = field, 期間 = row;  "item": 項目 = "row.field", 期間 = "";
    #   "item_period": 項目 = row (item id), 期間 = the column's period.
    tidy: str = "period"
    row_header: str = ""
    derived: tuple[Derived, ...] = ()
    note: str = ""

    @property
    def single(self) -> bool:
        return not self.rows

    @property
    def over_time(self) -> bool:
        """Its rows are periods (months, quarters): a stock in it is a level per period."""
        return not self.single and self.tidy == "period"

    def field(self, fid: str) -> Field:
        for f in self.fields:
            if f.id == fid:
                return f
        raise KeyError(fid)

    def defined_name(self, field: Field) -> str:
        return f"kofu_{self.id}_{field.id}"


@dataclass(frozen=True, slots=True)
class Form:
    kind: str  # plan | monthly
    label: str  # 交付円滑化計画 / 実績報告
    tables: tuple[Table, ...]
    version: str = FORM_VERSION

    def table(self, tid: str) -> Table:
        for t in self.tables:
            if t.id == tid:
                return t
        raise KeyError(tid)


# --- layout -----------------------------------------------------------------------------------
# Zero-based rows/cols. Row 0: title, row 1: municipality, row 2: note, row 3: header.
TITLE_ROW, MUNI_ROW, NOTE_ROW, HEADER_ROW = 0, 1, 2, 3
FIRST_DATA_ROW = 4
LABEL_COL = 0  # row labels (or field labels in single tables)
FIRST_FIELD_COL = 1
SINGLE_VALUE_COL = 1
SINGLE_UNIT_COL = 2
SINGLE_HELP_COL = 3


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a field lives: a cell (single tables) or a column range (row tables)."""

    table: Table
    field: Field
    sheet: str
    first_row: int
    col: int
    nrows: int
    name: str

    @property
    def ref(self) -> str:
        return range_ref(self.sheet, self.first_row, self.col, self.first_row + self.nrows - 1, self.col)

    def cell(self, i: int = 0) -> str:
        return a1(self.first_row + i, self.col)


def placements(table: Table) -> tuple[Placement, ...]:
    if table.single:
        return tuple(
            Placement(table, f, table.sheet, FIRST_DATA_ROW + i, SINGLE_VALUE_COL, 1, table.defined_name(f))
            for i, f in enumerate(table.fields)
        )
    return tuple(
        Placement(table, f, table.sheet, FIRST_DATA_ROW, FIRST_FIELD_COL + j, len(table.rows), table.defined_name(f))
        for j, f in enumerate(table.fields)
    )


def derived_col(table: Table, did: str) -> int:
    """Column of a derived (formula) column: right after the input columns."""
    return FIRST_FIELD_COL + len(table.fields) + [d.id for d in table.derived].index(did)


# --- what a field accepts, in words ----------------------------------------------------------
# The validator's messages (E203, Finding.expected) and the template's prompts (記入欄の説明,
# Excel's input and error messages) all say it from here, from the same bounds the validator
# checks (``Field.lower`` / ``Field.max`` / ``Field.required``): they cannot disagree.


def range_text(f: Field) -> str:
    """The field's bounds in Japanese: 「1以上20,000,000以下」, 「0円以上」, 「令和元年10月以降」."""
    lo, hi = f.lower, f.max
    if f.type in ("month", "date"):
        parts = [f"{periods.wareki_month(lo)}以降" if isinstance(lo, str) else "",
                 f"{periods.wareki_month(hi)}以前" if isinstance(hi, str) else ""]
        return "・".join(p for p in parts if p)
    unit = "円" if f.type == "yen" else ""
    if isinstance(lo, int) and isinstance(hi, int):
        return f"{lo:,}{unit}以上{hi:,}{unit}以下"
    if isinstance(lo, int):
        return f"{lo:,}{unit}以上"
    return f"{hi:,}{unit}以下" if isinstance(hi, int) else ""


def expected_text(f: Field) -> str:
    """What a cell of this field must hold, in Japanese (Finding.expected)."""
    kind = {
        "int": "整数", "yen": "円単位の整数", "month": "年月（例：令和2年4月）",
        "date": "日付（例：令和2年4月1日）", "phone": "電話番号（例：011-231-4111）",
        "email": "メールアドレス", "code": "6桁の団体コード", "text": "文字",
    }.get(f.type, "")
    if f.choices:
        kind = f"選択肢（{'・'.join(f.choices)}）のいずれか"
    rng = range_text(f)
    text = f"{rng}の{kind}" if rng else kind
    return text + ("（必須）" if f.required else "")


def not_applicable_text(f: Field) -> str:
    """What to enter when nothing applies: 「－」 where the field allows it (a required cell
    holding 「－」 is E210), else 0 where 0 is in range, else nothing to say."""
    if not f.required:
        return "該当がない場合は「－」を入力してください。"
    if f.numeric and f.lower == 0:
        return "該当がない場合は0を入力してください（「－」は入力できません）。"
    return ""


_PROMPTS = {
    "int": "{range}の整数で入力してください。",
    "yen": "{range}の金額を、円単位の整数で入力してください（千円単位ではありません）。",
    "month": "{range}の年月を入力してください（例：2020/4、令和2年4月）。",
    "date": "日付を入力してください（例：2020/4/1、令和2年4月1日）。",
    "phone": "電話番号を入力してください（例：011-231-4111）。",
    "email": "メールアドレスを入力してください。",
}


def input_prompt(f: Field) -> str:
    """The prompt of an input cell: the field's own note, then what it accepts (the bounds the
    validator checks) and what to enter when nothing applies."""
    rule = _PROMPTS.get(f.type, "").format(range=range_text(f)).removeprefix("の")
    if f.numeric or f.type in ("month", "date"):
        rule += not_applicable_text(f)
    help_ = f.help if f.help and f.help not in rule else ""  # 「例：011-231-4111」 is said once
    return "\n".join(p for p in (help_, rule) if p)


# --- the catalog ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One input cell, as ``kofu fields`` prints it."""

    id: str
    table: str
    field: str
    row: str | None
    label: str
    type: str
    unit: str
    required: bool
    choices: tuple[str, ...]
    sheet: str
    cell: str
    defined_name: str
    # where in the defined range (for the reader), and the definition behind the cell
    index: int
    spec: Field

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "table": self.table,
            "field": self.field,
            "row": self.row,
            "label": self.label,
            "type": self.type,
            "unit": self.unit,
            "required": self.required,
            "choices": list(self.choices),
            "sheet": self.sheet,
            "cell": self.cell,
            "defined_name": self.defined_name,
        }


def tidy_key(table: Table, row_key: str | None, field: Field) -> tuple[str, str]:
    """(項目, 期間) of a value in the tidy データ sheet."""
    if table.single:
        return field.id, ""
    if table.tidy == "item":
        return f"{row_key}.{field.id}", ""
    if table.tidy == "item_period":
        return str(row_key), str(field.period)
    return field.id, str(row_key)


def _entries(form: Form) -> Iterator[CatalogEntry]:
    for table in form.tables:
        for p in placements(table):
            f = p.field
            if table.single:
                yield CatalogEntry(
                    f"{table.id}.{f.id}", table.id, f.id, None, f.label, f.type, f.unit,
                    f.required, f.choices, p.sheet, p.cell(), p.name, 0, f,
                )
                continue
            for i, row in enumerate(table.rows):
                item, period = tidy_key(table, row.key, f)
                if table.tidy == "item_period":
                    fid, rkey, label = item, period, f"{row.label}（{f.label}）"
                else:
                    fid, rkey, label = f.id, row.key, f"{f.label}（{row.label}）"
                yield CatalogEntry(
                    f"{table.id}.{fid}.{rkey}", table.id, fid, rkey, label, f.type, f.unit,
                    f.required, f.choices, p.sheet, p.cell(i), p.name, i, f,
                )


@cache
def catalog(kind: str) -> tuple[CatalogEntry, ...]:
    return tuple(_entries(FORMS[kind]))


@cache
def fingerprint(kind: str) -> str:
    """Hash of the layout a reader relies on: sheets, names and their shapes (not positions,
    so that inserted rows or moved tables still match)."""
    form = FORMS[kind]
    shape = [
        form.kind,
        form.version,
        [(t.sheet, [(p.name, p.nrows, p.field.type, list(p.field.choices)) for p in placements(t)])
         for t in form.tables],
    ]
    blob = json.dumps(shape, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# --- the fields -------------------------------------------------------------------------------
# Shared basic fields (both forms).
MUNI_CODE = Field("muni_code", "団体コード", "code", required=True, prefill=True,
                  help="全国地方公共団体コード（6桁、検査数字を含む）")
PREF_NAME = Field("pref_name", "都道府県名", "text", required=True, prefill=True)
MUNI_NAME = Field("muni_name", "市区町村名", "text", required=True, prefill=True)
DEPARTMENT = Field("department", "担当部署", "text", required=True, width=30)
CONTACT = Field("contact_person", "担当者", "text", required=True)
PHONE = Field("phone", "電話番号", "phone", required=True, help="例：011-231-4111")
EMAIL = Field("email", "メールアドレス", "email", required=True)
SUBMITTED_ON = Field("submitted_on", "提出日", "date", required=True, help="提出する日（未来の日付は不可）")

PLAN_BASIC = Table(
    "basic", "基本情報", "基本情報",
    (
        MUNI_CODE, PREF_NAME, MUNI_NAME, DEPARTMENT, CONTACT, PHONE, EMAIL,
        Field("population", "住民基本台帳人口", "int", "人", required=True, min=1, max=20_000_000,
              prefill=True, stock=True),
        Field("population_date", "人口の基準日", "date", required=True, prefill=True),
        Field("plan_revision", "計画の版", "choice", required=True, choices=REVISION_CHOICES,
              help="計画を改訂した場合は改訂の版を選択してください（新しい版が前の版に代わります）"),
        Field("issued_to_date", "交付済枚数（基準日時点）", "int", "枚", required=True, max=20_000_000,
              stock=True),
        Field("issued_date", "交付済枚数の基準日", "date"),
        Field("promotion_body", "推進体制", "choice", required=True, choices=BODY_CHOICES,
              help="庁内の部局横断型の推進体制（通知第1）"),
        Field("promotion_since", "推進体制の設置（予定）年月", "month",
              required_if=(("promotion_body", ("推進本部", "プロジェクトチーム", "その他")),)),
        SUBMITTED_ON,
    ),
    note="黄色のセルに入力してください。団体コード等は記入済みです。",
)

FORECAST = Table(
    "forecast", "交付枚数想定", "交付枚数の想定（通知第2-1）",
    (Field("planned_issued", "交付枚数（想定）", "int", "枚", required=True, max=10_000_000,
           help="各月の交付枚数の想定（0も入力してください）"),),
    rows=tuple(Row(m, periods.wareki_month(m)) for m in periods.months()),
    row_header="年月",
    derived=(Derived("cumulative", "累計（交付済を含む）", "枚"),
             Derived("benchmark", "国の想定に基づく目安", "枚"),
             Derived("gap", "差（累計－目安）", "枚")),
    note="全体スケジュールに沿って、令和2年7月に向けてできるだけ前倒しで想定してください。",
)

CAPACITY = Table(
    "capacity", "交付体制", "交付体制（通知第2-2）",
    (
        Field("counters", "窓口数", "int", "か所", required=True, min=1, max=1000, stock=True),
        Field("terminals", "統合端末台数", "int", "台", required=True, min=1, max=1000, stock=True),
        Field("staff_regular", "職員数（正規）", "int", "人", required=True, max=10000, stock=True),
        Field("staff_temporary", "職員数（臨時・非常勤）", "int", "人", required=True, max=10000,
              stock=True),
        Field("staff_contractor", "委託（補助業務）人数", "int", "人", required=True, max=10000,
              stock=True, help="委託は補助的業務に限ります（交付決定・審査・端末操作は不可。通知第2-2(4)）"),
        Field("weekend_days", "土日開庁日数（四半期計）", "int", "日", required=True, max=27),
        Field("evening_days", "夜間延長日数（四半期計）", "int", "日", required=True, max=66),
    ),
    rows=tuple(Row(q, periods.quarter_label(q)) for q in periods.quarters()),
    row_header="四半期",
    note="令和2年1月以降の電子証明書等の更新による窓口負担も考慮してください（通知第2-2(5)）。",
)

METHOD_ROWS = (
    ("online_promotion", "オンライン申請の推奨"),
    ("visit_apply", "申請時来庁方式"),
    ("outreach", "出張申請受付方式"),
    ("apply_support", "申請サポート方式"),
    ("counter_prompt", "来庁者への申請勧奨"),
    ("other_residents", "他市町村住民の申請受付"),
    ("restricted_mail", "本人限定受取郵便による送付体制"),
    ("outreach_care", "病院・介護施設等"),
    ("outreach_tax", "税務署との連携（確定申告会場等）"),
    ("outreach_assoc", "法人会・青色申告会等"),
    ("outreach_post", "郵便局との連携"),
    ("outreach_company", "企業等での一括申請"),
    ("model_project", "モデル事業（ハローワーク・運転免許センター・出入国在留管理局）"),
)

METHODS = Table(
    "methods", "申請受付等", "申請受付等の推進（通知第2-3）",
    (
        Field("status", "実施状況", "choice", required=True, choices=STATUS_CHOICES),
        Field("start", "開始（予定）年月", "month",
              required_if=(("status", ("実施済", "実施予定")),)),
        Field("volume", "見込件数", "int", "件", max=10_000_000),
        Field("note", "備考", "text", width=40),
    ),
    rows=tuple(Row(k, v) for k, v in METHOD_ROWS),
    tidy="item",
    row_header="取組",
    note="申請時来庁方式・出張申請受付方式は、未導入の場合は導入時期を明示し、早期の導入をお願いします。",
)

COST_ROWS = (
    ("overtime", "時間外勤務手当等"),
    ("temporary_staff", "臨時・非常勤職員等の人件費"),
    ("travel", "旅費（出張申請受付・申請サポート）"),
    ("supplies", "需用費"),
    ("postage", "役務費（本人限定受取郵便等）"),
    ("rent", "使用料及び賃借料"),
    ("terminal_lease", "統合端末の追加リース"),
    ("reservation", "交付予約サイト・電話窓口"),
    ("contracting", "委託料"),
    ("tablets", "申請受付用タブレット端末（令和元年度限り）"),
    ("printers", "モバイルプリンター（令和元年度限り）"),
    ("webcams", "ウェブカメラ（令和元年度限り）"),
    ("other", "その他"),
)
R1_ONLY_COSTS = ("tablets", "printers", "webcams")

COSTS = Table(
    "costs", "補助対象経費", "補助対象経費の見込額（通知第2-4・第3-5）",
    tuple(
        Field(fy.lower(), periods.fiscal_year_label(fy), "yen", "円", required=True,
              max=10_000_000_000, period=fy, width=18)
        for fy in ("FY2019", "FY2020")
    ),
    rows=tuple(Row(k, v) for k, v in COST_ROWS),
    tidy="item_period",
    row_header="経費の区分",
    note="円単位で入力してください（千円単位ではありません）。計上しない経費は0を入力してください。",
)

PUBLICITY_ROWS = (
    ("bulletin", "広報誌"),
    ("website", "ホームページ"),
    ("sns", "SNS"),
    ("posters", "ポスター（国の広報素材）"),
    ("hours", "周知内容：土日・夜間開庁"),
    ("visit_apply", "周知内容：申請時来庁方式"),
    ("outreach", "周知内容：出張申請受付"),
    ("support", "周知内容：申請サポート"),
    ("mykey", "周知内容：マイキーID設定支援"),
)

PUBLICITY = Table(
    "publicity", "広報", "広報（通知第2-5）",
    (Field("status", "実施状況", "choice", required=True, choices=PUBLICITY_CHOICES),),
    rows=tuple(Row(k, v) for k, v in PUBLICITY_ROWS),
    tidy="item",
    row_header="広報媒体・周知内容",
)

MYKEY = Table(
    "mykey", "マイキーID", "マイキーID設定支援（通知第2-7）",
    (
        Field("desk_near_counter", "交付窓口近辺の支援窓口", "choice", required=True,
              choices=DESK_CHOICES),
        Field("facility_support", "公共施設・商業施設での支援", "choice", required=True,
              choices=PUBLICITY_CHOICES),
        Field("support_terminals", "支援端末台数", "int", "台", max=10000, stock=True),
        Field("start", "開始（予定）年月", "month",
              required_if=(("desk_near_counter", ("設置済", "設置予定")),
                           ("facility_support", ("実施済", "実施予定")))),
    ),
)

MONTHLY_BASIC = Table(
    "basic", "基本情報", "基本情報",
    (
        MUNI_CODE, PREF_NAME, MUNI_NAME, DEPARTMENT, CONTACT, PHONE, EMAIL,
        Field("report_month", "対象月", "month", required=True,
              min=periods.FIRST_MONTH, max=periods.LAST_MONTH,
              help="報告の対象とする月（その月までの各月を入力してください）"),
        SUBMITTED_ON,
    ),
    note="黄色のセルに入力してください。団体コード等は記入済みです。",
)

ACTUALS = Table(
    "actuals", "月次実績", "交付等の実績（月別・通知第2-6）",
    (
        Field("applications", "交付申請受付数（J-LIS）", "int", "件", max=10_000_000),
        Field("delivered", "カード送付枚数（J-LISから）", "int", "枚", max=10_000_000),
        Field("setup", "交付前設定数", "int", "枚", max=10_000_000),
        Field("notices", "交付通知書送付数", "int", "件", max=10_000_000),
        Field("issued", "交付数", "int", "枚", max=10_000_000),
    ),
    rows=tuple(Row(m, periods.wareki_month(m)) for m in periods.months()),
    row_header="年月",
    derived=(Derived("backlog", "交付滞留（累計送付－累計交付）", "枚"),),
    note="各月の件数（累計ではなく当月分）を、対象月まで入力してください。該当がない場合は「－」。",
)

FORMS: dict[str, Form] = {
    "plan": Form("plan", "交付円滑化計画",
                 (PLAN_BASIC, FORECAST, CAPACITY, METHODS, COSTS, PUBLICITY, MYKEY)),
    "monthly": Form("monthly", "実績報告", (MONTHLY_BASIC, ACTUALS)),
}
KINDS = tuple(FORMS)
META_SHEET = "_meta"
META_NAME = "kofu_meta"
# written/digest: the stamp of a form the toolkit wrote unfilled or annotated (stamp.py).
META_KEYS = ("kind", "version", "muni_code", "generated", "fingerprint", "tool", "written", "digest")
INSTRUCTIONS_SHEET = "記入要領"
