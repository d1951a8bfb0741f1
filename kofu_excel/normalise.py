"""Cell values as people type them → typed values, before validation (checks.md).

Each ``to_*`` function takes one raw cell value (what the reader got from the workbook: None,
str, int, float, bool, date/datetime) and returns a :class:`Norm`: a value, blank, "not
applicable" (a lone dash) or an error with a code and a Japanese reason. Nothing here raises on
input, and nothing here checks ranges that belong to the validator (≥ 0, the survey period).

This runs on about a million cells per national batch, so each function tries the cheap cases
first (``type(raw) is int``, plain ASCII digits) and only then does Unicode work; regexes and
tables are built once at import.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from numbers import Integral, Real

from kofu_excel.periods import ERAS, month_key, wareki_date, wareki_month

__all__ = [
    "BLANK",
    "NA",
    "NORMALISERS",
    "Norm",
    "to_choice",
    "to_code",
    "to_date",
    "to_email",
    "to_int",
    "to_month",
    "to_phone",
    "to_text",
    "to_yen",
]


@dataclass(frozen=True, slots=True)
class Norm:
    """One normalised cell: state "value" | "blank" | "na" | "error"."""

    state: str
    value: object = None
    code: str = ""
    reason: str = ""


BLANK = Norm("blank")
NA = Norm("na")

# Building a frozen dataclass through __init__ costs ~0.35 µs (object.__setattr__ per field);
# writing the slots directly costs ~0.2 µs, and small counts come from a prebuilt table.
_new = object.__new__
_set_state = Norm.state.__set__  # type: ignore[attr-defined]
_set_value = Norm.value.__set__  # type: ignore[attr-defined]
_set_code = Norm.code.__set__  # type: ignore[attr-defined]
_set_reason = Norm.reason.__set__  # type: ignore[attr-defined]


def _make(value: object) -> Norm:
    n = _new(Norm)
    _set_state(n, "value")
    _set_value(n, value)
    _set_code(n, "")
    _set_reason(n, "")
    return n


_SMALL: tuple[Norm, ...] = tuple(_make(i) for i in range(4096))


def _int_value(n: int) -> Norm:
    if 0 <= n < 4096:
        return _SMALL[n]
    if -_INT_LIMIT < n < _INT_LIMIT:
        return _make(n)
    return _E_TOO_LARGE


def _err(code: str, reason: str) -> Norm:
    return Norm("error", None, code, reason)


def _warn(value: object, code: str, reason: str) -> Norm:
    return Norm("value", value, code, reason)


# Beyond this a figure is a typo, and pandas' int64 (and exact floats) must still hold it.
_INT_LIMIT = 10**15

# --- fixed error results (shared: Norm is immutable) ---------------------------------------------
_E_BOOL = _err("E202", "TRUE/FALSE（論理値）は入力できません。値を入力してください")
_E_DATE_IN_NUMBER = _err("E202", "日付が入力されています。数値を入力してください")
_E_FRACTION = _err("E202", "小数は入力できません（整数で入力してください）")
_E_NOT_FINITE = _err("E202", "数値として読み取れません。整数で入力してください")
_E_TOO_LARGE = _err("E203", "数値が大きすぎます。桁数をご確認ください")
_E_COMMA = _err(
    "E202", "桁区切りのカンマの位置が正しくありません（3桁ごとに区切って入力してください）"
)
_E_SEN_EN = _err("E202", "金額は円単位で入力してください（千円・万円単位は使えません）")
_E_KANJI = _err(
    "E202",
    "漢数字や「万」「千」などの単位は使えません。算用数字で入力してください（例：12000）",
)
_E_APPROX = _err("E202", "「約」「程度」などの概数の表記は使えません。数値のみを入力してください")
_E_PAREN = _err(
    "E202",
    "括弧付きの数値は入力できません。マイナスは「-」または「▲」を付けて入力してください",
)
_E_RANGE_TEXT = _err("E202", "範囲ではなく、一つの数値を入力してください")
_E_INNER_SPACE = _err("E202", "数値の途中に空白があります。空白を除いて入力してください")
_E_DOUBLE_SIGN = _err("E202", "マイナスの記号が重なっています。記号は一つだけにしてください")
_E_COUNT_UNIT_IN_YEN = _err("E202", "金額の欄です。円単位の数値で入力してください")
_E_NUMBER = _err("E202", "数値として読み取れません。整数を算用数字で入力してください（例：1,234）")
_E_EXCEL_ERROR = _err("E202", "セルがエラー値（#DIV/0! など）になっています。値を入力してください")
_E_ODD_TYPE = _err("E202", "読み取れない種類の値です。値を入力し直してください")

_E_MONTH = _err("E202", "年月として読み取れません（例：2020/4、令和2年4月）")
_E_DATE = _err("E202", "日付として読み取れません（例：2020/4/1、令和2年4月1日）")
_E_NEED_MONTH = _err("E202", "月まで入力してください（例：2020/4、令和2年4月）")
_E_NEED_YEAR_MONTH = _err("E202", "年と月を入力してください（例：令和2年4月）")
_E_NEED_YEAR = _err("E202", "年も入力してください（例：2020/4、令和2年4月）")
_E_NEED_DAY = _err("E202", "日まで入力してください（例：2020/4/1、令和2年4月1日）")
_E_FISCAL_YEAR = _err("E202", "年度ではなく年月を入力してください（例：令和2年4月）")
_E_UNKNOWN_ERA = _err("E202", "元号は昭和・平成・令和のいずれかで入力してください")
_E_MONTH_RANGE = _err("E203", "月は1～12の範囲で入力してください")
_E_NO_SUCH_DAY = _err("E203", "存在しない日付です。日付をご確認ください")
_E_YEAR_RANGE = _err("E203", "年が範囲外です。西暦は1900～2100年で入力してください")
_E_ERA_YEAR = _err("E203", "元号の年は元年（1年）以上で入力してください")
_E_TIME = _err("E202", "時刻が入力されています。日付を入力してください")
_E_SERIAL = _err("E202", "日付として読み取れない数値です（例：2020/4/1）")

_E_PHONE = _err(
    "E209", "電話番号は市外局番から、数字とハイフンで入力してください（例：011-231-4111）"
)
_E_EMAIL = _err("E209", "メールアドレスの形式が正しくありません（例：kofu@city.example.lg.jp）")
_E_EMAIL_MANY = _err("E209", "メールアドレスは一つだけ入力してください")
_E_CODE = _err("E202", "団体コードは6桁の数字で入力してください（例：011002）")

# --- characters ---------------------------------------------------------------------------------
# str.strip() misses zero-width characters that come with copy-and-paste from web pages.
_WS = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
_WS += "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u200b\u200c\u200d\u2060\ufeff"

# After NFKC: '－' (U+FF0D) is already '-'; 'ー' (U+30FC) and the U+2010–2015 dashes survive.
_MINUS = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc▲△"
_NA_RE = re.compile(r"[-\u2010-\u2015\u2212\u30fc\u2500\u2501]+")
_EXCEL_ERRORS = frozenset(
    {
        "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
        "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#UNKNOWN!", "#CONNECT!", "#BUSY!",
        "#EXTERNAL!",
    }
)  # fmt: skip


def _nfkc(s: str) -> str:
    # ASCII text is already NFKC; skip the call for the common case.
    return s if s.isascii() else unicodedata.normalize("NFKC", s)


def _clean(raw: str) -> str:
    return _nfkc(raw).strip(_WS)


def _special(s: str) -> Norm | None:
    """Blank, not-applicable and Excel error values, shared by every type (s is cleaned)."""
    if not s:
        return BLANK
    if _NA_RE.fullmatch(s):
        return NA
    if s[0] == "#" and s.upper() in _EXCEL_ERRORS:
        return _E_EXCEL_ERROR
    return None


# --- numbers ------------------------------------------------------------------------------------
_SIGN = f"[{re.escape(_MINUS)}+]"
_NUMBER_RE = re.compile(
    rf"(?P<s1>{_SIGN})?[ ]*(?P<yen>[¥\\])?[ ]*(?P<s2>{_SIGN})?[ ]*"
    r"(?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<frac>[0-9]*))?"
    r"[ ]*(?P<unit>人分|人|名|枚|件|円|台|日|か所|カ所|ヵ所|ヶ所|ケ所|箇所)?"
)
# Same shape with commas anywhere: tells a misplaced comma from other junk.
_LOOSE_COMMA_RE = re.compile(
    rf"{_SIGN}?[ ]*[¥\\]?[ ]*{_SIGN}?[ ]*[0-9,]*[0-9][0-9,]*(?:\.[0-9]*)?[ ]*[^0-9,. ]{{0,3}}"
)
_SEN_EN_RE = re.compile(r"(?:千|万|億|百万|十万)円")
_APPROX_RE = re.compile(
    r"約|概ね|おおむね|およそ|程度|くらい|ぐらい|位|前後|以上|以下|未満|超|弱|強"
)
_KANJI_NUM_RE = re.compile(r"[〇零一二三四五六七八九十百千万億兆壱弐参拾]")
_RANGE_RE = re.compile(rf"[0-9][ ]*(?:[~〜]|{_SIGN})[ ]*[0-9]")
_UNIT_YEN = "円"


def _from_real(x: float) -> Norm:
    if x.is_integer():
        return _int_value(int(x))
    if math.isnan(x):
        return BLANK  # only pandas produces NaN, and there it means an empty cell
    if math.isinf(x):
        return _E_NOT_FINITE
    r = round(x)
    # A user's own formula (=100*1.1) leaves float noise; that is still a whole number.
    if abs(x - r) <= 1e-9 * max(1.0, abs(x)):
        return _int_value(int(r))
    return _E_FRACTION


def _number_text(raw: str, yen: bool) -> Norm:
    s = _clean(raw)
    if len(s) > 40:
        return _E_NUMBER
    m = _NUMBER_RE.fullmatch(s)
    if m is not None:
        s1, s2, unit, frac = m["s1"], m["s2"], m["unit"], m["frac"]
        if s1 and s2:
            return _E_DOUBLE_SIGN
        if yen and unit is not None and unit != _UNIT_YEN:
            return _E_COUNT_UNIT_IN_YEN
        if frac and frac.strip("0"):
            return _E_FRACTION
        n = int(m["int"].replace(",", ""))
        sign = s1 or s2
        return _int_value(-n if sign and sign != "+" else n)
    special = _special(s)  # after the match: blanks and dashes are the rarer cases
    return special if special is not None else _diagnose_number(s, yen)


def _diagnose_number(s: str, yen: bool) -> Norm:
    """Say why a cleaned text is not a whole number (most specific reason first)."""
    if _SEN_EN_RE.search(s) or (yen and ("千" in s or "万" in s or "億" in s)):
        return _E_SEN_EN
    if _APPROX_RE.search(s):
        return _E_APPROX
    if _KANJI_NUM_RE.search(s):
        return _E_KANJI
    if "(" in s or ")" in s:
        return _E_PAREN
    if _RANGE_RE.search(s):
        return _E_RANGE_TEXT
    if "," in s and _LOOSE_COMMA_RE.fullmatch(s):
        return _E_COMMA
    if " " in s and _NUMBER_RE.fullmatch(s.replace(" ", "")):
        return _E_INNER_SPACE
    return _E_NUMBER


def _number(raw: object, yen: bool) -> Norm:
    t = type(raw)
    if t is int:
        return _int_value(raw)  # type: ignore[arg-type]
    if raw is None:
        return BLANK
    if t is str:
        # Plain digits ("1234") are most text numbers; int() alone would also take "1_000".
        if raw.isascii() and raw.isdigit() and len(raw) < 16:  # type: ignore[attr-defined]
            return _int_value(int(raw))  # type: ignore[arg-type]
        return _number_text(raw, yen)  # type: ignore[arg-type]
    if t is float:
        return _from_real(raw)  # type: ignore[arg-type]
    if t is bool:
        return _E_BOOL
    if isinstance(raw, date):
        return _E_DATE_IN_NUMBER
    if isinstance(raw, Integral):  # numpy integers
        return _int_value(int(raw))
    if isinstance(raw, (Real, Decimal)):  # numpy floats, Decimal, Fraction
        try:
            return _from_real(float(raw))
        except (OverflowError, ValueError):
            return _E_TOO_LARGE
    return _E_ODD_TYPE


def to_int(raw: object) -> Norm:
    """A count. Negative counts are returned as values: the validator applies ≥ 0."""
    return _number(raw, False)


def to_yen(raw: object) -> Norm:
    """Whole yen; 円 and ¥ are allowed, 千円/万円 are errors (forms are in 円, never 千円)."""
    return _number(raw, True)


# --- months and dates ---------------------------------------------------------------------------
_EXCEL_EPOCH = date(1899, 12, 30).toordinal()  # right for serials after the fake 1900-02-29
_SERIAL_MIN, _SERIAL_MAX = 20000, 80000  # 1954-10-03 .. 2119-01-10: a serial, not a typed year
_YEAR_MIN, _YEAR_MAX = 1900, 2100
_SEP = "[./\\-\u2010-\u2015\u2212\u30fc]"
_WHEN_RE = re.compile(
    r"(?:(?P<era>令和|平成|昭和|[RHSrhs])(?P<ey>[0-9]{1,2}|元)|(?P<y>[0-9]{4}))"
    rf"(?:年|{_SEP})(?P<m>[0-9]{{1,2}})"
    rf"(?:月(?:(?P<d1>[0-9]{{1,2}})日?)?|{_SEP}(?P<d2>[0-9]{{1,2}})日?)?分?"
)
_TIME_RE = re.compile(r"(?:[ T]+|(?<=日))[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]*)?)?$")
_YEAR_ONLY_RE = re.compile(r"(?:令和|平成|昭和|[RHSrhs])(?:[0-9]{1,2}|元)?年?|[0-9]{4}年?")
_NO_YEAR_RE = re.compile(r"[0-9]{1,2}(?:月(?:[0-9]{1,2}日?)?|/[0-9]{1,2})分?")
_OTHER_ERA_RE = re.compile(r"(?:大正|明治|[MTmt])(?:[0-9]|元)")
_DIGITS_RE = re.compile(r"[0-9]+")
# name → (start, start of the next era or None)
_ERA_SPAN: dict[str, tuple[date, date | None]] = {}
for _i, (_name, _abbr, _start) in enumerate(ERAS):
    _next = ERAS[_i - 1][2] if _i > 0 else None
    _ERA_SPAN[_name] = _ERA_SPAN[_abbr] = _ERA_SPAN[_abbr.lower()] = (_start, _next)
_ERA_NAMES_ONLY = frozenset(name + "年" for name, _a, _s in ERAS)
_ERA_NAME = {key: name for name, abbr, _s in ERAS for key in (name, abbr, abbr.lower())}
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in(y: int, m: int) -> int:
    if m == 2 and not (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
        return 28
    return _DAYS[m - 1]


def _from_date(d: date, need_day: bool) -> Norm:
    if need_day:
        return _make(d)
    return _make(d if d.day == 1 else d.replace(day=1))


def _from_serial(x: float, need_day: bool) -> Norm:
    """An Excel serial; the time of day (a fraction) is dropped."""
    return _from_date(date.fromordinal(_EXCEL_EPOCH + int(x)), need_day)


def _from_ymd(y: int, m: int, d: int | None, need_day: bool) -> Norm:
    if not _YEAR_MIN <= y <= _YEAR_MAX:
        return _E_YEAR_RANGE
    if not 1 <= m <= 12:
        return _E_MONTH_RANGE
    if d is None:
        return _E_NEED_DAY if need_day else _make(date(y, m, 1))
    if not 1 <= d <= _days_in(y, m):
        return _E_NO_SUCH_DAY
    return _make(date(y, m, d) if need_day else date(y, m, 1))


def _when_digits(s: str, need_day: bool) -> Norm:
    """A cell of digits only: an Excel serial, YYYYMM or YYYYMMDD."""
    n = len(s)
    if n == 5 and _SERIAL_MIN <= int(s) <= _SERIAL_MAX:
        return _from_serial(int(s), need_day)
    if n == 6:
        return _from_ymd(int(s[:4]), int(s[4:]), None, need_day)
    if n == 8:
        return _from_ymd(int(s[:4]), int(s[4:6]), int(s[6:]), need_day)
    if n == 4:
        return _E_NEED_MONTH
    return _E_SERIAL


def _when_number(x: float, need_day: bool) -> Norm:
    if type(x) is float and not math.isfinite(x):
        return BLANK if math.isnan(x) else _E_SERIAL
    if x < 0:
        return _E_SERIAL
    if _SERIAL_MIN <= x < _SERIAL_MAX + 1:
        return _from_serial(x, need_day)
    if x < 1e8 and x == int(x):
        return _when_digits(str(int(x)), need_day)  # 202004 / 20200401 typed as numbers
    return _E_SERIAL


def _when_text(raw: str, need_day: bool) -> Norm:
    s = _clean(raw)
    special = _special(s)
    if special is not None:
        return special
    if len(s) > 60:
        return _E_DATE if need_day else _E_MONTH
    if ":" in s:
        s = _TIME_RE.sub("", s)  # "2020/04/01 00:00:00" from a CSV: the time is not wanted
    if not s.isascii() or " " in s:
        s = "".join(s.split())  # spaces anywhere are ignored (" 令和 2 年 4 月 ")
    if _DIGITS_RE.fullmatch(s):
        return _when_digits(s, need_day)
    m = _WHEN_RE.fullmatch(s)
    if m is None:
        return _diagnose_when(s, need_day)
    month = int(m["m"])
    day_s = m["d1"] or m["d2"]
    day = int(day_s) if day_s else None
    era = m["era"]
    if era is None:
        return _from_ymd(int(m["y"]), month, day, need_day)
    ey = 1 if m["ey"] == "元" else int(m["ey"])
    if ey < 1:
        return _E_ERA_YEAR
    start, nxt = _ERA_SPAN[era]
    year = start.year + ey - 1
    out = _from_ymd(year, month, day, need_day)
    if out.state != "value":
        return out
    # Compare at the precision given: 令和元年5月 is fine, 令和元年4月30日 is not.
    first = date(year, month, 1)
    last = date(year, month, day) if day else date(year, month, _days_in(year, month))
    if last < start:
        name = _ERA_NAME[era]
        since = f"{start.year}年{start.month}月{start.day}日"
        return _err("E203", f"{name}は{since}からです。年月をご確認ください")
    if nxt is not None and (date(year, month, day) if day else first) >= nxt:
        # People kept writing 平成 after May 2019: accept, convert, and say so.
        shown = wareki_date(date(year, month, day)) if day else wareki_month(month_key(first))
        return _warn(out.value, "W404", f"「{s}」を{shown}として読み替えました")
    return out


def _diagnose_when(s: str, need_day: bool) -> Norm:
    if "年度" in s:
        return _E_FISCAL_YEAR
    if s in _ERA_NAME or s in _ERA_NAMES_ONLY:
        return _E_NEED_YEAR_MONTH
    if _YEAR_ONLY_RE.fullmatch(s):
        return _E_NEED_MONTH
    if _NO_YEAR_RE.fullmatch(s):
        return _E_NEED_YEAR
    if _OTHER_ERA_RE.match(s):
        return _E_UNKNOWN_ERA
    return _E_DATE if need_day else _E_MONTH


def _when(raw: object, need_day: bool) -> Norm:
    t = type(raw)
    if t is date:
        return _from_date(raw, need_day)  # type: ignore[arg-type]
    if raw is None:
        return BLANK
    if t is datetime:
        return _from_date(raw.date(), need_day)  # type: ignore[attr-defined]
    if t is str:
        return _when_text(raw, need_day)  # type: ignore[arg-type]
    if t is int or t is float:
        return _when_number(raw, need_day)  # type: ignore[arg-type]
    if t is bool:
        return _E_BOOL
    if isinstance(raw, datetime):  # pandas.Timestamp
        return _from_date(raw.date(), need_day)
    if isinstance(raw, date):
        return _from_date(date(raw.year, raw.month, raw.day), need_day)
    if isinstance(raw, (Real, Decimal)):
        try:
            return _when_number(float(raw), need_day)
        except (OverflowError, ValueError):
            return _E_SERIAL
    if hasattr(raw, "hour") and hasattr(raw, "minute"):  # datetime.time
        return _E_TIME
    return _E_ODD_TYPE


def to_month(raw: object) -> Norm:
    """A calendar month as the first day of it; a full date keeps only its month."""
    return _when(raw, False)


def to_date(raw: object) -> Norm:
    """A day; a month alone (2020/4, 令和2年4月) is an error saying the day is needed."""
    return _when(raw, True)


# --- choices ------------------------------------------------------------------------------------
_LOOSE_DROP_RE = re.compile(r"[\s。、．.,，・･「」『』()\[\]【】〔〕<>!?:;'\"~〜]+")
_LOOSE_SUBS: tuple[tuple[str, str], ...] = (
    ("済み", "済"),
    ("ずみ", "済"),
    ("無し", "なし"),
    ("ナシ", "なし"),
    ("無い", "ない"),
    ("無", "なし"),
    ("有り", "あり"),
    ("改定", "改訂"),
)
# A remainder like this turns a label into its opposite (未設置 vs 設置, 実施予定なし).
_NEGATION_RE = re.compile(r"[未不非止]|なし|ない|せず")
_NEAR_MAX = 40  # longer text in a choice cell is a sentence, not a near miss


def _loose(s: str) -> str:
    s = _LOOSE_DROP_RE.sub("", unicodedata.normalize("NFKC", s))
    for a, b in _LOOSE_SUBS:
        if a in s:
            s = s.replace(a, b)
    return s.casefold()


@dataclass(frozen=True, slots=True)
class _ChoiceTable:
    exact: dict[str, Norm]  # label as typed or after NFKC+trim → its value Norm
    loose: tuple[tuple[str, str], ...]  # (loose key, label)
    not_a_choice: Norm


@lru_cache(maxsize=512)
def _choice_table(choices: tuple[str, ...]) -> _ChoiceTable:
    exact: dict[str, Norm] = {}
    for label in choices:
        norm = _make(label)
        exact.setdefault(label, norm)
        exact.setdefault(_clean(label), norm)
    listing = "・".join(choices)
    return _ChoiceTable(
        exact=exact,
        loose=tuple((_loose(label), label) for label in choices),
        not_a_choice=_err("E204", f"選択肢（{listing}）のいずれかを選んでください"),
    )


def _partial(key: str, label_key: str, typed_len: int, keys: tuple[str, ...]) -> bool:
    """Does the user's loose key name this label, by a part of it or with words around it?"""
    if key in label_key:  # part of a label: 済み → 実施済, なし → 予定なし
        if typed_len < 2:  # one character (済, 中) is too little to go on
            return False
        rest = label_key.replace(key, "", 1)
    elif label_key in key:  # a label with words around it: 実施済です, 実施予定なし
        rest = key.replace(label_key, "", 1)
        # "予定なしだったが実施済" names two labels: no guess.
        if any(k and k != label_key and k in rest for k in keys):
            return False
    else:
        return False
    return not _NEGATION_RE.search(rest)


def _near(s: str, table: _ChoiceTable) -> Norm:
    key = _loose(s)
    if not key or len(s) > _NEAR_MAX:
        return table.not_a_choice
    keys = tuple(k for k, _label in table.loose)
    found = [label for k, label in table.loose if k == key]
    if not found:
        found = [label for k, label in table.loose if k and _partial(key, k, len(s), keys)]
    labels = list(dict.fromkeys(found))
    if len(labels) == 1:
        return _warn(labels[0], "W403", f"「{s}」を選択肢「{labels[0]}」として読み取りました")
    if labels:
        named = "".join(f"「{label}」" for label in labels)
        return _err(
            "E204", f"「{s}」は{named}のどれにあたるか判断できません。選択肢から選んでください"
        )
    return table.not_a_choice


def to_choice(raw: object, choices: Sequence[str]) -> Norm:
    """The exact label after NFKC and trimming; an unambiguous near miss gets W403."""
    key = choices if type(choices) is tuple else tuple(choices)
    table = _choice_table(key)
    t = type(raw)
    if t is str:
        hit = table.exact.get(raw)  # type: ignore[call-overload]
        if hit is not None:
            return hit
        s = _clean(raw)  # type: ignore[arg-type]
    elif raw is None:
        return BLANK
    elif t is bool:
        return _E_BOOL
    elif isinstance(raw, (int, float, Decimal)):
        n = _number(raw, False)
        if n.state != "value":
            return n if n.state == "blank" else table.not_a_choice
        s = str(n.value)
    else:
        return table.not_a_choice
    special = _special(s)
    if special is not None:
        return special
    hit = table.exact.get(s)
    return hit if hit is not None else _near(s, table)


# --- text, phone, e-mail, code ------------------------------------------------------------------
def to_text(raw: object) -> Norm:
    """Free text as the user wrote it, less surrounding whitespace (no NFKC: it is theirs)."""
    if raw is None:
        return BLANK
    t = type(raw)
    if t is str:
        s = raw.strip(_WS)  # type: ignore[attr-defined]
        if not s:
            return BLANK
        if s[0] == "#" and s.upper() in _EXCEL_ERRORS:
            return _E_EXCEL_ERROR
        return _make(s)
    if t is bool:
        return _E_BOOL
    if t is int:
        return _make(str(raw))
    if t is float:
        if math.isnan(raw):  # type: ignore[arg-type]
            return BLANK
        f = float(raw)  # type: ignore[arg-type]
        return _make(str(int(f)) if f.is_integer() else str(f))
    if isinstance(raw, datetime):
        return _make(raw.isoformat(" ") if raw.time() != datetime.min.time() else str(raw.date()))
    if isinstance(raw, date):
        return _make(raw.isoformat())
    return _make(str(raw).strip(_WS))


_PHONE_EXT_RE = re.compile(
    r"(?P<main>.*?)[ (]*(?:内線|内|ext\.?|x)[ ]*[:.]?[ ]*(?P<ext>[0-9]{1,6})[ )]*", re.I
)
_PHONE_CHARS_RE = re.compile(r"[0-9 ()\-\u2010-\u2015\u2212\u30fc]+")
_PHONE_DIGITS_RE = re.compile(r"[0-9]+")
_PHONE_MOBILE = ("050", "060", "070", "080", "090")
_PHONE_4_3_3 = ("0120", "0570", "0800", "0990")


def _group_phone(d: str) -> str:
    """Hyphenate digits where the grouping is fixed; area codes vary, so leave others as typed."""
    if len(d) == 11 and d[:3] in _PHONE_MOBILE:
        return f"{d[:3]}-{d[3:7]}-{d[7:]}"
    if len(d) == 10 and d[:4] in _PHONE_4_3_3:
        return f"{d[:4]}-{d[4:7]}-{d[7:]}"
    if len(d) == 10 and d[:2] in ("03", "06"):
        return f"{d[:2]}-{d[2:6]}-{d[6:]}"
    return d


def _phone_ok(d: str) -> bool:
    if len(d) == 10:
        return d[0] == "0" and d[1] != "0"
    return len(d) == 11 and (d[:3] in _PHONE_MOBILE or d[:4] == "0800")


def to_phone(raw: object) -> Norm:
    """A Japanese phone number, 10–11 digits from 0; value hyphenated, e.g. 011-231-4111."""
    if raw is None:
        return BLANK
    t = type(raw)
    if t is bool:
        return _E_BOOL
    if t is int or t is float:
        n = _number(raw, False)
        if n.state != "value":
            return n if n.state == "blank" else _E_PHONE
        d = str(n.value)
        # Excel drops the leading 0 of a number typed as a number.
        d = "0" + d if len(d) in (9, 10) else d
        return _make(_group_phone(d)) if _phone_ok(d) else _E_PHONE
    if t is not str:
        return _E_PHONE
    s = _clean(raw)  # type: ignore[arg-type]
    special = _special(s)
    if special is not None:
        return special
    if len(s) > 60:
        return _E_PHONE
    ext = ""
    m = _PHONE_EXT_RE.fullmatch(s)
    if m is not None:
        s, ext = m["main"].strip(), m["ext"]
    if s.startswith("+81"):
        s = "0" + s[3:].lstrip(" -()").removeprefix("(0)").lstrip(" -()")
    if not _PHONE_CHARS_RE.fullmatch(s):
        return _E_PHONE
    groups = _PHONE_DIGITS_RE.findall(s)
    d = "".join(groups)
    if not _phone_ok(d):
        return _E_PHONE
    value = "-".join(groups) if len(groups) > 1 else _group_phone(d)
    return _make(f"{value} 内線{ext}" if ext else value)


_EMAIL_RE = re.compile(
    r"(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)


def to_email(raw: object) -> Norm:
    """One e-mail address; full-width letters are folded, the domain lower-cased."""
    if raw is None:
        return BLANK
    if type(raw) is not str:
        return _E_BOOL if type(raw) is bool else _E_EMAIL
    s = _clean(raw)
    special = _special(s)
    if special is not None:
        return special
    if s[:7].lower() == "mailto:":
        s = s[7:].strip()
    if len(s) > 254:
        return _E_EMAIL
    m = _EMAIL_RE.fullmatch(s)
    if m is None:
        return _E_EMAIL_MANY if s.count("@") > 1 else _E_EMAIL
    return _make(f"{m['local']}@{m['domain'].lower()}")


def to_code(raw: object) -> Norm:
    """A 6-digit municipality code as text. The check digit is validated elsewhere."""
    if raw is None:
        return BLANK
    t = type(raw)
    if t is str:
        s = raw if len(raw) == 6 and raw.isascii() else _clean(raw)  # type: ignore[arg-type]
        if len(s) == 6 and s.isascii() and s.isdigit():
            return _make(s)
        special = _special(s)
        return special if special is not None else _E_CODE
    if t is bool:
        return _E_BOOL
    if t is int or t is float or isinstance(raw, (Integral, Real, Decimal)):
        n = _number(raw, False)
        if n.state != "value":
            return n if n.state == "blank" else _E_CODE
        v = n.value
        assert isinstance(v, int)
        # Excel shows 011002 typed as a number as 11002: put the dropped zero back.
        if 10000 <= v <= 999999:
            return _make(f"{v:06d}")
    return _E_CODE


NORMALISERS: dict[str, Callable[[object], Norm]] = {
    "int": to_int,
    "yen": to_yen,
    "month": to_month,
    "date": to_date,
    "text": to_text,
    "phone": to_phone,
    "email": to_email,
    "code": to_code,
}
