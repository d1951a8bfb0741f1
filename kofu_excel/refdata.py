"""Reference data: the municipality master, the national schedule, review settings, holidays.

Everything here is data shipped under ``kofu_excel/data/`` (see ``data/SOURCES.md``), read with
:mod:`importlib.resources`, and replaceable for a run by a user's file:

- :func:`load_master` — 1,741 municipalities and 47 prefectures (codes, names, kind); a user's
  CSV/xlsx master replaces the list for that run and brings population (人口) and its date.
- :func:`load_schedule` — the national schedule (全体スケジュール) and the national population.
- :func:`load_config` — review thresholds (checks.md) and letter settings.
- :func:`holidays`, :func:`closed_days`, :func:`working_days` — the office calendar.

A file that cannot be used raises :class:`~kofu_excel.findings.KofuError` with a Japanese
message: E501 master, E502 schedule, E503 config, E504 a prefecture or municipality asked for
that the master does not hold. Nothing here prints or exits.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from fractions import Fraction
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from kofu_excel.findings import KofuError
from kofu_excel.periods import ERAS, quarter_months, wareki_month

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "BASES",
    "KINDS",
    "Master",
    "Milestone",
    "Municipality",
    "ReportedFigure",
    "ReviewConfig",
    "Schedule",
    "check_digit",
    "closed_days",
    "fold_name",
    "holiday_names",
    "holidays",
    "is_prefecture_code",
    "is_valid_code",
    "is_year_end",
    "load_config",
    "load_master",
    "load_schedule",
    "pad_code",
    "parse_date",
    "working_days",
]

E_MASTER = "E501"  # a master file that cannot be used
E_SCHEDULE = "E502"  # a schedule file that cannot be used
E_CONFIG = "E503"  # a config file that cannot be used
E_UNKNOWN = "E504"  # a prefecture / municipality that the master does not hold

KINDS = ("指定都市", "市", "特別区", "町", "村")

# Limits on a user's master file: the real one has ~1,800 rows.
MAX_MASTER_BYTES = 50 * 1024 * 1024
MAX_MASTER_ROWS = 20_000
MAX_MASTER_COLS = 64
HEADER_SCAN_ROWS = 30


def _data_text(name: str) -> str:
    return resources.files("kofu_excel").joinpath("data").joinpath(name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Codes: 全国地方公共団体コード (JIS X 0402 + check digit)
# --------------------------------------------------------------------------------------------

_WEIGHTS = (6, 5, 4, 3, 2)


def check_digit(code5: str) -> int:
    """Check digit of a 5-digit JIS X 0402 code: ``(11 - Σ w·d % 11) % 10``, w = 6..2."""
    if len(code5) != 5 or not (code5.isascii() and code5.isdigit()):
        raise ValueError(f"not a 5-digit code: {code5!r}")
    return (11 - sum(w * int(c) for w, c in zip(_WEIGHTS, code5, strict=True)) % 11) % 10


def is_valid_code(code: object) -> bool:
    """True for a 6-digit text code whose last digit is the right check digit."""
    return (
        isinstance(code, str)
        and len(code) == 6
        and code.isascii()
        and code.isdigit()
        and check_digit(code[:5]) == int(code[5])
    )


def is_prefecture_code(code: str) -> bool:
    """A prefecture's own code: ``PP000c`` (北海道 010006)."""
    return len(code) == 6 and code[2:5] == "000"


def _digits(raw: object) -> str:
    """The digits of a code cell as typed or as Excel stored it (int, 11002.0, '０１１００２')."""
    if isinstance(raw, bool) or raw is None:
        raise ValueError(f"not a code: {raw!r}")
    if isinstance(raw, int):
        if raw < 0:
            raise ValueError(f"not a code: {raw!r}")
        return str(raw)
    if isinstance(raw, float):
        if not raw.is_integer() or raw < 0:
            raise ValueError(f"not a code: {raw!r}")
        return str(int(raw))
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(raw)))
    s = re.sub(r"\.0+$", "", s)
    if not s or not (s.isascii() and s.isdigit()):
        raise ValueError(f"not a code: {raw!r}")
    return s


def _with_check(code5: str) -> str:
    return code5 + str(check_digit(code5))


def _code_candidates(raw: object) -> list[str]:
    """Every 6-digit code a cell may stand for, most likely first."""
    s = _digits(raw)
    if len(s) == 6:
        return [s]
    if len(s) == 5:
        # Either a 6-digit code whose leading 0 Excel dropped (011002 → 11002), or a 5-digit
        # JIS code without its check digit (13101 → 131016). A JIS code kept as text with its
        # leading zero (01100) can only be the latter.
        if s[0] == "0":
            return [_with_check(s)]
        zero = "0" + s
        return [zero, _with_check(s)] if is_valid_code(zero) else [_with_check(s)]
    if len(s) == 4:  # a 5-digit JIS code whose leading 0 was dropped (01100 → 1100)
        return [_with_check("0" + s)]
    raise ValueError(f"not a code: {raw!r}")


def pad_code(raw: object, width: int | None = None) -> str:
    """The 6-digit text code for a code cell: 6 digits as they are, 5 or 4 digits completed.

    ``width`` says what the column holds when the caller knows it: 6 (full codes: a 5-digit
    value lost its leading 0) or 5 (JIS codes without check digit: the check digit is added).
    Without it, a 5-digit value that reads both ways (12 codes do, e.g. 15202 = 015202 or
    152021) is resolved by the built-in master, then in favour of the dropped leading 0.
    The result is not checked: use :func:`is_valid_code` on it. Raises ``ValueError`` for
    what is no code at all.
    """
    s = _digits(raw)
    if width == 6:
        if len(s) not in (5, 6):
            raise ValueError(f"not a 6-digit code: {raw!r}")
        return s.zfill(6)
    if width == 5:
        if len(s) not in (4, 5):
            raise ValueError(f"not a 5-digit code: {raw!r}")
        return _with_check(s.zfill(5))
    if width is not None:
        raise ValueError(f"width must be 5, 6 or None, not {width!r}")
    cands = _code_candidates(s)
    if len(cands) > 1:
        known = _builtin_master().by_code
        hits = [c for c in cands if c in known]
        if len(hits) == 1:
            return hits[0]
    return cands[0]


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------

# Variant characters where the sources differ (梼原町/檮原町, 須恵町/須惠町, 龍ケ崎市/竜ヶ崎市 …).
_FOLD = str.maketrans(
    {
        "檮": "梼",
        "惠": "恵",
        "齋": "斎",
        "齊": "斎",
        "邊": "辺",
        "邉": "辺",
        "澤": "沢",
        "嶋": "島",
        "龍": "竜",
        "﨑": "崎",
    }
)
_IDEO = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
# The ケ of 茅ヶ崎 / 龍ケ崎 / 七ヵ宿: only between two kanji, so katakana words are untouched.
_KE = re.compile(rf"(?<={_IDEO})[ヶケヵカ](?={_IDEO})")


def fold_name(name: str) -> str:
    """A key for comparing names across sources: NFKC, no spaces, variant kanji and ヶ folded."""
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", name)).translate(_FOLD)
    return _KE.sub("ケ", s)


# --------------------------------------------------------------------------------------------
# The master
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Municipality:
    code: str
    pref_code: str
    pref_name: str
    name: str
    kind: str  # one of KINDS: 指定都市 / 市 / 特別区 / 町 / 村
    population: int | None = None
    population_date: date | None = None


class Master:
    """The municipalities of one run, keyed on the 6-digit code. Treat it as read-only."""

    def __init__(
        self,
        municipalities: Iterable[Municipality],
        prefectures: Mapping[str, str],
        source: str = "built-in",
    ) -> None:
        self.municipalities: tuple[Municipality, ...] = tuple(
            sorted(municipalities, key=lambda m: m.code)
        )
        self.by_code: dict[str, Municipality] = {m.code: m for m in self.municipalities}
        self.prefectures: dict[str, str] = dict(sorted(prefectures.items()))
        self.source = source
        self._by_name: dict[str, list[Municipality]] = {}
        for m in self.municipalities:
            self._by_name.setdefault(fold_name(m.name), []).append(m)
        self._pref_alias: dict[str, str] = {}
        for pp, name in self.prefectures.items():
            folded = fold_name(name)
            self._pref_alias[folded] = pp
            if folded[-1:] in ("都", "府", "県"):
                self._pref_alias[folded[:-1]] = pp

    def __len__(self) -> int:
        return len(self.municipalities)

    def pref(self, query: str | int) -> str:
        """2-digit prefecture code for '01', 1, '010006', '01000', '北海道', '東京', '大阪' …"""
        s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(query)))
        pp: str | None = None
        if s.isascii() and s.isdigit():
            if len(s) <= 2:
                pp = s.zfill(2)
            elif (len(s) == 6 and is_prefecture_code(s) and is_valid_code(s)) or (
                len(s) == 5 and s[2:] == "000"  # a JIS prefecture code: 01000
            ):
                pp = s[:2]
            elif len(s) == 5 and s[1:4] == "000" and is_valid_code("0" + s):  # 010006 as 10006
                pp = "0" + s[0]
        else:
            pp = self._pref_alias.get(fold_name(s))
        if pp is None or pp not in self.prefectures:
            raise KofuError(
                E_UNKNOWN,
                f"都道府県「{query}」が見つかりません"
                "（2桁の都道府県コード、団体コード（例: 010006）、または都道府県名で指定してください）",
            )
        return pp

    def find_by_name(self, name: str, pref_code: str | int | None = None) -> list[Municipality]:
        """Municipalities of that name (after :func:`fold_name`), in code order.

        A name may carry its prefecture in front (北海道伊達市). Several hits mean the name
        exists in several prefectures (伊達市, 府中市 …): pass ``pref_code`` to narrow it.
        """
        pp = self.pref(pref_code) if pref_code is not None else None
        key = fold_name(name)
        hits = self._by_name.get(key, [])
        if not hits:
            for alias, p in self._pref_alias.items():
                if key.startswith(alias) and len(key) > len(alias):
                    rest = [m for m in self._by_name.get(key[len(alias) :], []) if m.pref_code == p]
                    if rest:
                        hits = rest
                        break
        return [m for m in hits if pp is None or m.pref_code == pp]

    def select(
        self, pref: str | int | None = None, munis: Iterable[str | int] | None = None
    ) -> list[Municipality]:
        """The municipalities of a prefecture, or the ones asked for by code or name, by code.

        With both, every one asked for must lie in that prefecture. Anything unknown or
        ambiguous raises :class:`KofuError` E504.
        """
        pp = self.pref(pref) if pref is not None else None
        if munis is None:
            return [m for m in self.municipalities if pp is None or m.pref_code == pp]
        chosen: dict[str, Municipality] = {}
        for q in munis:
            m = self._resolve(q, pp)
            chosen[m.code] = m
        return [chosen[c] for c in sorted(chosen)]

    def _resolve(self, query: str | int, pp: str | None) -> Municipality:
        where = f"（{self.prefectures[pp]}）" if pp else ""
        try:
            cands = _code_candidates(query)
        except ValueError:
            hits = self.find_by_name(str(query), pp)
        else:
            hits = [self.by_code[c] for c in cands if c in self.by_code]
            if pp is not None and hits and all(m.pref_code != pp for m in hits):
                raise KofuError(
                    E_UNKNOWN, f"団体コード「{query}」は{self.prefectures[pp]}の団体ではありません"
                )
            hits = [m for m in hits if pp is None or m.pref_code == pp]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise KofuError(E_UNKNOWN, f"市区町村「{query}」が名簿{where}にありません")
        listed = "、".join(f"{m.code} {m.pref_name}{m.name}" for m in hits)
        raise KofuError(
            E_UNKNOWN,
            f"市区町村「{query}」に当てはまる団体が複数あります（{listed}）: 団体コードで指定してください",
        )


@cache
def _builtin_prefectures() -> dict[str, str]:
    rows = csv.DictReader(io.StringIO(_data_text("prefectures.csv")))
    return {r["都道府県コード"]: r["都道府県名"] for r in rows}


@cache
def _builtin_master() -> Master:
    rows = csv.DictReader(io.StringIO(_data_text("municipalities.csv")))
    munis = [
        Municipality(
            r["団体コード"], r["都道府県コード"], r["都道府県名"], r["市区町村名"], r["種別"]
        )
        for r in rows
    ]
    return Master(munis, _builtin_prefectures(), source="built-in")


def load_master(path: str | Path | None = None) -> Master:
    """The built-in master (``None``; cached), or a user's CSV/xlsx master for this run.

    A user's file: columns 団体コード, 市区町村名, 人口 (optional), 人口基準日 (optional) — or
    code, name, population, population_date — under a header row (title rows above it are
    skipped). Codes may be 6 or 5 digits, text or numbers. Rows with a blank code, a
    prefecture's code or a designated-city ward's code are skipped; a code that is not a
    municipality of the built-in list is an error (E501), as the list has not changed since
    2019. Its rows replace the built-in list for the run (the user's names are kept); kind
    comes from the built-in list, prefecture names from the built-in prefectures.
    """
    if path is None:
        return _builtin_master()
    p = Path(path)
    rows = _read_master_rows(p)
    return _master_from_rows(rows, p.name)


def _master_error(fname: str, detail: str) -> KofuError:
    return KofuError(E_MASTER, f"名簿ファイル {fname}: {detail}")


def _read_master_rows(p: Path) -> list[tuple[int, list[Any]]]:
    """(1-based row number, cells) of the file's first usable sheet."""
    if not p.is_file():
        raise _master_error(p.name, "ファイルが見つかりません")
    if p.stat().st_size > MAX_MASTER_BYTES:
        raise _master_error(p.name, "ファイルが大きすぎます（50MB まで）")
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        sheets = _read_xlsx(p)
    elif suffix in (".csv", ".txt", ".tsv"):
        sheets = [_read_csv(p)]
    else:
        raise _master_error(p.name, "CSV（.csv）または Excel ブック（.xlsx）で保存してください")
    for rows in sheets:
        if _find_header(rows) is not None:
            return rows
    raise _master_error(p.name, "見出し行（「団体コード」の列）が見つかりません")


def _read_csv(p: Path) -> list[tuple[int, list[Any]]]:
    data = p.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp932")
        except UnicodeDecodeError:
            raise _master_error(
                p.name, "文字コードを判別できません（UTF-8 または Shift_JIS で保存してください）"
            ) from None
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    out: list[tuple[int, list[Any]]] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        for row in reader:
            if len(out) >= MAX_MASTER_ROWS:
                raise _master_error(p.name, f"行数が多すぎます（{MAX_MASTER_ROWS:,}行まで）")
            out.append((reader.line_num, list(row[:MAX_MASTER_COLS])))
    except csv.Error as e:
        raise _master_error(p.name, f"CSV として読み込めません（{e}）") from None
    return out


def openpyxl_defused() -> bool:
    """True when openpyxl parses XML through defusedxml (quality.md: checked before openpyxl
    reads any untrusted file; ``OPENPYXL_DEFUSEDXML=False`` or a missing defusedxml turns it off)."""
    import openpyxl.xml

    return bool(openpyxl.xml.DEFUSEDXML)


def _read_xlsx(p: Path) -> list[list[tuple[int, list[Any]]]]:
    import io
    import zlib
    from xml.etree.ElementTree import ParseError
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    from kofu_excel.formats import check_workbook

    if not openpyxl_defused():
        raise _master_error(p.name, "openpyxl が defusedxml を使わない設定のため（OPENPYXL_DEFUSEDXML=False など）、"
                                    "安全のため xlsx は読み込みません。CSV で指定してください")
    data = p.read_bytes()
    # The same pre-check as every submitted workbook: zip bombs, overlapping or duplicate
    # members, far-away cells are refused before openpyxl inflates anything.
    problem = check_workbook(data, "xlsx")
    if problem is not None:
        raise _master_error(p.name, f"{problem[1]}（{problem[0]}）")
    broken = (BadZipFile, InvalidFileException, KeyError, OSError, ValueError, EOFError,
              zlib.error, ParseError)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except broken as e:
        raise _master_error(
            p.name, f"Excel ブックとして読み込めません（{type(e).__name__}）"
        ) from None
    try:
        sheets = [wb.active, *[ws for ws in wb.worksheets if ws is not wb.active]]
        out: list[list[tuple[int, list[Any]]]] = []
        for ws in sheets:
            if ws is None or not hasattr(ws, "reset_dimensions"):
                continue
            ws.reset_dimensions()  # read-only mode trusts <dimension>, which may lie
            rows: list[tuple[int, list[Any]]] = []
            for i, row in enumerate(ws.iter_rows(max_col=MAX_MASTER_COLS, values_only=True), 1):
                if i > MAX_MASTER_ROWS:
                    raise _master_error(p.name, f"行数が多すぎます（{MAX_MASTER_ROWS:,}行まで）")
                rows.append((i, list(row)))
            out.append(rows)
        return out
    except broken as e:  # read-only mode parses each sheet only now
        raise _master_error(
            p.name, f"Excel ブックとして読み込めません（{type(e).__name__}）"
        ) from None
    finally:
        wb.close()


_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "code": (
        "団体コード",
        "code",
        "全国地方公共団体コード",
        "地方公共団体コード",
        "市区町村コード",
        "市町村コード",
        "lgcode",
    ),
    "name": ("市区町村名", "name", "市町村名", "団体名"),
    "population": ("人口", "population", "住民基本台帳人口"),
    "population_date": ("人口基準日", "population_date", "基準日"),
}
_HEADER_KEYS = {alias.lower(): key for key, aliases in _HEADER_ALIASES.items() for alias in aliases}


def _header_key(cell: Any) -> str | None:
    if cell is None:
        return None
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(cell))).lower()
    s = re.sub(r"\(.*?\)$", "", s)  # 人口(人)
    return _HEADER_KEYS.get(s)


def _find_header(rows: list[tuple[int, list[Any]]]) -> tuple[int, dict[str, int]] | None:
    for i, (_n, row) in enumerate(rows[:HEADER_SCAN_ROWS]):
        cols: dict[str, int] = {}
        for j, cell in enumerate(row):
            key = _header_key(cell)
            if key and key not in cols:
                cols[key] = j
        if "code" in cols:
            return i, cols
    return None


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _cell_text(v: Any) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(v)))


def _guess_width(cells: list[tuple[Any, Any]]) -> int | None:
    """Whether a code column holds 6-digit codes (6) or 5-digit JIS codes (5), or can't tell."""
    digits: list[tuple[str, Any]] = []
    for code, name in cells:
        try:
            digits.append((_digits(code), name))
        except ValueError:
            continue
    has6 = any(len(d) == 6 for d, _ in digits)
    has5 = any(len(d) == 4 or (len(d) == 5 and d[0] == "0") for d, _ in digits)
    if has6 != has5:
        return 6 if has6 else 5
    if has6:
        return None
    # Only 5-digit values without a leading 0: score both readings against the built-in list.
    builtin = _builtin_master()
    prefs = {pp + "000" for pp in builtin.prefectures}

    def score(code: str, name: Any) -> int:
        if code[:5] in prefs and is_valid_code(code):
            return 1
        m = builtin.by_code.get(code)
        if m is None:
            return 0
        return 2 if not _blank(name) and fold_name(str(name)) == fold_name(m.name) else 1

    s6 = sum(score("0" + d, n) for d, n in digits if len(d) == 5 and is_valid_code("0" + d))
    s5 = sum(score(_with_check(d), n) for d, n in digits if len(d) == 5)
    if s6 != s5:
        return 6 if s6 > s5 else 5
    return None


_NA = {"-", "－", "―", "ー", "—", "–"}


def _parse_population(v: Any) -> int | None:
    if _blank(v):
        return None
    if isinstance(v, bool):
        raise ValueError
    if isinstance(v, int):
        n = v
    elif isinstance(v, float):
        if not v.is_integer():
            raise ValueError
        n = int(v)
    else:
        s = str(v).strip()
        if s in _NA:
            return None
        s = _cell_text(s)
        s = re.sub(r"人$", "", s)
        if not re.fullmatch(r"\d{1,3}(,\d{3})*|\d+", s):
            raise ValueError
        n = int(s.replace(",", ""))
    if n <= 0:
        raise ValueError
    return n


_EXCEL_EPOCH = date(1899, 12, 30)
_ERA_BY_NAME = {name: start for name, _abbr, start in ERAS} | {
    abbr: start for _name, abbr, start in ERAS
}
_ERA_NAMES = {abbr: name for name, abbr, _start in ERAS}


def parse_date(v: Any) -> date | None:
    """A date cell: a date/datetime, an Excel serial, 2020/1/1, 2020-01-01, 2020年1月1日,
    20200101, 令和2年1月1日, 令和元年10月1日, R2.1.1, H31.4.1. Blank → None; else ValueError."""
    if _blank(v):
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    if isinstance(v, bool):
        raise ValueError
    if isinstance(v, (int, float)):
        if not float(v).is_integer() or not 32874 <= v <= 73050:  # 1990-01-01 … 2099-12-31
            raise ValueError
        return _EXCEL_EPOCH + timedelta(days=int(v))
    s = unicodedata.normalize("NFKC", str(v)).strip()
    s = _cell_text(re.sub(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", "", s))  # drop a time part
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", s) or re.fullmatch(
        r"(\d{4})(\d{2})(\d{2})", s
    )
    if m:
        return date(int(m[1]), int(m[2]), int(m[3]))
    m = re.fullmatch(r"(令和|平成|昭和|[RHSrhs])(元|\d{1,2})[年./-](\d{1,2})[月./-](\d{1,2})日?", s)
    if m:
        era = _ERA_NAMES.get(m[1].upper(), m[1])
        start = _ERA_BY_NAME[era]
        d = date(start.year + (1 if m[2] == "元" else int(m[2])) - 1, int(m[3]), int(m[4]))
        if d < start:
            raise ValueError
        return d
    raise ValueError


@cache
def _designated_jis() -> tuple[int, ...]:
    return tuple(int(m.code[:5]) for m in _builtin_master().municipalities if m.kind == "指定都市")


def _is_ward_code(code: str) -> bool:
    """A ward of a designated city: JIS X 0402 numbers them city + 1 … (札幌市 01100 → 中央区
    01101), and no municipality's code falls in those blocks (cities start at 201)."""
    n = int(code[:5])
    return any(0 < n - city < 30 for city in _designated_jis())


def _master_from_rows(rows: list[tuple[int, list[Any]]], fname: str) -> Master:
    header = _find_header(rows)
    assert header is not None  # _read_master_rows returns only a sheet with a header
    start, cols = header
    body = rows[start + 1 :]

    def cell(row: list[Any], key: str) -> Any:
        j = cols.get(key)
        return row[j] if j is not None and j < len(row) else None

    width = _guess_width([(cell(r, "code"), cell(r, "name")) for _n, r in body])
    builtin = _builtin_master()
    prefs = _builtin_prefectures()
    seen: dict[str, int] = {}
    munis: list[Municipality] = []
    for n, row in body:
        raw = cell(row, "code")
        if _blank(raw):
            continue
        try:
            code = pad_code(raw, width)
        except ValueError:
            raise _master_error(fname, f"{n}行目: 団体コード「{raw}」が正しくありません") from None
        if not is_valid_code(code):
            raise _master_error(fname, f"{n}行目: 団体コード「{raw}」の検査数字が正しくありません")
        if is_prefecture_code(code):
            continue
        pp = code[:2]
        if pp not in prefs:
            raise _master_error(
                fname, f"{n}行目: 団体コード「{raw}」の都道府県コード {pp} がありません"
            )
        if code in seen:
            raise _master_error(
                fname, f"{n}行目: 団体コード {code} が{seen[code]}行目と重複しています"
            )
        seen[code] = n
        known = builtin.by_code.get(code)
        if known is None:
            if _is_ward_code(code):  # a ward of a designated city: not a submitter
                continue
            # The list of municipal codes has not changed since 2019: an unknown code is a typo.
            raise _master_error(
                fname, f"{n}行目: 団体コード「{raw}」（{code}）は市区町村の一覧にありません"
            )
        name_cell = cell(row, "name")
        name = (
            known.name
            if _blank(name_cell)
            else unicodedata.normalize("NFKC", str(name_cell)).strip()
        )
        try:
            population = _parse_population(cell(row, "population"))
        except ValueError:
            raise _master_error(
                fname, f"{n}行目: 人口「{cell(row, 'population')}」は1以上の整数で入力してください"
            ) from None
        try:
            population_date = parse_date(cell(row, "population_date"))
        except ValueError:
            raise _master_error(
                fname,
                f"{n}行目: 人口基準日「{cell(row, 'population_date')}」を日付として読めません"
                "（例: 2020/1/1、令和2年1月1日）",
            ) from None
        munis.append(
            Municipality(code, pp, prefs[pp], name, known.kind, population, population_date)
        )
    if not munis:
        raise _master_error(fname, "市区町村の行がありません")
    return Master(munis, prefs, source=fname)


# --------------------------------------------------------------------------------------------
# The national schedule
# --------------------------------------------------------------------------------------------

BASES = ("low", "high", "mid")


@dataclass(frozen=True)
class Milestone:
    month: str  # YYYY-MM: the figure is cumulative to the end of that month
    low: int
    high: int
    label: str
    note: str = ""


@dataclass(frozen=True)
class ReportedFigure:
    """A reported national actual (for realism checks, never a benchmark)."""

    as_of: date
    cards: int | None
    rate: float | None
    note: str = ""


@dataclass(frozen=True)
class Schedule:
    milestones: tuple[Milestone, ...]
    national_population: int
    population_date: date
    basis: str = "low"  # which figure R1 compares against: low / high / mid
    population_source: str = ""
    reported: tuple[ReportedFigure, ...] = ()

    @property
    def months(self) -> tuple[str, ...]:
        return tuple(m.month for m in self.milestones)

    def milestone(self, month: str) -> Milestone:
        for m in self.milestones:
            if m.month == month:
                return m
        raise KeyError(f"no milestone for {month}")

    def figure(self, month: str) -> Fraction:
        """The national cumulative figure of ``month`` per :attr:`basis`."""
        m = self.milestone(month)
        if self.basis == "high":
            return Fraction(m.high)
        if self.basis == "mid":
            return Fraction(m.low + m.high, 2)
        return Fraction(m.low)

    def rate(self, month: str) -> float:
        """Figure ÷ national population: the share of residents expected to hold a card."""
        return float(self.figure(month) / self.national_population)

    def benchmark(self, population: int, month: str) -> int:
        """A municipality's expected cumulative cards: population × rate, rounded half up."""
        x = population * self.figure(month) / self.national_population
        return (2 * x.numerator + x.denominator) // (2 * x.denominator)


_SCHEDULE_KEYS = {
    "benchmark",
    "national_population",
    "population_date",
    "population_source",
    "milestones",
    "reported",
}
_MILESTONE_KEYS = {"month", "low", "high", "label", "note"}
_REPORTED_KEYS = {"as_of", "cards", "rate", "note"}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_month(v: Any) -> bool:
    return isinstance(v, str) and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", v) is not None


def _toml_date(v: Any) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    if isinstance(v, str):
        return date.fromisoformat(v)
    raise ValueError


def _read_toml(text: str, what: str, code: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise KofuError(code, f"{what}: TOML として読み込めません（{e}）") from None


def _read_user_toml(path: str | Path, what: str, code: str) -> dict[str, Any]:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError:
        raise KofuError(code, f"{what} {p.name}: ファイルが見つからないか読み込めません") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise KofuError(code, f"{what} {p.name}: UTF-8 で保存してください") from None
    return _read_toml(text, f"{what} {p.name}", code)


@cache
def _builtin_schedule_data() -> dict[str, Any]:
    return _read_toml(_data_text("schedule.toml"), "組み込みのスケジュール", E_SCHEDULE)


@cache
def _builtin_schedule() -> Schedule:
    return _schedule_from(_builtin_schedule_data(), "組み込みのスケジュール")


def load_schedule(path: str | Path | None = None) -> Schedule:
    """The built-in national schedule, or it overlaid by a user's TOML of the same format.

    Top-level keys the user's file gives replace the built-in ones; a ``[[milestones]]`` list
    replaces the whole list. Anything unusable raises :class:`KofuError` E502.
    """
    if path is None:
        return _builtin_schedule()
    what = f"スケジュールファイル {Path(path).name}"
    user = _read_user_toml(path, "スケジュールファイル", E_SCHEDULE)
    for key in user:
        if key not in _SCHEDULE_KEYS:
            raise KofuError(E_SCHEDULE, f"{what}: 「{key}」は不明な項目です")
    return _schedule_from({**_builtin_schedule_data(), **user}, what)


def _schedule_from(d: Mapping[str, Any], what: str) -> Schedule:
    def bad(detail: str) -> KofuError:
        return KofuError(E_SCHEDULE, f"{what}: {detail}")

    basis = d.get("benchmark", "low")
    if basis not in BASES:
        raise bad(f"benchmark は {' / '.join(BASES)} のいずれかで指定してください（{basis!r}）")
    pop = d.get("national_population")
    if not _is_int(pop) or pop <= 0:
        raise bad("national_population は1以上の整数で指定してください")
    try:
        pop_date = _toml_date(d.get("population_date"))
    except (ValueError, TypeError):
        raise bad("population_date は日付（例: 2020-01-01）で指定してください") from None
    source = d.get("population_source", "")
    if not isinstance(source, str):
        raise bad("population_source は文字列で指定してください")

    raw = d.get("milestones")
    if not isinstance(raw, list) or not raw:
        raise bad("milestones（[[milestones]]）が1つもありません")
    milestones: list[Milestone] = []
    for i, m in enumerate(raw, 1):
        where = f"milestones の{i}番目"
        if not isinstance(m, dict):
            raise bad(f"{where}が表になっていません")
        for key in m:
            if key not in _MILESTONE_KEYS:
                raise bad(f"{where}: 「{key}」は不明な項目です")
        month = m.get("month")
        if not _is_month(month):
            raise bad(f"{where}: month は YYYY-MM（例: 2020-07）で指定してください")
        low, high = m.get("low"), m.get("high")
        if not (_is_int(low) and _is_int(high) and 0 <= low <= high):
            raise bad(f"{where}: low と high は 0 以上の整数で、low ≦ high としてください")
        label, note = m.get("label", f"{wareki_month(month)}末"), m.get("note", "")
        if not isinstance(label, str) or not isinstance(note, str):
            raise bad(f"{where}: label と note は文字列で指定してください")
        if milestones:
            prev = milestones[-1]
            if month <= prev.month:
                raise bad(f"{where}: month は古い順に、重複なく並べてください")
            if low < prev.low or high < prev.high:
                raise bad(f"{where}: 累計の想定が前の時点（{prev.month}）より減っています")
        milestones.append(Milestone(month, low, high, label, note))

    reported: list[ReportedFigure] = []
    for i, r in enumerate(d.get("reported", []) or [], 1):
        where = f"reported の{i}番目"
        if not isinstance(r, dict):
            raise bad(f"{where}が表になっていません")
        for key in r:
            if key not in _REPORTED_KEYS:
                raise bad(f"{where}: 「{key}」は不明な項目です")
        try:
            as_of = _toml_date(r.get("as_of"))
        except (ValueError, TypeError):
            raise bad(f"{where}: as_of は日付で指定してください") from None
        cards, rate, note = r.get("cards"), r.get("rate"), r.get("note", "")
        if cards is not None and not (_is_int(cards) and cards >= 0):
            raise bad(f"{where}: cards は 0 以上の整数で指定してください")
        if rate is not None and not (_is_number(rate) and 0 <= rate <= 1):
            raise bad(f"{where}: rate は 0 ～ 1 の数で指定してください")
        if not isinstance(note, str):
            raise bad(f"{where}: note は文字列で指定してください")
        reported.append(
            ReportedFigure(as_of, cards, float(rate) if rate is not None else None, note)
        )
    return Schedule(tuple(milestones), pop, pop_date, basis, source, tuple(reported))


# --------------------------------------------------------------------------------------------
# Review settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewConfig:
    """Review thresholds of checks.md (section of review.toml in brackets) and letter settings."""

    tol: float  # [r1] shortfall tolerated below the schedule benchmark
    front_share: float  # [r1] share of the forecast to 2021-03 expected before 2020-08
    cards_per_terminal_day: float  # [r2] cards one terminal issues per working day
    renewal_share: float  # [r2] yearly renewals as a share of cards issued so far
    urgent_ratio: float  # [r2] forecast / capacity above this → urgent
    evening_weight: float  # [r2] an evening extension as a share of a working day
    method_deadline: str  # [r3] YYYY-MM: methods starting after it → advise
    backlog_months: float  # [f1] backlog above this many months of issuance → urgent
    plan_ratio: float  # [f1] cumulative issued below this share of plan → advise
    letters: dict[str, Any] = field(default_factory=dict)  # [letters] sender, contact, doc_number …
    # [limits] overrides of intake.Limits (sizes, ratios, depths) — only what the user set.
    limits: dict[str, float] = field(default_factory=dict)

    def intake_limits(self) -> Any:
        """The intake bounds: the defaults of intake.Limits with this file's [limits] applied."""
        from kofu_excel.formats import Limits

        return Limits(**self.limits)


# field → (section, lowest allowed, highest allowed, lowest is exclusive)
_CONFIG_NUMBERS: dict[str, tuple[str, float, float, bool]] = {
    "tol": ("r1", 0.0, 1.0, False),
    "front_share": ("r1", 0.0, 1.0, False),
    "cards_per_terminal_day": ("r2", 0.0, 10_000.0, True),
    "renewal_share": ("r2", 0.0, 1.0, False),
    "urgent_ratio": ("r2", 1.0, 100.0, False),
    "evening_weight": ("r2", 0.0, 1.0, False),
    "backlog_months": ("f1", 0.0, 120.0, True),
    "plan_ratio": ("f1", 0.0, 1.0, True),
}


@cache
def _builtin_config_data() -> dict[str, Any]:
    return _read_toml(_data_text("review.toml"), "組み込みの設定", E_CONFIG)


@cache
def _builtin_config() -> ReviewConfig:
    return _config_from(_builtin_config_data(), "組み込みの設定")


def load_config(path: str | Path | None = None) -> ReviewConfig:
    """The built-in review settings, overlaid by a user's TOML (only keys it knows: E503)."""
    if path is None:
        return _builtin_config()
    what = f"設定ファイル {Path(path).name}"
    user = _read_user_toml(path, "設定ファイル", E_CONFIG)
    base = _builtin_config_data()
    merged = {section: dict(values) for section, values in base.items()}
    limits = _limits_from(user.pop("limits", {}), what)
    for section, values in user.items():
        if section not in base:
            raise KofuError(E_CONFIG, f"{what}: [{section}] は不明な項目です")
        if not isinstance(values, dict):
            raise KofuError(E_CONFIG, f"{what}: {section} は表（[{section}]）で指定してください")
        for key, value in values.items():
            if key not in base[section]:
                raise KofuError(E_CONFIG, f"{what}: [{section}] の「{key}」は不明な項目です")
            default = base[section][key]
            if isinstance(default, str):
                ok = isinstance(value, str)
            elif section == "letters":  # seq_start: a whole number
                ok = _is_int(value)
            else:
                ok = _is_number(value)
            if not ok:
                raise KofuError(
                    E_CONFIG,
                    f"{what}: [{section}] {key} の値 {value!r} の型が違います"
                    f"（{type(default).__name__} で指定してください）",
                )
            merged[section][key] = value
    return replace(_config_from(merged, what), limits=limits)


def _limits_from(values: Any, what: str) -> dict[str, float]:
    """[limits]: intake's bounds, each a positive finite number (raised or lowered, never off)."""
    from dataclasses import fields

    from kofu_excel.formats import Limits

    if not isinstance(values, dict):
        raise KofuError(E_CONFIG, f"{what}: limits は表（[limits]）で指定してください")
    known = {f.name: f.type for f in fields(Limits)}
    out: dict[str, float] = {}
    for key, value in values.items():
        if key not in known:
            raise KofuError(E_CONFIG, f"{what}: [limits] の「{key}」は不明な項目です"
                                      f"（指定できるもの：{'、'.join(known)}）")
        whole = key != "max_ratio"
        if not (_is_int(value) if whole else _is_number(value)) or not 0 < value < 2**63:
            kind = "1 以上の整数" if whole else "0 より大きい数"
            raise KofuError(E_CONFIG, f"{what}: [limits] {key} は {kind}で指定してください（{value!r}）")
        out[key] = value
    return out


def _config_from(d: Mapping[str, Any], what: str) -> ReviewConfig:
    def bad(detail: str) -> KofuError:
        return KofuError(E_CONFIG, f"{what}: {detail}")

    values: dict[str, Any] = {}
    for name, (section, lo, hi, exclusive) in _CONFIG_NUMBERS.items():
        v = d.get(section, {}).get(name)
        if not _is_number(v) or v > hi or v < lo or (exclusive and v == lo):
            rng = f"{lo:g} より大きく {hi:g} 以下" if exclusive else f"{lo:g} 以上 {hi:g} 以下"
            raise bad(f"[{section}] {name} は {rng} の数で指定してください（{v!r}）")
        values[name] = float(v)
    deadline = d.get("r3", {}).get("method_deadline")
    if not _is_month(deadline):
        raise bad(
            f"[r3] method_deadline は YYYY-MM（例: 2020-03）で指定してください（{deadline!r}）"
        )
    letters = dict(d.get("letters", {}))
    try:
        str(letters.get("doc_number", "")).format(seq=1)
    except (KeyError, IndexError, ValueError):
        raise bad("[letters] doc_number に使える差し込みは {seq} だけです") from None
    if not _is_int(letters.get("seq_start", 1)) or letters.get("seq_start", 1) < 0:
        raise bad("[letters] seq_start は 0 以上の整数で指定してください")
    if letters.get("date"):
        try:
            date.fromisoformat(str(letters["date"]))
        except ValueError:
            raise bad("[letters] date は YYYY-MM-DD で指定してください（空なら作成日）") from None
    return ReviewConfig(method_deadline=deadline, letters=letters, **values)


# --------------------------------------------------------------------------------------------
# The office calendar
# --------------------------------------------------------------------------------------------

# holidays.csv covers exactly this span.
HOLIDAYS_FIRST = date(2019, 10, 1)
HOLIDAYS_LAST = date(2023, 3, 31)


@cache
def holiday_names() -> dict[date, str]:
    """Public holidays 2019-10-01 … 2023-03-31 (国民の祝日, 振替休日, 国民の休日) → name."""
    rows = csv.DictReader(io.StringIO(_data_text("holidays.csv")))
    return {date.fromisoformat(r["date"]): r["name"] for r in rows}


@cache
def holidays() -> frozenset[date]:
    return frozenset(holiday_names())


def is_year_end(d: date) -> bool:
    """年末年始 (12-29 … 01-03): not public holidays, but offices are closed by ordinance."""
    return (d.month == 12 and d.day >= 29) or (d.month == 1 and d.day <= 3)


def closed_days(first: date, last: date) -> set[date]:
    """Days in ``first … last`` (inclusive) on which a municipal office is normally closed:
    Saturdays, Sundays, public holidays and the year-end closure (12-29 … 01-03).

    Raises ``ValueError`` outside the span whose holidays are known (2019-10 … 2023-03).
    """
    if first > last:
        return set()
    if first < HOLIDAYS_FIRST or last > HOLIDAYS_LAST:
        raise ValueError(f"holidays are known for {HOLIDAYS_FIRST} … {HOLIDAYS_LAST} only")
    hol = holidays()
    out: set[date] = set()
    d = first
    while d <= last:
        if d.weekday() >= 5 or d in hol or is_year_end(d):
            out.add(d)
        d += timedelta(days=1)
    return out


def _quarter_span(quarter: str) -> tuple[date, date]:
    if not re.fullmatch(r"\d{4}Q[1-4]", quarter):
        raise ValueError(f"not a quarter key (YYYYQn): {quarter!r}")
    first_month, _m2, last_month = quarter_months(quarter)
    first = date(int(first_month[:4]), int(first_month[5:]), 1)
    y, m = int(last_month[:4]), int(last_month[5:])
    last = date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1)
    return first, last


def working_days(quarter: str) -> int:
    """Working days of a calendar quarter (2019Q4): weekdays less public holidays and the
    year-end closure."""
    first, last = _quarter_span(quarter)
    return (last - first).days + 1 - len(closed_days(first, last))
