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
E_DATE_IN_NUMBER = error_norm("E202", "日付が入力されています。数値を入力してください")
E_FRACTION = error_norm("E202", "小数は入力できません（整数で入力してください）")
E_NOT_FINITE = error_norm("E202", "数値として読み取れません。整数で入力してください")
E_TOO_LARGE = error_norm("E203", "数値が大きすぎます。桁数をご確認ください")
E_COMMA = error_norm(
    "E202", "桁区切りのカンマの位置が正しくありません（3桁ごとに区切って入力してください）"
)
E_SEN_EN = error_norm("E202", "金額は円単位で入力してください（千円・万円単位は使えません）")
E_KANJI = error_norm(
    "E202",
    "漢数字や「万」「千」などの単位は使えません。算用数字で入力してください（例：12000）",
)
E_APPROX = error_norm("E202", "「約」「程度」などの概数の表記は使えません。数値のみを入力してください")
E_PAREN = error_norm(
    "E202",
    "括弧付きの数値は入力できません。マイナスは「-」または「▲」を付けて入力してください",
)
E_RANGE_TEXT = error_norm("E202", "範囲ではなく、一つの数値を入力してください")
E_INNER_SPACE = error_norm("E202", "数値の途中に空白があります。空白を除いて入力してください")
E_DOUBLE_SIGN = error_norm("E202", "マイナスの記号が重なっています。記号は一つだけにしてください")
E_COUNT_UNIT_IN_YEN = error_norm("E202", "金額の欄です。円単位の数値で入力してください")
E_NUMBER = error_norm("E202", "数値として読み取れません。整数を算用数字で入力してください（例：1,234）")
E_EXCEL_ERROR = error_norm("E202", "セルがエラー値（#DIV/0! など）になっています。値を入力してください")
E_ODD_TYPE = error_norm("E202", "読み取れない種類の値です。値を入力し直してください")

E_MONTH = error_norm("E202", "年月として読み取れません（例：2020/4、令和2年4月）")
E_DATE = error_norm("E202", "日付として読み取れません（例：2020/4/1、令和2年4月1日）")
E_NEED_MONTH = error_norm("E202", "月まで入力してください（例：2020/4、令和2年4月）")
E_NEED_YEAR_MONTH = error_norm("E202", "年と月を入力してください（例：令和2年4月）")
E_NEED_YEAR = error_norm("E202", "年も入力してください（例：2020/4、令和2年4月）")
E_NEED_DAY = error_norm("E202", "日まで入力してください（例：2020/4/1、令和2年4月1日）")
E_FISCAL_YEAR = error_norm("E202", "年度ではなく年月を入力してください（例：令和2年4月）")
E_UNKNOWN_ERA = error_norm("E202", "元号は昭和・平成・令和のいずれかで入力してください")
E_MONTH_RANGE = error_norm("E203", "月は1～12の範囲で入力してください")
E_NO_SUCH_DAY = error_norm("E203", "存在しない日付です。日付をご確認ください")
E_YEAR_RANGE = error_norm("E203", "年が範囲外です。西暦は1900～2100年で入力してください")
E_ERA_YEAR = error_norm("E203", "元号の年は元年（1年）以上で入力してください")
E_TIME = error_norm("E202", "時刻が入力されています。日付を入力してください")
E_SERIAL = error_norm("E202", "日付として読み取れない数値です（例：2020/4/1）")

E_PHONE = error_norm(
    "E209", "電話番号は市外局番から、数字とハイフンで入力してください（例：011-231-4111）"
)
E_EMAIL = error_norm("E209", "メールアドレスの形式が正しくありません（例：kofu@city.example.lg.jp）")
E_EMAIL_MANY = error_norm("E209", "メールアドレスは一つだけ入力してください")
E_CODE = error_norm("E202", "団体コードは6桁の数字で入力してください（例：011002）")

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


def special_of(s: str) -> Norm | None:
    """Blank, not-applicable and Excel error values, shared by every type (s is cleaned)."""
    if not s:
        return BLANK
    if _NA_RE.fullmatch(s):
        return NA
    if s[0] == "#" and s.upper() in EXCEL_ERRORS:
        return E_EXCEL_ERROR
    return None
