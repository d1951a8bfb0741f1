"""Municipality codes and names: 全国地方公共団体コード (JIS X 0402 + check digit) and the
folding that lets names from different sources be compared.

Pure functions of their argument, except that :func:`pad_code` asks the built-in master to
settle a 5-digit value that reads two ways.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "check_digit",
    "code_candidates",
    "code_digits",
    "fold_name",
    "is_prefecture_code",
    "is_valid_code",
    "pad_code",
    "with_check",
]

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


def code_digits(raw: object) -> str:
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


def with_check(code5: str) -> str:
    return code5 + str(check_digit(code5))


def code_candidates(raw: object) -> list[str]:
    """Every 6-digit code a cell may stand for, most likely first."""
    s = code_digits(raw)
    if len(s) == 6:
        return [s]
    if len(s) == 5:
        # Either a 6-digit code whose leading 0 Excel dropped (011002 → 11002), or a 5-digit
        # JIS code without its check digit (13101 → 131016). A JIS code kept as text with its
        # leading zero (01100) can only be the latter.
        if s[0] == "0":
            return [with_check(s)]
        zero = "0" + s
        return [zero, with_check(s)] if is_valid_code(zero) else [with_check(s)]
    if len(s) == 4:  # a 5-digit JIS code whose leading 0 was dropped (01100 → 1100)
        return [with_check("0" + s)]
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
    s = code_digits(raw)
    if width == 6:
        if len(s) not in (5, 6):
            raise ValueError(f"not a 6-digit code: {raw!r}")
        return s.zfill(6)
    if width == 5:
        if len(s) not in (4, 5):
            raise ValueError(f"not a 5-digit code: {raw!r}")
        return with_check(s.zfill(5))
    if width is not None:
        raise ValueError(f"width must be 5, 6 or None, not {width!r}")
    cands = code_candidates(s)
    if len(cands) > 1:
        from .master import builtin_master  # the master is built from these codes

        known = builtin_master().by_code
        hits = [c for c in cands if c in known]
        if len(hits) == 1:
            return hits[0]
    return cands[0]


# --- names -----------------------------------------------------------------------------------

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
