"""The normalised cell (:class:`Norm`) and what every normaliser shares: the fixed error
results (Norm is immutable, so one instance serves every cell), the characters people paste
around values, and blank / 「－」 / Excel error detection."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


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


def make_value(value: object) -> Norm:
    n = _new(Norm)
    _set_state(n, "value")
    _set_value(n, value)
    _set_code(n, "")
    _set_reason(n, "")
    return n


_SMALL: tuple[Norm, ...] = tuple(make_value(i) for i in range(4096))


def int_value(n: int) -> Norm:
    if 0 <= n < 4096:
        return _SMALL[n]
    if -_INT_LIMIT < n < _INT_LIMIT:
        return make_value(n)
    return E_TOO_LARGE


def error_norm(code: str, reason: str) -> Norm:
    return Norm("error", None, code, reason)


def warning_norm(value: object, code: str, reason: str) -> Norm:
    return Norm("value", value, code, reason)


# Beyond this a figure is a typo, and pandas' int64 (and exact floats) must still hold it.
_INT_LIMIT = 10**15

# --- fixed error results (shared: Norm is immutable) ---------------------------------------------
E_BOOL = error_norm("E202", "TRUE/FALSE（論理値）は入力できません。値を入力してください")
E_TOO_LARGE = error_norm("E203", "数値が大きすぎます。桁数をご確認ください")
E_EXCEL_ERROR = error_norm("E202", "セルがエラー値（#DIV/0! など）になっています。値を入力してください")
E_ODD_TYPE = error_norm("E202", "読み取れない種類の値です。値を入力し直してください")
# <v>NaN</v>, <v>1e999</v>: no spreadsheet program types these; a tool wrote them.
E_NOT_FINITE = error_norm("E202", "数値として読み取れない値（NaN・無限大）が入っています。値を入力し直してください")


# --- characters ---------------------------------------------------------------------------------
# str.strip() misses zero-width characters that come with copy-and-paste from web pages.
WS = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
WS += "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u200b\u200c\u200d\u2060\ufeff"

# After NFKC: '－' (U+FF0D) is already '-'; 'ー' (U+30FC) and the U+2010–2015 dashes survive.
MINUS = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc▲△"
_NA_RE = re.compile(r"[-\u2010-\u2015\u2212\u30fc\u2500\u2501]+")
EXCEL_ERRORS = frozenset(
    {
        "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
        "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#UNKNOWN!", "#CONNECT!", "#BUSY!",
        "#EXTERNAL!",
    }
)  # fmt: skip


def _nfkc(s: str) -> str:
    # ASCII text is already NFKC; skip the call for the common case.
    return s if s.isascii() else unicodedata.normalize("NFKC", s)


def clean(raw: str) -> str:
    return _nfkc(raw).strip(WS)


_FULLWIDTH_DIGITS = frozenset("０１２３４５６７８９")


def odd_digit(raw: str) -> str:
    """The first character of ``raw`` that is a digit, or that NFKC turns into digits, without
    being one of 0–9 or ０–９: ①→1, ㊿→50, ²→2, 𝟗→9, ½→1⁄2, ٣ … NFKC is right for full-width
    digits only; for these it would silently give a different number ("" when there is none)."""
    if raw.isascii():
        return ""
    for c in raw:
        if c.isascii() or c in _FULLWIDTH_DIGITS:
            continue
        if c.isdigit():  # ², ①, 𝟗, ٣ (other scripts' digits)
            return c
        folded = unicodedata.normalize("NFKC", c)
        if folded != c and any("0" <= d <= "9" for d in folded):
            return c
    return ""


def odd_digit_error(c: str) -> Norm:
    """E211 naming the character and what it is (Unicode's name: 'CIRCLED DIGIT ONE')."""
    name = unicodedata.name(c, f"U+{ord(c):04X}")
    return error_norm("E211", f"「{c}」（{name}）は数字として読み取れません。丸数字・上付き文字などは使わず、"
                              "算用数字（0〜9）で入力してください")


def special_of(s: str) -> Norm | None:
    """Blank, not-applicable and Excel error values, shared by every type (s is cleaned)."""
    if not s:
        return BLANK
    if _NA_RE.fullmatch(s):
        return NA
    if s[0] == "#" and s.upper() in EXCEL_ERRORS:
        return E_EXCEL_ERROR
    return None
