"""Findings are data: one small record per fault or piece of advice, with a stable code.

Exceptions are only for "cannot proceed" (:class:`KofuError`); everything a user should read
about an input is a :class:`Finding`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from typing import Any

from .codes import titles

# Stable codes and their Japanese titles, from the one table of codes (kofu_excel/codes.py).
CODES: dict[str, str] = titles()


@dataclass(frozen=True, slots=True)
class Finding:
    """One fault or piece of advice, located as precisely as the input allows."""

    code: str
    severity: str
    message: str
    file: str = ""
    member: str = ""
    sheet: str = ""
    cell: str = ""
    field: str = ""
    value: Any = None
    expected: str = ""
    muni_code: str = ""
    check: str = ""  # the notice's check for review findings, e.g. 第4-1(1)
    figures: dict[str, Any] = dc_field(default_factory=dict)

    @property
    def title(self) -> str:
        return CODES.get(self.code, "")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["value"] = jsonable(self.value)
        d["figures"] = {k: jsonable(v) for k, v in self.figures.items()}
        return d


def jsonable(v: Any) -> Any:
    """Dates and other odd cell values as JSON-friendly scalars."""
    if isinstance(v, float) and not math.isfinite(v):  # JSON has no NaN/Infinity: as text
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


class HasFindings:
    """Errors and warnings of anything that carries ``findings`` (a book, a file result)."""

    findings: Any

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


class KofuError(Exception):
    """The toolkit cannot proceed (bad usage, unwritable output). Carries a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
