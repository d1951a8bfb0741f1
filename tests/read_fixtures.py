"""Helpers for the reader's tests: build a filled workbook, then damage or move it the way a
user (or an attacker) would, at the zip/XML level or with openpyxl."""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import openpyxl
from openpyxl.workbook.workbook import Workbook

from kofu_excel import forms
from kofu_excel.demo.sample import sample_values
from kofu_excel.refdata import Master, Municipality, Schedule
from kofu_excel.write.template import workbook_bytes


def first_muni(master: Master, code: str = "011002") -> Municipality:
    return master.select(munis=[code])[0]


def filled(kind: str, muni: Municipality, schedule: Schedule, seed: int = 2019,
           **overrides: Any) -> tuple[bytes, dict[str, Any]]:
    """A filled workbook and the values written into it (catalog id → value)."""
    values = sample_values(kind, muni, schedule, seed)
    values.update({k.replace("__", "."): v for k, v in overrides.items()})
    return workbook_bytes(kind, muni, values=values, schedule=schedule), values


def rewrite_zip(data: bytes, edits: Mapping[str, Callable[[bytes], bytes] | bytes | None]) -> bytes:
    """Copy an xlsx, replacing members (a function of the old bytes, new bytes, or None to
    drop); names not in the archive are added."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            edit = edits.get(info.filename, ...)
            if edit is None:
                continue
            body = src.read(info)
            if callable(edit):
                body = edit(body)
            elif edit is not ...:
                body = edit
            dst.writestr(info.filename, body)
        for name, edit in edits.items():
            if name not in src.NameToInfo and isinstance(edit, bytes):
                dst.writestr(name, edit)
    return out.getvalue()


def sheet_part(data: bytes, sheet: str) -> str:
    """The zip member holding ``sheet`` (xlsxwriter numbers sheets in order)."""
    wb_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/workbook.xml").decode()
    names = re.findall(r'<sheet name="([^"]+)"', wb_xml)
    return f"xl/worksheets/sheet{names.index(sheet) + 1}.xml"


def with_openpyxl(data: bytes, edit: Callable[[Workbook], None]) -> bytes:
    """Open with openpyxl, apply ``edit``, save: what a user's spreadsheet program does."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # data-validation extensions openpyxl drops
        wb = openpyxl.load_workbook(io.BytesIO(data))
        edit(wb)
        out = io.BytesIO()
        wb.save(out)
    return out.getvalue()


def shift_names(wb: Workbook, sheet: str, rows: int, cols: int = 0) -> None:
    """Move every defined name on ``sheet`` by rows/cols, as Excel does when rows are inserted
    above a table or the table is moved (openpyxl itself leaves names alone)."""
    def move(m: re.Match[str]) -> str:
        col = openpyxl.utils.column_index_from_string(m.group(1)) + cols
        return f"${openpyxl.utils.get_column_letter(col)}${int(m.group(2)) + rows}"

    for dn in wb.defined_names.values():
        ref = dn.attr_text or ""
        if ref.lstrip("'").startswith(sheet):
            dn.attr_text = re.sub(r"\$([A-Z]+)\$([0-9]+)", move, ref)


def set_name(wb: Workbook, name: str, ref: str) -> None:
    wb.defined_names[name].attr_text = ref


def comparable(v: Any) -> Any:
    """Raw values as different file formats give them, made comparable: 1234.0 and 1234,
    a date and a midnight datetime, '' and None."""
    if isinstance(v, bool):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, datetime) and (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0):
        return v.date()
    if v == "":
        return None
    return v


def expected_raw(value: Any) -> Any:
    """What a written canonical value looks like once read back raw."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return comparable(value)


def catalog_cells(kind: str) -> dict[str, tuple[str, str]]:
    return {e.id: (e.sheet, e.cell) for e in forms.catalog(kind)}


def patch_ole_stream(data: bytes, stream: str, offset: int, new: bytes) -> bytes:
    """Overwrite bytes of an OLE stream in place, following its sector chain (for damaging an
    .xls the way a hostile file would)."""
    import olefile

    ole = olefile.OleFileIO(io.BytesIO(data))
    entry = ole.direntries[ole._find(stream)]
    size = ole.sectorsize
    chain = []
    sect = entry.isectStart
    while sect not in (olefile.ENDOFCHAIN, olefile.FREESECT) and len(chain) < 1 << 16:
        chain.append(sect)
        sect = ole.fat[sect]
    out = bytearray(data)
    for i, byte in enumerate(new):
        pos = offset + i
        out[(chain[pos // size] + 1) * size + pos % size] = byte
    return bytes(out)


def biff_records(stream: bytes) -> list[tuple[int, int, int]]:
    """(offset, type, length) of every BIFF record in a Workbook stream."""
    import struct

    out, pos = [], 0
    while pos + 4 <= len(stream):
        rtype, length = struct.unpack_from("<HH", stream, pos)
        out.append((pos, rtype, length))
        pos += 4 + length
    return out
