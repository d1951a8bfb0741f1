"""--help wrapped for Japanese: by display width, never inside a word.

click wraps with :mod:`textwrap`, which breaks only at spaces and counts characters: a Japanese
sentence (no spaces) is one long "word", cut wherever the count runs out — 「（TOM\\nL）」,
「README.\\nmd」 — and its full-width characters take two columns each, so the lines run past the
terminal. Here a line may break between any two Japanese characters, never inside a run of ASCII
(a word, an option, a file name), never before closing punctuation (、。）」) nor after an opening
bracket; widths count full-width (and ambiguous: cp932 consoles draw them wide) characters as two.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import click

_OPEN = "（「『【〔［〈《"
_CLOSE = "）」』】〕］〉》、。，．・：；！？ーゃゅょっぁぃぅぇぉャュョッァィゥェォ々"
# A unit that stays on one line: opening brackets, then an ASCII word or one other character,
# then the closing punctuation that must not start a line.
_TOKEN = re.compile(rf" +|[{_OPEN}]*(?:[!-~]+|[^ ])[{_CLOSE}]*")


def width(text: str) -> int:
    """Display columns of ``text`` on a Japanese console."""
    return sum(2 if unicodedata.east_asian_width(c) in "WFA" else 1 for c in text)


def _fill(text: str, limit: int, first: str, rest: str) -> list[str]:
    lines: list[str] = []
    line, used, space = first, width(first), False
    empty = True
    for tok in _TOKEN.findall(" ".join(text.split("\n"))):
        if tok.startswith(" "):
            space = not empty
            continue
        need = width(tok) + (1 if space else 0)
        if not empty and used + need > limit:
            lines.append(line)
            line, used, space, empty = rest, width(rest), False, True
            need = width(tok)
        while empty and used + need > limit and len(tok) > 1:  # one unit wider than a line
            cut = 1
            while cut < len(tok) and used + width(tok[:cut + 1]) <= limit:
                cut += 1
            lines.append(line + tok[:cut])
            tok, line, used = tok[cut:], rest, width(rest)
            need = width(tok)
        line += (" " if space else "") + tok
        used += need
        space, empty = False, False
    lines.append(line)
    return lines


def wrap(text: str, limit: int, initial_indent: str = "", subsequent_indent: str = "") -> str:
    """click's ``wrap_text(..., preserve_paragraphs=True)`` for Japanese: paragraphs are kept
    (a paragraph starting with ``\\b`` is not rewrapped), each filled to ``limit`` columns."""
    out: list[str] = []
    for i, para in enumerate(re.split(r"\n\s*\n", text.strip("\n"))):
        first = initial_indent if i == 0 else subsequent_indent
        if para.startswith("\b"):
            out.append("\n".join(first + ln for ln in para[1:].strip("\n").splitlines()))
            continue
        out.append("\n".join(_fill(" ".join(para.split()), limit, first, subsequent_indent)))
    return "\n\n".join(out)


class HelpFormatter(click.HelpFormatter):
    """click's formatter with :func:`wrap` for the text and the option descriptions."""

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        self.write(wrap(text, self.width, initial_indent=indent, subsequent_indent=indent))
        self.write("\n")

    def write_dl(self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        first_col = min(max((width(r[0]) for r in rows), default=0), col_max) + col_spacing
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if width(first) <= first_col - col_spacing:
                self.write(" " * (first_col - width(first)))
            else:
                self.write("\n" + " " * (first_col + self.current_indent))
            text_width = max(self.width - first_col - self.current_indent, 10)
            lines = wrap(second, text_width).splitlines()
            self.write(f"{lines[0] if lines else ''}\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n" if line else "\n")


class Context(click.Context):
    formatter_class = HelpFormatter
