"""Months and dates as people type them (serials, 2020/4, 令和2年4月, R2.4.1) → date."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal
from numbers import Real

from kofu_excel.periods import ERAS, month_key, wareki_date, wareki_month

from .base import (
    BLANK,
    E_BOOL,
    E_NOT_FINITE,
    E_ODD_TYPE,
    Norm,
    clean,
    error_norm,
    make_value,
    odd_digit,
    odd_digit_error,
    special_of,
    warning_norm,
)

# --- fixed error results (one instance each: Norm is immutable) --------------------------------
_E_MONTH = error_norm("E202", "年月として読み取れません（例：2020/4、令和2年4月）")
_E_DATE = error_norm("E202", "日付として読み取れません（例：2020/4/1、令和2年4月1日）")
_E_NEED_MONTH = error_norm("E202", "月まで入力してください（例：2020/4、令和2年4月）")
_E_NEED_YEAR_MONTH = error_norm("E202", "年と月を入力してください（例：令和2年4月）")
_E_NEED_YEAR = error_norm("E202", "年も入力してください（例：2020/4、令和2年4月）")
_E_NEED_DAY = error_norm("E202", "日まで入力してください（例：2020/4/1、令和2年4月1日）")
_E_FISCAL_YEAR = error_norm("E202", "年度ではなく年月を入力してください（例：令和2年4月）")
_E_UNKNOWN_ERA = error_norm("E202", "元号は昭和・平成・令和のいずれかで入力してください")
_E_MONTH_RANGE = error_norm("E203", "月は1～12の範囲で入力してください")
_E_NO_SUCH_DAY = error_norm("E203", "存在しない日付です。日付をご確認ください")
_E_YEAR_RANGE = error_norm("E203", "年が範囲外です。西暦は1900～2100年で入力してください")
_E_ERA_YEAR = error_norm("E203", "元号の年は元年（1年）以上で入力してください")
_E_TIME = error_norm("E202", "時刻が入力されています。日付を入力してください")
_E_SERIAL = error_norm("E202", "日付として読み取れない数値です（例：2020/4/1）")

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
        return make_value(d)
    return make_value(d if d.day == 1 else d.replace(day=1))


def _from_serial(x: float, need_day: bool) -> Norm:
    """An Excel serial; the time of day (a fraction) is dropped."""
    return _from_date(date.fromordinal(_EXCEL_EPOCH + int(x)), need_day)


def _from_ymd(y: int, m: int, d: int | None, need_day: bool) -> Norm:
    if not _YEAR_MIN <= y <= _YEAR_MAX:
        return _E_YEAR_RANGE
    if not 1 <= m <= 12:
        return _E_MONTH_RANGE
    if d is None:
        return _E_NEED_DAY if need_day else make_value(date(y, m, 1))
    if not 1 <= d <= _days_in(y, m):
        return _E_NO_SUCH_DAY
    return make_value(date(y, m, d) if need_day else date(y, m, 1))


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
        return E_NOT_FINITE if math.isnan(x) else _E_SERIAL
    if x < 0:
        return _E_SERIAL
    if _SERIAL_MIN <= x < _SERIAL_MAX + 1:
        return _from_serial(x, need_day)
    if x < 1e8 and x == int(x):
        return _when_digits(str(int(x)), need_day)  # 202004 / 20200401 typed as numbers
    return _E_SERIAL


def _when_text(raw: str, need_day: bool) -> Norm:
    odd = odd_digit(raw)
    if odd:
        return odd_digit_error(odd)
    s = clean(raw)
    special = special_of(s)
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
        return error_norm("E203", f"{name}は{since}からです。年月をご確認ください")
    if nxt is not None and (date(year, month, day) if day else first) >= nxt:
        # People kept writing 平成 after May 2019: accept, convert, and say so.
        shown = wareki_date(date(year, month, day)) if day else wareki_month(month_key(first))
        return warning_norm(out.value, "W404", f"「{s}」を{shown}として読み替えました")
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
        return E_BOOL
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
    return E_ODD_TYPE


def to_month(raw: object) -> Norm:
    """A calendar month as the first day of it; a full date keeps only its month."""
    return _when(raw, False)


def to_date(raw: object) -> Norm:
    """A day; a month alone (2020/4, 令和2年4月) is an error saying the day is needed."""
    return _when(raw, True)
