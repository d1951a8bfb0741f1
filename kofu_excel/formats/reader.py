"""The reader's side of a format: the package base class and what every package needs.

:func:`kofu_excel.formats.open_package` gives the reader a :class:`Package`: the sheets, the
workbook-scoped ``kofu_*`` defined names resolved to :class:`Ref` areas, the formula cells of
the input columns and the active content found (macros, links: reported, never run). What
stops a parse becomes :class:`Unreadable` (E101, or E108 when too big to parse safely).

XML safety: a part containing no ``<!`` (so no DOCTYPE, hence no entity declarations and no
external entities) and encoded in UTF-8 goes to the C ElementTree parser, which is ~2.5×
faster than defusedxml's pure-Python parser; anything else goes through defusedxml, which
rejects DTDs and entities.
"""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any, TypeVar, cast

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as DefusedET
from python_calamine import CalamineError

from ..cells import a1_range

__all__ = [
    "BROKEN",
    "MULTI",
    "NAME_PREFIX",
    "PARSE_ERRORS",
    "NameTarget",
    "Package",
    "Ref",
    "Unreadable",
    "parse_message",
]

# Only workbook-scoped names with this prefix are the form's (print titles etc. are not).
NAME_PREFIX = "kofu_"

# Errors that mean "these bytes are not a readable workbook" when raised by the parsers below
# (zip, XML, OLE, struct unpacking of BIFF records). Our own logic errors are not in here.
PARSE_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    ET.ParseError,
    DefusedXmlException,
    CalamineError,
    struct.error,
    UnicodeDecodeError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,  # zipfile: unsupported compression method
    RuntimeError,  # zipfile: encrypted member; RecursionError on absurd nesting
)


class Unreadable(Exception):
    """The package cannot be parsed (E101) or is too big to parse safely (E108)."""

    def __init__(self, message: str, code: str = "E101") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Ref:
    """A defined name resolved to one rectangular area on one sheet (zero-based, inclusive)."""

    sheet: str
    r0: int
    c0: int
    r1: int
    c1: int

    @property
    def a1(self) -> str:
        return a1_range(self.r0, self.c0, self.r1, self.c1)


# A name that exists but points nowhere usable: '#REF!', another workbook, several areas.
BROKEN = "broken"
MULTI = "multi"
NameTarget = Ref | str
# --- XML -------------------------------------------------------------------------------------
_XML_DECL = re.compile(rb"\A(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


def parse_xml(data: bytes) -> ET.Element:
    """Parse an XML part; entity-free UTF-8 goes to the fast C parser, the rest to defusedxml."""
    body = data[3:] if data[:3] == b"\xef\xbb\xbf" else data
    # '<' then a non-NUL byte: not UTF-16, so the byte search for '<!' below is meaningful.
    if body[:1] == b"<" and body[1:2] not in (b"\x00", b"") and b"<!" not in data:
        m = _XML_DECL.match(data)
        if m is None or m.group(1).lower().replace(b"-", b"") == b"utf8":
            return ET.fromstring(data)
    return DefusedET.fromstring(data, forbid_dtd=True)


def tag_local(tag: str) -> str:
    return tag[tag.rfind("}") + 1:]


def attr_local(elem: ET.Element, local: str) -> str | None:
    """An attribute by local name, whatever its namespace (r:id, strict OOXML)."""
    for key, value in elem.attrib.items():
        if key == local or key.endswith("}" + local):
            return value
    return None


# --- caching: the same few parts and strings recur in every file of a batch -----------------
_F = TypeVar("_F", bound=Callable[..., Any])


def small_cache(maxsize: int, limit: int) -> Callable[[_F], _F]:
    """lru_cache for inputs up to ``limit`` long; longer (hostile) ones are computed every time,
    so the cache never holds more than maxsize × limit."""
    def wrap(fn: _F) -> _F:
        cached = lru_cache(maxsize=maxsize)(fn)

        @wraps(fn)
        def call(first: Any, *args: Any) -> Any:
            return cached(first, *args) if len(first) <= limit else fn(first, *args)

        return cast(_F, call)

    return wrap


# --- packages: one per container format -------------------------------------------------------
class Package:
    """What the reader needs from a workbook file besides cell values."""

    def __init__(self) -> None:
        self.sheets: list[str] = []
        # casefolded workbook-scoped kofu_* name → target (never mutated once built: the xlsx
        # parse result is shared between files with the same workbook.xml)
        self.names: Mapping[str, NameTarget] = {}
        self.active: list[str] = []  # macros, links, DDE found (reported, never run)

    def formula_cells(self, sheet: str, cols: frozenset[int], last_row: int) -> set[tuple[int, int]]:
        """Zero-based (row, col) of the formula cells on ``sheet`` in columns ``cols`` up to
        ``last_row`` (the input area: everything else is skipped)."""
        try:
            return self._formula_cells(sheet, cols, last_row)
        except PARSE_ERRORS as e:
            raise Unreadable(parse_message(e)) from e

    def _formula_cells(self, sheet: str, cols: frozenset[int], last_row: int) -> set[tuple[int, int]]:
        raise NotImplementedError

    def check_extent(self, sheet: str) -> None:
        """Raise before calamine reads a sheet too big to hold. xlsx and ods extents were
        bounded by the pre-scan (:func:`check_workbook`); xls is bounded by its package."""


def parse_message(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0][:120] if str(e).strip() else ""
    detail = f"{type(e).__name__}: {text}" if text else type(e).__name__
    return f"ファイルが壊れているか Excel・OpenDocument の形式ではないため読み込めません（詳細: {detail}）"
