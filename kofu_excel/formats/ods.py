"""OpenDocument spreadsheets (ods): the pre-scan's structure check and the reader's package.

Pre-scan (:func:`check_ods`): ``content.xml`` must be there, and every table in it is bounded
(:func:`kofu_excel.formats.xmlscan.ods_problem`). Reader (:class:`OdsPackage`): the
spreadsheet-level named ranges, ``table:formula`` cells of the input columns, and macros,
external links and DDE (reported, never run).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator

from ..cells import rowcol
from .limits import Limits
from .reader import (
    BROKEN,
    MULTI,
    NAME_PREFIX,
    NameTarget,
    Package,
    Ref,
    Unreadable,
    parse_xml,
    small_cache,
)
from .xmlscan import ods_problem
from .zip import ZipIndex, inflate

__all__ = ["OdsPackage", "check_ods"]


def check_ods(data: bytes, idx: ZipIndex, limits: Limits) -> tuple[str, str] | None:
    """(code, reason) when the ods must not reach a parser; raises Reject on a bad part."""
    content = idx.get("content.xml")
    if content is None:
        return ("E101", "ODS の本体（content.xml）がありません")
    problem = ods_problem(inflate(data, content), limits)
    return ("E108", problem) if problem else None


_ODS_SHEET = r"(?:'(?:[^']|'')+'|[^.:'\s]+)"
_ODS_REF = re.compile(
    rf"\$?({_ODS_SHEET})\.\$?([A-Z]{{1,3}})\$?([1-9][0-9]{{0,6}})"
    rf"(?::\$?({_ODS_SHEET})?\.\$?([A-Z]{{1,3}})\$?([1-9][0-9]{{0,6}}))?"
)


def _unquote_ods(sheet: str) -> str:
    return sheet[1:-1].replace("''", "'") if sheet.startswith("'") else sheet


@small_cache(maxsize=4096, limit=256)
def _ods_ref(text: str) -> NameTarget:
    """$'基本情報'.$B$5:.$B$46 → Ref."""
    m = _ODS_REF.fullmatch(text.strip())
    if m is None:
        return MULTI if " " in text.strip() else BROKEN
    sheet = _unquote_ods(m.group(1))
    if m.group(4) is not None and _unquote_ods(m.group(4)) != sheet:
        return MULTI
    r0, c0 = rowcol(m.group(2) + m.group(3))
    r1, c1 = rowcol(m.group(5) + m.group(6)) if m.group(5) else (r0, c0)
    return Ref(sheet, min(r0, r1), min(c0, c1), max(r0, r1), max(c0, c1))


_ODS_DDE = re.compile(rb"formula=\"[^\"]*\bDDE\(", re.IGNORECASE)


class OdsPackage(Package):
    NS_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    NS_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"

    def __init__(self, z: zipfile.ZipFile) -> None:
        super().__init__()
        self.zip = z
        members = z.namelist()
        if "content.xml" not in members:
            raise Unreadable("content.xml がありません（OpenDocument 表計算ではありません）")
        t, o = f"{{{self.NS_TABLE}}}", f"{{{self.NS_OFFICE}}}"
        self.t = t
        content = self.zip.read("content.xml")
        root = parse_xml(content)
        body = root.find(f"{o}body/{o}spreadsheet")
        if body is None:
            raise Unreadable("表計算のデータがありません")
        self.tables: dict[str, ET.Element] = {}
        names: dict[str, NameTarget] = {}
        self.names = names
        for elem in body:
            if elem.tag == f"{t}table":
                name = elem.get(f"{t}name") or ""
                self.sheets.append(name)
                self.tables[name] = elem
            elif elem.tag == f"{t}named-expressions":
                # Only the spreadsheet-level block: the ones inside a table are sheet-scoped.
                for nr in elem:
                    name = nr.get(f"{t}name") or ""
                    if name[:5].lower() != NAME_PREFIX:
                        continue
                    if nr.tag == f"{t}named-range":
                        names[name.casefold()] = _ods_ref(nr.get(f"{t}cell-range-address") or "")
                    else:  # a named expression (a formula), not a cell range
                        names[name.casefold()] = BROKEN
        if any(n.startswith(("Basic/", "Scripts/")) for n in members):
            self.active.append("マクロ（Basic・スクリプト）")
        if body.find(f".//{t}table-source") is not None or body.find(f".//{t}cell-range-source") is not None:
            self.active.append("外部リンク")
        if body.find(f"{t}dde-links") is not None or _ODS_DDE.search(content):
            self.active.append("DDE リンク")

    def _rows(self, table: ET.Element) -> Iterator[ET.Element]:
        """Rows in document order, through header-rows and row groups (no recursion)."""
        t = self.t
        stack = [iter(table)]
        groups = {f"{t}table-header-rows", f"{t}table-row-group", f"{t}table-rows"}
        while stack:
            for elem in stack[-1]:
                if elem.tag == f"{t}table-row":
                    yield elem
                elif elem.tag in groups:
                    stack.append(iter(elem))
                    break
            else:
                stack.pop()

    def _formula_cells(self, sheet: str, cols: frozenset[int], last_row: int) -> set[tuple[int, int]]:
        table = self.tables.get(sheet)
        if table is None or not cols:
            return set()
        t = self.t
        last_col = max(cols)
        cell_tags = (f"{t}table-cell", f"{t}covered-table-cell")
        found: set[tuple[int, int]] = set()
        r = 0
        for row in self._rows(table):
            if r > last_row:
                break
            nrows = max(1, int(row.get(f"{t}number-rows-repeated", "1")))
            c = 0
            for cell in row:
                if c > last_col:
                    break
                if cell.tag not in cell_tags:
                    continue
                ncols = max(1, int(cell.get(f"{t}number-columns-repeated", "1")))
                if cell.get(f"{t}formula") is not None:
                    # Clip repeats to the input area: a repeat count can be a million.
                    for rr in range(r, min(r + nrows, last_row + 1)):
                        for cc in range(c, min(c + ncols, last_col + 1)):
                            if cc in cols:
                                found.add((rr, cc))
                c += ncols
            r += nrows
        return found
