"""Choices (with near misses read as W403), free text, phone numbers, e-mail addresses and
municipality codes."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from numbers import Integral, Real

from .base import (
    BLANK,
    E_BOOL,
    E_EXCEL_ERROR,
    E_NOT_FINITE,
    EXCEL_ERRORS,
    WS,
    Norm,
    clean,
    error_norm,
    make_value,
    odd_digit,
    odd_digit_error,
    special_of,
    warning_norm,
)
from .numeric import number_of

# --- fixed error results (one instance each: Norm is immutable) --------------------------------
_E_PHONE = error_norm(
    "E209", "電話番号は市外局番から、数字とハイフンで入力してください（例：011-231-4111）"
)
_E_EMAIL = error_norm("E209", "メールアドレスの形式が正しくありません（例：kofu@city.example.lg.jp）")
_E_EMAIL_MANY = error_norm("E209", "メールアドレスは一つだけ入力してください")
_E_CODE = error_norm("E202", "団体コードは6桁の数字で入力してください（例：011002）")

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
        norm = make_value(label)
        exact.setdefault(label, norm)
        exact.setdefault(clean(label), norm)
    listing = "・".join(choices)
    return _ChoiceTable(
        exact=exact,
        loose=tuple((_loose(label), label) for label in choices),
        not_a_choice=error_norm("E204", f"選択肢（{listing}）のいずれかを選んでください"),
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
        return warning_norm(labels[0], "W403", f"「{s}」を選択肢「{labels[0]}」として読み取りました")
    if labels:
        named = "".join(f"「{label}」" for label in labels)
        return error_norm(
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
        s = clean(raw)  # type: ignore[arg-type]
    elif raw is None:
        return BLANK
    elif t is bool:
        return E_BOOL
    elif isinstance(raw, (int, float, Decimal)):
        n = number_of(raw, False)
        if n.state != "value":
            return n if n.state == "blank" else table.not_a_choice
        s = str(n.value)
    else:
        return table.not_a_choice
    special = special_of(s)
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
        s = raw.strip(WS)  # type: ignore[attr-defined]
        if not s:
            return BLANK
        if s[0] == "#" and s.upper() in EXCEL_ERRORS:
            return E_EXCEL_ERROR
        return make_value(s)
    if t is bool:
        return E_BOOL
    if t is int:
        return make_value(str(raw))
    if t is float:
        if not math.isfinite(raw):  # type: ignore[arg-type]
            return E_NOT_FINITE
        f = float(raw)  # type: ignore[arg-type]
        return make_value(str(int(f)) if f.is_integer() else str(f))
    if isinstance(raw, datetime):
        return make_value(raw.isoformat(" ") if raw.time() != datetime.min.time() else str(raw.date()))
    if isinstance(raw, date):
        return make_value(raw.isoformat())
    return make_value(str(raw).strip(WS))


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
        return E_BOOL
    if t is int or t is float:
        n = number_of(raw, False)
        if n.state != "value":
            return n if n.state == "blank" else _E_PHONE
        d = str(n.value)
        # Excel drops the leading 0 of a number typed as a number.
        d = "0" + d if len(d) in (9, 10) else d
        return make_value(_group_phone(d)) if _phone_ok(d) else _E_PHONE
    if t is not str:
        return _E_PHONE
    if odd := odd_digit(raw):  # type: ignore[arg-type]
        return odd_digit_error(odd)
    s = clean(raw)  # type: ignore[arg-type]
    special = special_of(s)
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
    return make_value(f"{value} 内線{ext}" if ext else value)


_EMAIL_RE = re.compile(
    r"(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)


def to_email(raw: object) -> Norm:
    """One e-mail address; full-width letters are folded, the domain lower-cased."""
    if raw is None:
        return BLANK
    if type(raw) is not str:
        return E_BOOL if type(raw) is bool else _E_EMAIL
    s = clean(raw)
    special = special_of(s)
    if special is not None:
        return special
    if s[:7].lower() == "mailto:":
        s = s[7:].strip()
    if len(s) > 254:
        return _E_EMAIL
    m = _EMAIL_RE.fullmatch(s)
    if m is None:
        return _E_EMAIL_MANY if s.count("@") > 1 else _E_EMAIL
    return make_value(f"{m['local']}@{m['domain'].lower()}")


def to_code(raw: object) -> Norm:
    """A 6-digit municipality code as text. The check digit is validated elsewhere."""
    if raw is None:
        return BLANK
    t = type(raw)
    if t is str:
        if odd := odd_digit(raw):  # type: ignore[arg-type]
            return odd_digit_error(odd)
        s = raw if len(raw) == 6 and raw.isascii() else clean(raw)  # type: ignore[arg-type]
        if len(s) == 6 and s.isascii() and s.isdigit():
            return make_value(s)
        special = special_of(s)
        return special if special is not None else _E_CODE
    if t is bool:
        return E_BOOL
    if t is int or t is float or isinstance(raw, (Integral, Real, Decimal)):
        n = number_of(raw, False)
        if n.state != "value":
            return n if n.state == "blank" else _E_CODE
        v = n.value
        assert isinstance(v, int)
        # Excel shows 011002 typed as a number as 11002: put the dropped zero back.
        if 10000 <= v <= 999999:
            return make_value(f"{v:06d}")
    return _E_CODE
