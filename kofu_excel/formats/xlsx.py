"""Office Open XML workbooks (xlsx, xlsm): the pre-scan's structure checks and the reader's package.

Pre-scan (:func:`check_xlsx`): the workbook's folder (calamine reads the one ``_rels/.rels``
names: it must be ``xl/``), the number of sheets, every worksheet part's extent (found
through the workbook's relationships as calamine and OPC resolve them, and any stray part
under ``xl/worksheets/``), the shared-string table's declared count (calamine reserves room
for every string declared: 4294967295 aborts the process) and DTDs in the parts calamine parses.
Results of parts equal across files (instruction sheets, styles) are kept by their stored
bytes (:class:`_Verdicts`).

Reader (:class:`XlsxPackage`): defined names from the small ``xl/workbook.xml`` (calamine
exposes none), formula cells found in the raw sheet part with one regex limited to the input
columns, and macros, external links, DDE and OLE objects (reported, never run).
"""

from __future__ import annotations

import html
import os
import posixpath
import re
import struct
import unicodedata
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from ..cells import col_name, parse_range, rowcol
from .base import Reject
from .limits import Limits
from .reader import (
    BROKEN,
    MULTI,
    NAME_PREFIX,
    NameTarget,
    Package,
    Ref,
    Unreadable,
    attr_local,
    parse_xml,
    small_cache,
    tag_local,
)
from .xmlscan import (
    as_utf8,
    is_wide,
    iter_tags,
    local_name,
    prolog_end,
    refuse_dtd,
    tag_attrs,
    tag_end,
    tags_named,
    xlsx_sheet_problem,
)
from .zip import Stored, ZipEntry, ZipIndex, inflate, inflate_head, inflate_stored, stored

__all__ = ["XlsxPackage", "check_xlsx"]

# --- pre-scan --------------------------------------------------------------------------------

_SST_START = re.compile(rb"<(?:[\w.-]{1,40}:)?sst[\s/>]")


_WorkbookParts = tuple[int, Mapping[str, str], frozenset[str]]


def _workbook_parts(data: bytes, rels: ZipEntry | None, wb: ZipEntry | None) -> _WorkbookParts:
    """From the workbook part and its relationships: the number of sheets, each sheet's part
    (casefolded) → where (for reasons), and the shared-string parts. Cached by the two parts
    as stored (:func:`stored`): the files of one template share both, so a batch inflates and
    parses them about once (large ones are inflated and parsed every time, never kept). A DTD
    or a broken part raises Reject, and a Reject is never cached."""
    key = (stored(data, rels) if rels is not None else None, stored(data, wb) if wb is not None else None)
    if sum(len(k[0]) for k in key if k is not None) <= 64 * 1024:
        return _workbook_parts_cached(*key)
    return _workbook_parts_of(*key)


def _workbook_parts_of(rels: Stored | None, wb: Stored | None) -> _WorkbookParts:
    return _parse_workbook_parts(
        as_utf8(inflate_stored(rels, "xl/_rels/workbook.xml.rels")) if rels is not None else b"",
        as_utf8(inflate_stored(wb, "xl/workbook.xml")) if wb is not None else b"")


def _parse_workbook_parts(rels_xml: bytes, wb_xml: bytes) -> _WorkbookParts:
    rels: dict[str, tuple[str, str]] = {}
    if rels_xml:
        refuse_dtd(rels_xml, "xl/_rels/workbook.xml.rels ")
        for raw_attrs in tags_named(rels_xml, b"Relationship"):
            a = {local_name(k): html.unescape(v.decode("utf-8", "replace")) for k, v in tag_attrs(raw_attrs)}
            rels[a.get(b"Id", "")] = (a.get(b"Type", ""), a.get(b"Target", ""))
    parts: dict[str, str] = {}
    sheets = 0
    if wb_xml:
        refuse_dtd(wb_xml, "xl/workbook.xml ")
        for raw_attrs in tags_named(wb_xml, b"sheet"):
            sheets += 1
            a = tag_attrs(raw_attrs)
            sheet_name = next((html.unescape(v.decode("utf-8", "replace")) for k, v in a
                               if k == b"name"), "")
            for k, v in a:
                if local_name(k) == b"id" and b":" in k:
                    _, target = rels.get(html.unescape(v.decode("utf-8", "replace")), ("", ""))
                    for part in _xlsx_target(target) if target else []:
                        parts[part] = f"シート「{sheet_name}」"
    sst_parts = {"xl/sharedstrings.xml"}
    for rel_type, target in rels.values():
        if rel_type.endswith("/sharedStrings") and target:
            sst_parts.update(_xlsx_target(target))
    return sheets, MappingProxyType(parts), frozenset(sst_parts)


_workbook_parts_cached = lru_cache(maxsize=32)(_workbook_parts_of)


def _xlsx_target(target: str) -> list[str]:
    """The index keys of the parts a relationship target may name (each looked up if it
    exists): as calamine resolves it (from the package root when it starts with "/", else under
    xl/ as written), as OPC does (normalised), and as older readers did."""
    rel = target.lstrip("/")
    names = [
        target[1:] if target.startswith("/") else "xl/" + target,  # calamine
        rel if target.startswith("/") else posixpath.normpath("xl/" + target),  # OPC
        rel if rel.startswith("xl/") else "xl/" + target,
        os.path.normpath(os.path.join("xl", rel)),
    ]
    # Keys as the zip index spells member names (NFC, "/" separators, casefolded).
    return [unicodedata.normalize("NFC", n.replace("\\", "/")).casefold() for n in names]


# What the last passed pre-scan learnt of a package (its checked zip directory, the sheet
# parts it inflated), for the reader that opens the same bytes next (pool.take: intake, then
# read): one slot, taken by the reader, matched by identity.
_scanned: tuple[bytes, ZipIndex, dict[str, bytes]] | None = None


def take_scanned(data: bytes) -> tuple[ZipIndex, dict[str, bytes]] | None:
    """The pre-scan's zip directory and inflated parts of exactly these bytes, once."""
    global _scanned
    slot, _scanned = _scanned, None
    return (slot[1], slot[2]) if slot is not None and slot[0] is data else None


class _Verdicts:
    """Verdicts of pure checks of small parts, found again when a later file stores the same
    bytes (instruction sheets, styles): the verdicts are kept, never the inflated parts.

    Looked up by the member's CRC, sizes and method plus what the check depends on, then
    confirmed by comparing the stored bytes in place (a CRC alone is easy to forge). Equal
    stored bytes inflate to equal bytes that pass the same size and CRC checks. Only parts
    stored in at most ``max_raw`` bytes are kept, at most ``size`` of them; a Reject raised by a
    check is never kept, so such a part is refused every time.
    """

    MISS: Final = "\0miss"

    def __init__(self, size: int = 64, max_raw: int = 64 * 1024) -> None:
        self.size, self.max_raw = size, max_raw
        self._kept: OrderedDict[tuple[object, ...], tuple[bytes, str | None]] = OrderedDict()

    def get(self, data: bytes, e: ZipEntry, *context: object) -> str | None:
        """The verdict kept for this member's bytes, or :attr:`MISS`."""
        key = (e.crc, e.file_size, e.compress_size, e.method, *context)
        kept = self._kept.get(key)
        if kept is None or not data.startswith(kept[0], e.data_start):
            return self.MISS
        self._kept.move_to_end(key)
        return kept[1]

    def put(self, data: bytes, e: ZipEntry, verdict: str | None, *context: object) -> None:
        if e.compress_size <= self.max_raw:
            key = (e.crc, e.file_size, e.compress_size, e.method, *context)
            self._kept[key] = (data[e.data_start : e.data_start + e.compress_size], verdict)
            self._kept.move_to_end(key)
            if len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def clear(self) -> None:
        self._kept.clear()


_verdicts = _Verdicts()


_HEAD = 1024


def _part_start(data: bytes, e: ZipEntry) -> bytes:
    """A part's prolog and its root element's start tag, as UTF-8: only the first KB when both
    lie in it (as every writer makes them), else the whole part, so that neither a long prolog
    nor a long root tag can push a DTD or an attribute past what is looked at."""
    if e.file_size > _HEAD:
        head = inflate_head(data, e, _HEAD)
        if not is_wide(head):
            p = prolog_end(head)
            if (head[p : p + 1] == b"<" and head[p + 1 : p + 2] not in (b"!", b"?", b"")
                    and tag_end(head, p) > 0):
                return head
    return as_utf8(inflate(data, e))


def _office_document_problem(xml: bytes) -> str | None:
    """calamine reads the workbook, its relationships, shared strings, styles and relative
    sheet targets under the folder of the package's officeDocument target (_rels/.rels), not
    under xl/: a target elsewhere would have it read parts this scan never looked at. Every
    writer puts the workbook in xl/, so any other folder is refused. Every Type and Target
    spelling (prefixed, repeated) is looked at, so that none can hide behind another."""
    refuse_dtd(xml, "_rels/.rels ")
    for raw_attrs in tags_named(xml, b"Relationship"):
        attrs = [(local_name(k), html.unescape(v.decode("utf-8", "replace"))) for k, v in tag_attrs(raw_attrs)]
        if any(k == b"Type" and v.endswith("/officeDocument") for k, v in attrs):
            for k, target in attrs:
                # calamine: the target up to its last "/", without a leading "/"
                if k == b"Target" and target[: target.rfind("/") + 1].removeprefix("/").casefold() != "xl/":
                    return (f"ブック本体の場所（{target[:80]}）が xl/ ではありません。表計算ソフトが作るブックには無い形で、"
                            "検査した部品と別の部品が読まれるため取り込みません")
    return None


def _sst_tags(data: bytes, e: ZipEntry) -> list[bytes]:
    """The attribute texts of the shared-string part's <sst> start tags, DTD refused.

    calamine reads uniqueCount from the first start tag whose local name is sst, wherever it
    stands. Every writer makes it the root, in the first KB: then only that KB is inflated.
    Otherwise (another root, a prolog or root tag past the first KB, UTF-16) the whole part is
    read tag by tag, comments skipped as a parser skips them, and every sst tag is returned.
    """
    where = "共有文字列（sharedStrings.xml）"
    if e.file_size > _HEAD:
        head = inflate_head(data, e, _HEAD)
        if not is_wide(head):
            p = prolog_end(head)
            m = _SST_START.match(head, p)
            gt = tag_end(head, p) if m else -1
            if m and gt > 0:
                refuse_dtd(head, where)  # the prolog ended within the head: a DTD would be in it
                return [head[m.end() - 1 : gt]]
    xml = as_utf8(inflate(data, e))
    refuse_dtd(xml, where)
    return [attrs for closing, local, attrs in iter_tags(xml) if not closing and local == b"sst"]


def check_xlsx(data: bytes, idx: ZipIndex, limits: Limits) -> tuple[str, str] | None:
    global _scanned
    _scanned = None
    inflated: dict[str, bytes] = {}
    package_rels = idx.get("_rels/.rels")
    if package_rels is not None:
        problem = _verdicts.get(data, package_rels, "_rels/.rels")
        if problem is _Verdicts.MISS:
            problem = _office_document_problem(as_utf8(inflate(data, package_rels)))
            _verdicts.put(data, package_rels, problem, "_rels/.rels")
        if problem:
            return ("E101", problem)
    sheets, sheet_parts, sst_targets = _workbook_parts(
        data, idx.get("xl/_rels/workbook.xml.rels"), idx.get("xl/workbook.xml"))
    # The sheet parts that exist, each once: those the workbook's relationships name (every
    # way a target may be resolved) and any stray part in a sheet folder.
    members = idx.by_name  # casefolded, "/" separators
    found: dict[int, tuple[ZipEntry, str]] = {}  # entry index -> (entry, where, for reasons)
    for part, where in sheet_parts.items():
        e = members.get(part)
        if e is not None and not e.is_dir:
            found.setdefault(e.index, (e, where))
    for key, e in members.items():
        if key.startswith(("xl/worksheets/", "xl/macrosheets/", "xl/dialogsheets/")) \
                and not key.endswith(".rels") and not e.is_dir and e.index not in found:
            found[e.index] = (e, f"シート（{e.name}）")
    sheets = max(sheets, len(found))
    if sheets > limits.max_sheets:
        return ("E108", f"シートが {sheets} 枚あり、上限 {limits.max_sheets} 枚を超えています")
    max_cells = limits.max_cells  # all that xlsx_sheet_problem reads of the limits
    for e, where in found.values():
        problem = _verdicts.get(data, e, where, max_cells)
        if problem is _Verdicts.MISS:
            # The reader takes these parts (take_scanned) instead of inflating them again; a
            # part whose verdict was kept is inflated by the reader only if it reads it.
            xml = inflated[e.name] = inflate(data, e)
            problem = xlsx_sheet_problem(xml, where, limits)
            _verdicts.put(data, e, problem, where, max_cells)
        if problem:
            return ("E108", problem)
    # calamine reserves room for every shared string the table declares (uniqueCount) before
    # reading any: 4294967295 aborts the process.
    for part in sst_targets:
        e = members.get(part)
        if e is None:
            continue
        for raw_attrs in _sst_tags(data, e):
            for k, v in tag_attrs(raw_attrs):
                value = v.strip().lstrip(b"+")
                if local_name(k) == b"uniqueCount" and value.isdigit():
                    declared = int(value[:20])
                    # every <si> takes at least 8 bytes, so the part's size bounds the count
                    if declared > e.file_size // 8 + 16:
                        return ("E108", f"共有文字列の宣言数（{declared:,} 件）が実際の内容に比べて不正に大きいため取り込みません")
    styles = idx.get("xl/styles.xml")  # calamine parses it too
    if styles is not None and _verdicts.get(data, styles, "styles") is _Verdicts.MISS:
        refuse_dtd(_part_start(data, styles), "xl/styles.xml ")
        _verdicts.put(data, styles, None, "styles")
    _scanned = (data, idx, inflated)
    return None


# --- reader ----------------------------------------------------------------------------------
# --- reference parsing -----------------------------------------------------------------------
_XLSX_REF = re.compile(
    r"(?:'(?:[^']|'')+'|[^'!:\[\]]+)!\$?[A-Z]{1,3}\$?[1-9][0-9]{0,6}(?::\$?[A-Z]{1,3}\$?[1-9][0-9]{0,6})?"
)


@small_cache(maxsize=4096, limit=256)
def _xlsx_ref(text: str) -> NameTarget:
    """'基本情報'!$B$5:$B$46 → Ref; '#REF!', external or multi-area references → a reason."""
    text = text.strip().lstrip("=").strip()
    if _XLSX_REF.fullmatch(text) is None:
        return MULTI if "," in text and "#REF!" not in text and "[" not in text else BROKEN
    sheet, (r0, c0, r1, c1) = parse_range(text)
    return Ref(sheet, min(r0, r1), min(c0, c1), max(r0, r1), max(c0, c1))


@lru_cache(maxsize=256)
def _formula_regex(cols: tuple[str, ...]) -> re.Pattern[bytes]:
    """Cells of the given columns whose element starts with <f> (a formula): one regex per
    column set, so the scan skips every other cell at C speed."""
    alt = "|".join(cols).encode()
    # Starts with the literal 'r=' so the regex engine can skip ahead fast (~6x faster than a
    # leading '<c' or '\s'); no other sheetData attribute name ends in 'r'.
    return re.compile(rb"r=[\"'](" + alt + rb")([0-9]{1,7})[\"'][^>]*>\s*<(?:[\w.-]+:)?f[\s>/]")


@small_cache(maxsize=32, limit=64 * 1024)
def _workbook_xml(data: bytes) -> tuple[tuple[str, ...], Mapping[str, str], Mapping[str, NameTarget]]:
    """workbook.xml → (sheet names, sheet name → r:id, kofu_* names). Cached by content: the
    files of one template share the same workbook.xml, so a batch parses it about once."""
    sheets: list[str] = []
    rids: dict[str, str] = {}
    names: dict[str, NameTarget] = {}
    for elem in parse_xml(data):
        tag = tag_local(elem.tag)
        if tag == "sheets":
            for sh in elem:
                name, rid = sh.get("name"), attr_local(sh, "id")
                if name is not None:
                    sheets.append(name)
                    if rid is not None:
                        rids[name] = rid
        elif tag == "definedNames":
            for d in elem:
                name = d.get("name")
                # Sheet-scoped names (print titles, copies of a sheet) are not ours.
                if name and d.get("localSheetId") is None and name[:5].lower() == NAME_PREFIX:
                    names[name.casefold()] = _xlsx_ref(d.text or "")
    # Read-only views: the cached result is shared by every file with this workbook.xml.
    return tuple(sheets), MappingProxyType(rids), MappingProxyType(names)


@small_cache(maxsize=32, limit=64 * 1024)
def _rels_targets(data: bytes, base: str) -> Mapping[str, str]:
    """A .rels part → relationship id → part path (resolved against ``base``)."""
    out = {}
    for rel in parse_xml(data):
        rid, target = rel.get("Id"), rel.get("Target") or ""
        if rid is not None:
            out[rid] = (target.lstrip("/") if target.startswith("/")
                        else posixpath.normpath(posixpath.join(base, target)))
    return MappingProxyType(out)


class XlsxPackage(Package):
    def __init__(self, z: zipfile.ZipFile | None, data: bytes,
                 scanned: tuple[ZipIndex, dict[str, bytes]] | None = None) -> None:
        """From zipfile's directory, or from the pre-scan's (``scanned``: its checked
        directory and the parts it inflated and CRC-checked, not parsed or inflated again)."""
        super().__init__()
        self.zip, self.data, self.raw = z, memoryview(data), data
        self.index, self.inflated = scanned if scanned is not None else (None, {})
        names = [e.name for e in self.index.entries] if self.index is not None else z.namelist()  # type: ignore[union-attr]
        # Part names are case-insensitive in OPC; zipfile is not.
        self.members = {n.lower(): n for n in names}
        if "xl/workbook.bin" in self.members:
            raise Unreadable("xlsb 形式（Excel バイナリブック）には対応していません。xlsx で保存してください")
        self.wb_path = "xl/workbook.xml" if "xl/workbook.xml" in self.members else self._office_document()
        sheets, self.sheet_rids, self.names = _workbook_xml(self._read(self.wb_path))
        self.sheets = list(sheets)
        self._paths: dict[str, str] | None = None
        self._scan_active()

    def _read(self, path: str) -> bytes:
        if path.lower() not in self.members:
            raise Unreadable(f"ブックの部品 {path} がありません")
        return self._inflate(path)

    def _inflate(self, path: str) -> bytes:
        """A member's bytes, inflated straight from the archive: half the cost of
        ``ZipFile.read`` (no CRC pass, no file object), bounded by the size the pre-scan checked."""
        name = self.members[path.lower()]
        done = self.inflated.get(name)
        if done is not None:
            return done
        if self.index is not None:
            e = self.index.get(name)
            if e is None or e.is_dir:
                raise Unreadable(f"ブックの部品 {path} がありません")
            try:
                return inflate(self.raw, e)
            except Reject as r:
                raise Unreadable(r.reason) from None
        assert self.zip is not None
        info = self.zip.getinfo(name)
        if info.compress_type != zipfile.ZIP_DEFLATED:
            return self.zip.read(info)
        buf, off = self.data, info.header_offset
        if buf[off:off + 4] != b"PK\x03\x04":
            raise Unreadable(f"ブックの部品 {path} のヘッダーが壊れています")
        name_len, extra_len = struct.unpack_from("<HH", buf, off + 26)
        start = off + 30 + name_len + extra_len
        out = zlib.decompressobj(-15).decompress(buf[start:start + info.compress_size], info.file_size + 1)
        if len(out) != info.file_size:
            raise Unreadable(f"ブックの部品 {path} が壊れています（展開後の大きさが目録と違います）")
        return out

    def _office_document(self) -> str:
        if "_rels/.rels" not in self.members:
            raise Unreadable("xl/workbook.xml がありません（Excel ブックではありません）")
        for rel in parse_xml(self._read("_rels/.rels")):
            if (rel.get("Type") or "").endswith("/officeDocument"):
                return (rel.get("Target") or "").lstrip("/")
        raise Unreadable("ブック本体（officeDocument）が見つかりません")

    def _scan_active(self) -> None:
        m = self.members
        if any(n.endswith("vbaproject.bin") for n in m):
            self.active.append("マクロ（VBA）")
        if any(n.startswith("xl/macrosheets/") for n in m):
            self.active.append("Excel 4.0 マクロシート")
        links = [n for n in m if n.startswith("xl/externallinks/") and n.endswith(".xml")]
        if links:
            self.active.append("外部リンク")
            if any(b"ddeLink" in self._read(n) for n in links):
                self.active.append("DDE リンク")
        if any(n.startswith(("xl/embeddings/", "xl/activex/")) for n in m):
            self.active.append("OLE オブジェクト・ActiveX コントロール")

    def _sheet_path(self, sheet: str) -> str | None:
        if self._paths is None:
            wb_dir = posixpath.dirname(self.wb_path)
            rels = posixpath.join(wb_dir, "_rels", posixpath.basename(self.wb_path) + ".rels")
            targets = _rels_targets(self._read(rels), wb_dir) if rels.lower() in self.members else {}
            self._paths = {name: targets[rid] for name, rid in self.sheet_rids.items() if rid in targets}
        return self._paths.get(sheet)

    def _formula_cells(self, sheet: str, cols: frozenset[int], last_row: int) -> set[tuple[int, int]]:
        path = self._sheet_path(sheet)
        if path is None or path.lower() not in self.members:
            return set()
        xml = self._read(path)
        pattern = _formula_regex(tuple(sorted(col_name(c) for c in cols)))
        found = set()
        for col, row in pattern.findall(xml):
            r, c = rowcol(col.decode() + row.decode())
            if r <= last_row:
                found.add((r, c))
        return found
