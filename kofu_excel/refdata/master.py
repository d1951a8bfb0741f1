"""The municipality master: 1,741 municipalities and 47 prefectures (code, name, kind), and a
user's CSV/xlsx master that replaces the list for a run and brings population (人口) and its date.

A user's file is untrusted input: bounded in bytes, rows and columns, and an xlsx passes the same
pre-check as a submitted workbook before openpyxl opens it. Unusable files raise E501; a
prefecture or municipality the master does not hold, E504.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from kofu_excel.findings import KofuError
from kofu_excel.periods import ERAS

from .codes import (
    code_candidates,
    code_digits,
    fold_name,
    is_prefecture_code,
    is_valid_code,
    pad_code,
    with_check,
)
from .settings import data_text

__all__ = [
    "E_MASTER",
    "E_UNKNOWN",
    "KINDS",
    "Master",
    "Municipality",
    "builtin_master",
    "load_master",
    "openpyxl_defused",
    "parse_date",
]

E_MASTER = "E501"  # a master file that cannot be used
E_UNKNOWN = "E504"  # a prefecture / municipality that the master does not hold

KINDS = ("指定都市", "市", "特別区", "町", "村")
DESIGNATED_CITY = KINDS[0]

# Limits on a user's master file: the real one has ~1,800 rows.
MAX_MASTER_BYTES = 50 * 1024 * 1024
MAX_MASTER_ROWS = 20_000
MAX_MASTER_COLS = 64
HEADER_SCAN_ROWS = 30


@dataclass(frozen=True)
class Municipality:
    code: str
    pref_code: str
    pref_name: str
    name: str
    kind: str  # one of KINDS: 指定都市 / 市 / 特別区 / 町 / 村
    population: int | None = None
    population_date: date | None = None

    @property
    def designated(self) -> bool:
        """A designated city (指定都市): the notice reaches it from the state directly."""
        return self.kind == DESIGNATED_CITY


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
            cands = code_candidates(query)
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
    rows = csv.DictReader(io.StringIO(data_text("prefectures.csv")))
    return {r["都道府県コード"]: r["都道府県名"] for r in rows}


@cache
def builtin_master() -> Master:
    rows = csv.DictReader(io.StringIO(data_text("municipalities.csv")))
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
        return builtin_master()
    p = Path(path)
    rows = _read_master_rows(p)
    return _master_from_rows(rows, p.name)


def _master_error(fname: str, detail: str) -> KofuError:
    return KofuError(E_MASTER, f"名簿ファイル {fname}: {detail}")


def _read_master_rows(p: Path) -> list[tuple[int, list[Any]]]:
    """(1-based row number, cells) of the file's first usable sheet."""
    from ..sidefiles import read_side_file

    data = read_side_file(p, "名簿ファイル", E_MASTER, MAX_MASTER_BYTES)  # a regular file, bounded
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        sheets = _read_xlsx(p, data)
    elif suffix in (".csv", ".txt", ".tsv"):
        sheets = [_read_csv(p, data)]
    else:
        raise _master_error(p.name, "CSV（.csv）または Excel ブック（.xlsx）で保存してください")
    for rows in sheets:
        if _find_header(rows) is not None:
            return rows
    raise _master_error(p.name, "見出し行（「団体コード」の列）が見つかりません")


def _read_csv(p: Path, data: bytes) -> list[tuple[int, list[Any]]]:
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
    """True when openpyxl parses XML through defusedxml (docs/spec/quality.md: checked before openpyxl
    reads any untrusted file; ``OPENPYXL_DEFUSEDXML=False`` or a missing defusedxml turns it off)."""
    import openpyxl.xml

    return bool(openpyxl.xml.DEFUSEDXML)


def _read_xlsx(p: Path, data: bytes) -> list[list[tuple[int, list[Any]]]]:
    import zlib
    from xml.etree.ElementTree import ParseError
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    from kofu_excel.formats import check_workbook

    if not openpyxl_defused():
        raise _master_error(p.name, "openpyxl が defusedxml を使わない設定のため（OPENPYXL_DEFUSEDXML=False など）、"
                                    "安全のため xlsx は読み込みません。CSV で指定してください")
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
            digits.append((code_digits(code), name))
        except ValueError:
            continue
    has6 = any(len(d) == 6 for d, _ in digits)
    has5 = any(len(d) == 4 or (len(d) == 5 and d[0] == "0") for d, _ in digits)
    if has6 != has5:
        return 6 if has6 else 5
    if has6:
        return None
    # Only 5-digit values without a leading 0: score both readings against the built-in list.
    builtin = builtin_master()
    prefs = {pp + "000" for pp in builtin.prefectures}

    def score(code: str, name: Any) -> int:
        if code[:5] in prefs and is_valid_code(code):
            return 1
        m = builtin.by_code.get(code)
        if m is None:
            return 0
        return 2 if not _blank(name) and fold_name(str(name)) == fold_name(m.name) else 1

    s6 = sum(score("0" + d, n) for d, n in digits if len(d) == 5 and is_valid_code("0" + d))
    s5 = sum(score(with_check(d), n) for d, n in digits if len(d) == 5)
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
    return tuple(int(m.code[:5]) for m in builtin_master().municipalities if m.kind == "指定都市")


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
    builtin = builtin_master()
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
