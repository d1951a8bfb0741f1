"""Byte-level XML scanning for the pre-scan: tags, DTD refusal, each sheet's extent.

The pre-scan cannot use an XML parser (the parts are hostile until checked), so these scans
read bytes: one linear, quote-aware pass over the tags (:func:`iter_tags`) that hostile XML
cannot make quadratic, the refusal of any DTD (:func:`refuse_dtd`), and the bounds of an
xlsx worksheet (:func:`xlsx_sheet_problem`) and an ods ``content.xml`` (:func:`ods_problem`).
calamine allocates the whole rectangle up to a sheet's farthest cell, so one cell at
XFD1048576 in a 5 KB file would abort the process.
"""

from __future__ import annotations

import codecs
import html
import re
import sys
from collections.abc import Iterator

from .base import Reject, col_letters, col_number
from .limits import Limits

__all__ = [
    "MAX_TAG",
    "as_utf8",
    "is_wide",
    "iter_tags",
    "local_name",
    "ods_problem",
    "prolog_end",
    "refuse_dtd",
    "tag_attrs",
    "tag_end",
    "tags_named",
    "too_wide",
    "xlsx_sheet_problem",
]

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLS = 16_384

# Every cell tag is looked at by one of three paths, cheapest first:
# - fast: each <c> is r="A1"-style (at most 2 letters, 3 digits) then only s/t/cm/vm/ph
#   attributes: the sheet is within ZZ999 (702 x 999 cells), whatever else the tags hold;
# - canonical: each <c> is the same with r="..." of any size: the farthest cells with content
#   are found with two findall passes;
# - exact: anything else (no r, prefixes, odd quoting or spacing, other attributes), tag by tag.
# Both patterns read the whole cell tag, so a second r attribute (calamine uses the last),
# however it is spaced or quoted and whatever a value before it holds (x=">" r=...), fails
# them and sends the sheet to the exact path: one pass instead of a whole-part copy and search.
# Possessive quantifiers (Python 3.11+; "+" after a quantifier) match exactly what the plain
# ones do here (what follows each one cannot be what it consumed), but spare the regex engine
# its backtracking records: a fifth of the pass.
_P = b"+" if sys.version_info >= (3, 11) else b""
_CELL_ATTRS = rb'(?: (?:s|t|cm|vm|ph)="[^"<>]*' + _P + rb'")*' + _P + rb"/?>"
_C_NOT_SMALL = re.compile(rb'<c(?! r="[A-Z]{1,2}[1-9][0-9]{0,2}' + _P + b'"' + _CELL_ATTRS + rb"|[^\s/>])")
_C_NOT_CANON = re.compile(rb'<c(?! r="[A-Z]{1,3}[1-9][0-9]{0,6}' + _P + b'"' + _CELL_ATTRS + rb"|[^\s/>])")
_C_CONTENT = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"[^<>]*(?<!/)>')
_C_EMPTY = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"([^<>]*)/>')
# Widest first: the first tier with a match holds the maximum, and same-length digit or
# letter strings compare like the numbers they spell.
_ROW_TIERS = [re.compile(rb'<c r="[A-Z]{1,3}([1-9][0-9]{%d})"' % (d - 1)) for d in range(7, 0, -1)]
_COL_TIERS = [re.compile(rb'<c r="([A-Z]{%d})[1-9]' % n) for n in (3, 2, 1)]
_C_PREFIXED = re.compile(rb":c[\s/>]")
_FAST_CELLS = 702 * 999
_REF = re.compile(r"([A-Za-z]{1,10})0*([0-9]{1,12})")
_TAG_STOP = re.compile(rb"[>\"']")
_TAG_NAME = re.compile(rb"/?([^\s/>]*)")
_ATTR_AT = re.compile(rb"\s*([^\s=/\"'<>]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
MAX_TAG = 64 * 1024


def tag_end(xml: bytes, lt: int) -> int:
    """Index of the ">" closing the tag that starts at `lt`, skipping quoted values; -1 if none."""
    i = lt + 1
    while True:
        m = _TAG_STOP.search(xml, i)
        if m is None:
            return -1
        if m.group() == b">":
            return m.start()
        close = xml.find(m.group(), m.end())
        if close < 0:
            return -1
        i = close + 1


def iter_tags(xml: bytes) -> Iterator[tuple[bool, bytes, bytes]]:
    """(closing, local name, attribute text) of each element tag, in one linear pass.

    Quote-aware (a ">" inside an attribute value does not end the tag), skips comments, CDATA
    and processing instructions, and never backtracks: hostile XML cannot make it quadratic.
    """
    n = len(xml)
    find = xml.find
    pos = 0
    while True:
        lt = find(b"<", pos)
        if lt < 0 or lt + 1 >= n:
            return
        if xml.startswith(b"<!--", lt):
            end = find(b"-->", lt + 4)
            pos = n if end < 0 else end + 3
            continue
        if xml.startswith(b"<![CDATA[", lt):
            end = find(b"]]>", lt + 9)
            pos = n if end < 0 else end + 3
            continue
        if xml.startswith((b"<?", b"<!"), lt):
            end = find(b">", lt + 2)
            pos = n if end < 0 else end + 1
            continue
        gt = tag_end(xml, lt)
        if gt < 0:
            return  # unterminated tag: no parser reads past it either
        if gt - lt > MAX_TAG:
            raise Reject("E111", "シートの XML に異常に長いタグがあります")
        body = xml[lt + 1 : gt]
        pos = gt + 1
        nm = _TAG_NAME.match(body)
        name = nm.group(1) if nm else b""
        yield body.startswith(b"/"), name.rsplit(b":", 1)[-1], body[nm.end() if nm else 0 :]


def tag_attrs(raw: bytes) -> list[tuple[bytes, bytes]]:
    """Attributes of one tag, read left to right (linear); a malformed rest is refused."""
    out: list[tuple[bytes, bytes]] = []
    pos = 0
    while True:
        m = _ATTR_AT.match(raw, pos)
        if m is None:
            break
        out.append((m.group(1), m.group(2) if m.group(2) is not None else m.group(3)))
        pos = m.end()
    rest = raw[pos:].strip()
    if rest not in (b"", b"/"):
        raise Reject("E111", "シートの XML の属性の書き方が不正です")
    return out


def local_name(key: bytes) -> bytes:
    return key.rsplit(b":", 1)[-1]


_NAMED_TAG = {
    name: (re.compile(b"<" + name + rb"[\s/>]"), re.compile(b":" + name + rb"[\s/>]"))
    for name in (b"sheet", b"Relationship")
}


def tags_named(xml: bytes, name: bytes) -> list[bytes]:
    """Attribute texts of the start tags called `name`, without tokenising the whole part.

    Each candidate "<name" is read with the quote-aware scanner; a prefixed spelling anywhere
    (x:sheet) sends the whole part through the scanner instead.
    """
    plain, prefixed = _NAMED_TAG[name]
    if prefixed.search(xml):
        return [attrs for closing, local, attrs in iter_tags(xml) if not closing and local == name]
    out = []
    for m in plain.finditer(xml):
        gt = tag_end(xml, m.start())
        if gt > 0:
            out.append(xml[m.end() - 1 : gt])
    return out


def is_wide(xml: bytes) -> bool:
    """UTF-16/32 (a BOM, or a NUL among the first bytes): byte scans must convert it first."""
    head = xml[:4]
    return head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) == 4 and 0 in head)


def as_utf8(xml: bytes) -> bytes:
    """XML parts in UTF-16/32 are converted, so that the byte-level scans see every tag."""
    if is_wide(xml):
        for enc in ("utf-32", "utf-16", "utf-16-le", "utf-16-be"):
            try:
                text = xml.decode(enc)
            except UnicodeDecodeError:
                continue
            if "<" in text[:64]:
                return text.encode("utf-8")
        raise Reject("E111", "シートの XML の文字コードが不正です")
    return xml


_PROLOG_SKIP = re.compile(rb"(?:\s|<\?.*?\?>|<!--.*?-->)*", re.S)


def prolog_end(xml: bytes) -> int:
    """Where the prolog's BOM, white space, processing instructions and comments end: a DTD
    or the root element starts there (in a part cut short, possibly an unfinished comment)."""
    pos = 3 if xml.startswith(codecs.BOM_UTF8) else 0
    m = _PROLOG_SKIP.match(xml, pos)
    return m.end() if m else pos


def refuse_dtd(xml: bytes, where: str) -> None:
    """A DTD (``<!DOCTYPE …>``) is where entity bombs and external entities live, and no
    spreadsheet program writes one into a workbook part. It can only stand in the prolog,
    before the root element, so only the prolog is looked at: O(1) on a real part."""
    if xml.startswith(b"<!DOCTYPE", prolog_end(xml)):
        raise Reject("E101", f"{where}の XML に DTD（<!DOCTYPE> 宣言）があります。表計算ソフトが作るブックには"
                              "無いもので、XML の実体展開・外部実体の攻撃に使われるため取り込みません")


def too_wide(where: str, rows: int, cols: int, limits: Limits) -> str | None:
    if rows > EXCEL_MAX_ROWS or cols > EXCEL_MAX_COLS:
        return (f"{where}にセル {col_letters(cols)}{rows} があり、Excel の上限"
                f"（{EXCEL_MAX_ROWS:,} 行 × {EXCEL_MAX_COLS:,} 列）を超えています")
    if rows * cols > limits.max_cells:
        return (f"{where}の使用範囲が A1:{col_letters(cols)}{rows}（約 {rows * cols:,} セル）と広く、"
                f"上限 {limits.max_cells:,} セルを超えています。離れた位置に入力されたセルを削除して保存し直してください")
    return None


def xlsx_sheet_problem(xml: bytes, where: str, limits: Limits) -> str | None:
    """Bound a worksheet's extent: max row x max column over the cells with content.

    calamine allocates the whole rectangle up to the farthest non-empty cell, so one cell at
    XFD1048576 in a 5 KB file asks for 512 GiB and aborts the process. Self-closing cells
    (formatting only) are not placed by calamine; the fast path counts them anyway, because it
    only needs an upper bound.
    """
    xml = as_utf8(xml)
    refuse_dtd(xml, where)
    # calamine places only the cells after the start of <sheetData> (before it, it reads the
    # <dimension> capacity hint, which it caps): the cheap passes start at the first bytes
    # "sheetData", which are at or before that start tag however it is spelled (prefixed, or
    # after a decoy in a comment), and read the rest to the end.
    start = max(xml.find(b"sheetData"), 0)
    if _C_PREFIXED.search(xml, start):
        return _xlsx_sheet_exact(xml, where, limits)
    if limits.max_cells >= _FAST_CELLS and not _C_NOT_SMALL.search(xml, start):
        return None
    if _C_NOT_CANON.search(xml):
        return _xlsx_sheet_exact(xml, where, limits)
    # Canonical but large: first an upper bound over all cells, formatting-only ones included.
    rows = next((int(max(found)) for tier in _ROW_TIERS if (found := tier.findall(xml))), 0)
    cols = next((col_number(max(found)) for tier in _COL_TIERS if (found := tier.findall(xml))), 0)
    if too_wide(where, rows, cols, limits) is None:
        return None
    filled = _C_CONTENT.findall(xml)
    empty = _C_EMPTY.findall(xml)
    if len(filled) + len(empty) != xml.count(b'<c r="'):
        return _xlsx_sheet_exact(xml, where, limits)  # a "<" inside a tag: read it properly
    # A tag only looks self-closing if an attribute value holds "/>": odd quotes give it away.
    filled += [(c, r) for c, r, rest in empty if rest.count(b'"') % 2]
    if not filled:
        return None
    letters, digits = zip(*filled, strict=True)
    rows = max(map(int, set(digits)))
    cols = max(col_number(x) for x in set(letters))
    return too_wide(where, rows, cols, limits)


def _xlsx_sheet_exact(xml: bytes, where: str, limits: Limits) -> str | None:
    """Tag by tag, following calamine's placement of cells without an r attribute."""
    max_row = max_col = 0
    row = 0
    col = 0
    for closing, local, raw_attrs in iter_tags(xml):
        if closing or local not in (b"row", b"c"):
            continue
        refs = [v for k, v in tag_attrs(raw_attrs) if k == b"r"]
        if local == b"row":
            nums = [int(v) for v in refs if v.strip().isdigit()]
            row = max(nums) if nums else row + 1
            col = 0
            continue
        # Be generous where calamine may be strict (case, entities, leading zeros): an upper
        # bound is what matters here.
        parsed = [mm for v in refs
                  if (mm := _REF.fullmatch(html.unescape(v.decode("latin-1")).strip()))]
        if parsed:
            col = max(col_number(mm.group(1).encode("ascii")) for mm in parsed)
            row_here = max(int(mm.group(2)) for mm in parsed)
        else:
            col += 1
            row_here = max(row, 1)
        if raw_attrs.rstrip().endswith(b"/"):
            continue  # formatting only: calamine does not place it
        max_row = max(max_row, row_here)
        max_col = max(max_col, col)
        problem = too_wide(where, max_row, max_col, limits)
        if problem:
            return problem
    return None


_ODS_TABLE_NS = b"urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_ODS_TAGS = re.compile(rb"<(/?)table:(table(?:-row|-cell)?|covered-table-cell)(?=[\s/>])([^<>]*)>")


def _ods_tags(xml: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """(b"/" or b"", local name, attribute text) of the table, row and cell tags of content.xml.

    One regex when the file is as every writer makes it (prefix "table" bound once, no
    comments, no "<" or ">" inside these tags); otherwise the general tag scanner.
    """
    if (xml.count(_ODS_TABLE_NS) == 1 and b'xmlns:table="' + _ODS_TABLE_NS + b'"' in xml
            and b"<!--" not in xml and b"<![CDATA[" not in xml):
        tags = _ODS_TAGS.findall(xml)
        opened = (xml.count(b"<table:table-cell") + xml.count(b"<table:covered-table-cell")
                  + xml.count(b"<table:table-row") - xml.count(b"<table:table-row-")
                  - xml.count(b"<table:table-rows"))
        if (sum(1 for c, n, _ in tags if not c and n != b"table") == opened
                and not any(a.count(b'"') % 2 for _, _, a in tags)):
            return tags
    return [(b"/" if closing else b"", local, raw_attrs) for closing, local, raw_attrs in iter_tags(xml)
            if local in (b"table", b"table-row", b"table-cell", b"covered-table-cell")]


_REPEAT = re.compile(rb"number-(?:rows|columns)-repeated\s*=\s*[\"']\s*([0-9]{1,15})")


def ods_problem(xml: bytes, limits: Limits) -> str | None:
    """Bound each table of content.xml, multiplying repeats only for cells with content.

    LibreOffice writes the empty rest of a sheet as huge repeats (a row repeated 1,048,535 times
    holding an empty cell repeated 16,384 times); those are free. A content cell or row repeated
    that often is not: calamine stops at 100 million cells with an error, but well before that
    the rectangle costs gigabytes.
    """
    xml = as_utf8(xml)
    refuse_dtd(xml, "content.xml ")
    tables = 0
    name = ""
    row = max_row = max_col = 0
    row_rep = 1
    row_col = row_max_col = 0
    in_row = False

    def finish_row() -> str | None:
        nonlocal row, max_row, max_col, in_row
        in_row = False
        if row_max_col:
            max_row = max(max_row, row + row_rep)
            max_col = max(max_col, row_max_col)
        row += row_rep
        return too_wide(f"シート「{name}」", max_row, max_col, limits)

    for closing, local, attrs in _ods_tags(xml):
        tail = attrs[-1:]
        selfclosing = tail == b"/" or (tail in b" \t\r\n" and attrs.rstrip()[-1:] == b"/")
        if local == b"table-cell" or local == b"covered-table-cell":
            if closing:
                continue
            reps = 1
            if b"repeated" in attrs:
                m = _REPEAT.search(attrs)
                reps = int(m.group(1)) if m else 1
            row_col += reps
            if not selfclosing or b"value-type" in attrs or b"formula" in attrs:
                row_max_col = row_col
            continue
        # A row ends at its close tag, when the next row opens, or when its table ends.
        if in_row and (problem := finish_row()):
            return problem
        if local == b"table-row":
            if not closing:
                m = _REPEAT.search(attrs) if b"repeated" in attrs else None
                row_rep = int(m.group(1)) if m else 1
                row_col = row_max_col = 0
                in_row = True
                if selfclosing and (problem := finish_row()):
                    return problem
        elif closing:  # end of a table
            if problem := too_wide(f"シート「{name}」", max_row, max_col, limits):
                return problem
        else:
            tables += 1
            if tables > limits.max_sheets:
                return f"シートが {limits.max_sheets} 枚を超えています"
            name = next((html.unescape(v.decode("utf-8", "replace")) for k, v in tag_attrs(attrs)
                         if local_name(k) == b"name"), "")
            row = max_row = max_col = 0
    if in_row and (problem := finish_row()):
        return problem
    return too_wide(f"シート「{name}」", max_row, max_col, limits)
