"""Cell values as people type them → typed values, before validation (docs/spec/checks.md).

Each ``to_*`` function takes one raw cell value (what the reader got from the workbook: None,
str, int, float, bool, date/datetime) and returns a :class:`Norm`: a value, blank, "not
applicable" (a lone dash) or an error with a code and a Japanese reason. Nothing here raises on
input, and nothing here checks ranges that belong to the validator (≥ 0, the survey period).

This runs on about a million cells per national batch, so each function tries the cheap cases
first (``type(raw) is int``, plain ASCII digits) and only then does Unicode work; regexes and
tables are built once at import. One module per kind of value: :mod:`.numbers`, :mod:`.dates`,
:mod:`.text`; :mod:`.base` holds :class:`Norm` and what they share.
"""

from __future__ import annotations

from collections.abc import Callable

from .base import BLANK, NA, Norm
from .dates import to_date, to_month
from .numeric import to_int, to_yen
from .text import to_choice, to_code, to_email, to_phone, to_text

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
