"""Counts and yen as people type them (full-width digits, commas, units, ▲ for minus) → int."""

from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal
from numbers import Integral, Real

from .base import (
    BLANK,
    E_BOOL,
    E_NOT_FINITE,
    E_ODD_TYPE,
    E_TOO_LARGE,
    MINUS,
    Norm,
    clean,
    error_norm,
    int_value,
    odd_digit,
    odd_digit_error,
    special_of,
)

# --- fixed error results (one instance each: Norm is immutable) --------------------------------
_E_DATE_IN_NUMBER = error_norm("E202", "日付が入力されています。数値を入力してください")
_E_FRACTION = error_norm("E202", "小数は入力できません（整数で入力してください）")
_E_COMMA = error_norm(
    "E202", "桁区切りのカンマの位置が正しくありません（3桁ごとに区切って入力してください）"
)
_E_SEN_EN = error_norm("E202", "金額は円単位で入力してください（千円・万円単位は使えません）")
_E_KANJI = error_norm(
    "E202",
    "漢数字や「万」「千」などの単位は使えません。算用数字で入力してください（例：12000）",
)
_E_APPROX = error_norm("E202", "「約」「程度」などの概数の表記は使えません。数値のみを入力してください")
_E_PAREN = error_norm(
    "E202",
    "括弧付きの数値は入力できません。マイナスは「-」または「▲」を付けて入力してください",
)
_E_RANGE_TEXT = error_norm("E202", "範囲ではなく、一つの数値を入力してください")
_E_INNER_SPACE = error_norm("E202", "数値の途中に空白があります。空白を除いて入力してください")
_E_DOUBLE_SIGN = error_norm("E202", "マイナスの記号が重なっています。記号は一つだけにしてください")
_E_COUNT_UNIT_IN_YEN = error_norm("E202", "金額の欄です。円単位の数値で入力してください")
_E_NUMBER = error_norm("E202", "数値として読み取れません。整数を算用数字で入力してください（例：1,234）")

# --- numbers ------------------------------------------------------------------------------------
_SIGN = f"[{re.escape(MINUS)}+]"
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
        return int_value(int(x))
    if not math.isfinite(x):  # a NaN or infinite cell: a finding, never a blank
        return E_NOT_FINITE
    r = round(x)
    # A user's own formula (=100*1.1) leaves float noise; that is still a whole number.
    if abs(x - r) <= 1e-9 * max(1.0, abs(x)):
        return int_value(int(r))
    return _E_FRACTION


def _number_text(raw: str, yen: bool) -> Norm:
    odd = odd_digit(raw)
    if odd:
        return odd_digit_error(odd)
    s = clean(raw)
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
        return int_value(-n if sign and sign != "+" else n)
    special = special_of(s)  # after the match: blanks and dashes are the rarer cases
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


def number_of(raw: object, yen: bool) -> Norm:
    t = type(raw)
    if t is int:
        return int_value(raw)  # type: ignore[arg-type]
    if raw is None:
        return BLANK
    if t is str:
        # Plain digits ("1234") are most text numbers; int() alone would also take "1_000".
        if raw.isascii() and raw.isdigit() and len(raw) < 16:  # type: ignore[attr-defined]
            return int_value(int(raw))  # type: ignore[arg-type]
        return _number_text(raw, yen)  # type: ignore[arg-type]
    if t is float:
        return _from_real(raw)  # type: ignore[arg-type]
    if t is bool:
        return E_BOOL
    if isinstance(raw, date):
        return _E_DATE_IN_NUMBER
    if isinstance(raw, Integral):  # numpy integers
        return int_value(int(raw))
    if isinstance(raw, (Real, Decimal)):  # numpy floats, Decimal, Fraction
        try:
            return _from_real(float(raw))
        except (OverflowError, ValueError):
            return E_TOO_LARGE
    return E_ODD_TYPE


def to_int(raw: object) -> Norm:
    """A count. Negative counts are returned as values: the validator applies ≥ 0."""
    return number_of(raw, False)


def to_yen(raw: object) -> Norm:
    """Whole yen; 円 and ¥ are allowed, 千円/万円 are errors (forms are in 円, never 千円)."""
    return number_of(raw, True)
