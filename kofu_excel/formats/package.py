"""The two entry points of the formats: the safety pre-scan and the reader's package.

Both pick the format by the bytes, never by the file name: ``PK`` is a zip package (xlsx,
xlsm, ods), the OLE magic is an xls. :func:`check_workbook` must pass before any parser sees
the bytes (python-calamine aborts the whole process, a Rust abort, on some hostile sheet
extents); :func:`open_package` then gives the reader the workbook's names and formula cells.
"""

from __future__ import annotations

import zipfile
from io import BytesIO

from .base import Reject, size_text
from .limits import DEFAULT_LIMITS, Limits
from .ods import OdsPackage, check_ods
from .ole import OLE_MAGIC
from .reader import PARSE_ERRORS, Package, Unreadable, parse_message
from .xls import XlsPackage, check_xls
from .xlsx import XlsxPackage, check_xlsx, take_scanned
from .zip import ZIP_MAGICS, ZipIndex, zip_index

__all__ = ["check_workbook", "check_zip_workbook", "open_package"]


def check_workbook(data: bytes, fmt: str, limits: Limits = DEFAULT_LIMITS) -> tuple[str, str] | None:
    """(code, reason) when a workbook's bytes must not reach a parser; None when they may.

    xlsx/xlsm/ods: the zip pre-check, the number of sheets, every sheet's extent and the shared
    string table. xls (BIFF in an OLE container): the container, the number of sheets, and
    every sheet's records (DIMENSIONS, columns beyond IV, the extent calamine will allocate).
    """
    if not data:
        return ("E110", "空のファイル（0 バイト）です")
    if len(data) > limits.max_file_bytes:
        return ("E108", f"ファイルが {size_text(len(data))} あり、上限 {size_text(limits.max_file_bytes)} を超えています")
    try:
        if fmt in ("xlsx", "xlsm", "ods"):
            if not data.startswith(ZIP_MAGICS):
                return ("E111", "Excel ブック（xlsx）の形式ではありません")
            return check_zip_workbook(data, zip_index(data, limits), fmt, limits)
        if fmt == "xls":
            return check_xls(data, limits)
    except Reject as r:
        return (r.code, r.reason)
    except Exception as exc:
        return ("E111", f"ブックの事前検査で問題が見つかりました（{type(exc).__name__}）")
    return ("E101", f"対応していない形式（{fmt or '不明'}）です")


def check_zip_workbook(data: bytes, idx: ZipIndex, fmt: str, limits: Limits) -> tuple[str, str] | None:
    """The pre-scan of a zip package whose central directory has already passed."""
    for e in idx.entries:
        if e.encrypted or e.method not in (0, 8):
            return ("E101", f"ブック内の「{e.name}」が対応していない圧縮方式・暗号化で格納されています")
    try:
        if fmt == "ods":
            return check_ods(data, idx, limits)
        return check_xlsx(data, idx, limits)
    except Reject as r:
        return (r.code, r.reason)


def open_package(data: bytes) -> Package:
    """Pick the container by its bytes, not by the file name (a .xls that is really an xlsx
    is common). Every parser error becomes :class:`Unreadable`."""
    try:
        if data[:8] == OLE_MAGIC:
            return XlsPackage(data)
        if data[:2] != b"PK":
            raise Unreadable("Excel・OpenDocument のブックではありません（ファイルの形式を判別できません）")
        scanned = take_scanned(data)
        if scanned is not None:  # the pre-scan has just read and checked its zip directory
            return XlsxPackage(None, data, scanned)
        z = zipfile.ZipFile(BytesIO(data))
        if "content.xml" in z.NameToInfo and "xl/workbook.xml" not in z.NameToInfo:
            return OdsPackage(z)
        return XlsxPackage(z, data)
    except PARSE_ERRORS as e:
        raise Unreadable(parse_message(e)) from e
