"""What the safety pre-scans of every format share: the refusal and the words of its reasons.

A pre-scan that finds bytes no parser may see raises :class:`Reject` (a code and a Japanese
reason); :func:`kofu_excel.formats.check_workbook` turns it into its ``(code, reason)`` answer.
Nothing here imports a parser.
"""

from __future__ import annotations

__all__ = ["Reject", "col_letters", "col_number", "size_text"]


class Reject(Exception):
    """This blob must not go further (code, Japanese reason)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(code)
        self.code = code
        self.reason = reason


def size_text(n: float) -> str:
    """Human-readable size for reasons: 「3 KB」「1.0 GB」."""
    if n < 1024:
        return f"{int(n)} バイト"
    if n < 2**20:
        return f"{max(1, round(n / 1024))} KB"
    value, unit = (n / 2**20, "MB") if n < 2**30 else (n / 2**30, "GB")
    return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"


def col_letters(col: int) -> str:
    letters = ""
    while col > 0:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters or "A"


def col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n
