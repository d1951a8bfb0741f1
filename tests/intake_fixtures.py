"""Builders for intake tests: workbooks, hostile zips, e-mails and Outlook .msg files in memory.

Every input the intake tests use is made here, byte by byte where the quirk lives in the bytes
(cp932 member names, ZipCrypto, ISO-2022-JP file names with ①, a compound file for .msg); the
zip and e-mail builders come from :mod:`kofu_excel.demo.builders` (one copy, shared with the demo inbox).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Sequence

import xlsxwriter

# The zip and e-mail builders live in the package: the demo inbox (kofu sample --inbox) is made
# with the very same functions. Re-exported here for the intake tests.
from kofu_excel.demo.builders import (
    RawEntry,
    attachment,
    eml,
    encoded_word,
    jis,
    local_record,
    raw_zip,
    zipcrypto_zip,
)

__all__ = [
    "RawEntry",
    "aes_zip",
    "attachment",
    "compound_file",
    "eml",
    "encoded_word",
    "encrypted_xlsx",
    "far_cell_xlsx",
    "form_like_xlsx",
    "forwarded",
    "jis",
    "msg_streams",
    "ods_bytes",
    "overlapping_zip",
    "raw_xlsx",
    "raw_zip",
    "xlsx_bytes",
    "zip_bomb",
    "zip_bytes",
    "zipcrypto_zip",
]

# --------------------------------------------------------------------------------------------
# Workbooks
# --------------------------------------------------------------------------------------------


def xlsx_bytes(rows: Sequence[Sequence[object]] = (("団体コード", "011002"), ("人口", 1000)),
               sheet: str = "基本情報") -> bytes:
    """A small real workbook written by xlsxwriter."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False})
    ws = wb.add_worksheet(sheet)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            ws.write(r, c, value)
    wb.close()
    return buf.getvalue()


def form_like_xlsx(sheets: int = 6, rows: int = 60, cols: int = 10) -> bytes:
    """A workbook shaped like a filled plan form: labels, numbers and shaded blank inputs."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    shade = wb.add_format({"bg_color": "#FFF2CC", "border": 1, "num_format": "#,##0"})
    for s in range(sheets):
        ws = wb.add_worksheet(f"表{s + 1}")
        for r in range(rows):
            ws.write_string(r, 0, f"項目{r}")
            for c in range(1, cols):
                if (r + c) % 3:
                    ws.write_number(r, c, r * 100 + c, shade)
                else:
                    ws.write_blank(r, c, None, shade)
    wb.close()
    return buf.getvalue()


_CT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WB = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="{target}"/>'
    "{extra}</Relationships>"
)


def raw_xlsx(sheet_data: str, *, sheet_path: str = "worksheets/sheet1.xml",
             extra_parts: dict[str, str] | None = None, extra_rels: str = "") -> bytes:
    """A minimal xlsx whose sheet XML is written by hand (for shapes no writer produces)."""
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f"<sheetData>{sheet_data}</sheetData></worksheet>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WB)
        z.writestr("xl/_rels/workbook.xml.rels", _WB_RELS.format(target=sheet_path, extra=extra_rels))
        z.writestr("xl/" + sheet_path, sheet)
        for name, text in (extra_parts or {}).items():
            z.writestr(name, text)
    return buf.getvalue()


def far_cell_xlsx() -> bytes:
    """The 5 KB workbook that makes calamine ask for 512 GiB: cells at A1 and XFD1048576."""
    return raw_xlsx('<row r="1"><c r="A1"><v>1</v></c></row>'
                    '<row r="1048576"><c r="XFD1048576"><v>2</v></c></row>')


def ods_bytes(rows_xml: str) -> bytes:
    """A minimal OpenDocument spreadsheet around hand-written table rows."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="表1">'
        f"{rows_xml}</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", content)
        z.writestr("META-INF/manifest.xml", '<?xml version="1.0" encoding="UTF-8"?><manifest/>')
    return buf.getvalue()


def encrypted_xlsx(plain: bytes, password: str) -> bytes:
    """An Excel workbook with an opening password (ECMA-376 agile encryption)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(plain)).encrypt(password, out)
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# Zip archives, including ones no well-behaved writer makes
# --------------------------------------------------------------------------------------------


def zip_bytes(members: Sequence[tuple[str, bytes]]) -> bytes:
    """An ordinary zip, as Python (UTF-8 names) writes it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def overlapping_zip(inner: bytes = b"A" * 5000) -> bytes:
    """Entry "a" stores, inside its own data, the complete local record of entry "b"."""
    b = RawEntry(b"b.xlsx", inner, method=0)
    record_b = local_record(b, inner, zlib.crc32(inner), len(inner))
    a_data = b"junk" + record_b
    a = RawEntry(b"a.xlsx", a_data, method=0)
    archive = bytearray(local_record(a, a_data, zlib.crc32(a_data), len(a_data)))
    b_offset = 30 + len(a.name) + 4
    cd = bytearray()
    for e, off, data in ((a, 0, a_data), (b, b_offset, inner)):
        cd += struct.pack("<4s4B4HL2L5HLL", b"PK\x01\x02", 20, 0, 20, 0, 0, 0, 0, 0x21,
                          zlib.crc32(data), len(data), len(data), len(e.name), 0, 0, 0, 0, 0,
                          off) + e.name
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 2, 2, len(cd), len(archive), 0)
    return bytes(archive + cd + eocd)


def zip_bomb(size: int = 2**30) -> bytes:
    """A real deflate stream of `size` zero bytes (~1 MB for 1 GiB), built in well under a second.

    After a full flush the compressor starts afresh, so the segment for 1 MiB of zeros is the
    same every time and can simply be repeated.
    """
    chunk = bytes(2**20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    stream = segment * (size // len(chunk)) + c.flush()
    crc = 0
    for _ in range(size // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    return raw_zip([RawEntry(b"zeros.xlsx", b"", payload=stream, declared_size=size, crc=crc)])


def aes_zip(members: Sequence[tuple[str, bytes]], password: bytes) -> bytes:
    """A WinZip AES-256 archive (7-Zip's "AES-256"), written by pyzipper."""
    import pyzipper

    buf = io.BytesIO()
    with pyzipper.AESZipFile(buf, "w", compression=pyzipper.ZIP_DEFLATED,
                             encryption=pyzipper.WZ_AES) as z:
        z.setpassword(password)
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# E-mail
# --------------------------------------------------------------------------------------------


def forwarded(message: bytes, disposition: str = "attachment") -> bytes:
    """A message/rfc822 part holding a whole e-mail (a forward "as attachment")."""
    return (f"Content-Type: message/rfc822\r\nContent-Disposition: {disposition}\r\n\r\n"
            ).encode("ascii") + message


# --------------------------------------------------------------------------------------------
# Outlook .msg: a minimal compound file (CFB v3) with the MAPI streams we read
# --------------------------------------------------------------------------------------------

_END, _FREE, _FATSECT = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD


def _cfb_key(name: str) -> tuple[int, str]:
    return (len(name), name.upper())


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A CFB (OLE2) file holding `streams`, keyed by "/"-separated paths; storages implied."""
    # Build the storage tree.
    tree: dict[str, dict] = {}
    for path, data in streams.items():
        node = tree
        *dirs, leaf = path.split("/")
        for d in dirs:
            node = node.setdefault(d, {})
        node[leaf] = data
    entries: list[dict] = [{"name": "Root Entry", "type": 5, "kids": tree}]
    sector_data = bytearray()
    mini = bytearray()
    fat: list[int] = []
    minifat: list[int] = []

    def add_chain(table: list[int], count: int) -> int:
        start = len(table)
        table.extend(range(start + 1, start + count))
        table.append(_END)
        return start

    def flatten(idx: int) -> None:
        kids = entries[idx]["kids"]
        ids = []
        for name in sorted(kids, key=_cfb_key):
            value = kids[name]
            entry: dict = {"name": name}
            entries.append(entry)
            ids.append(len(entries) - 1)
            if isinstance(value, dict):
                entry.update(type=1, kids=value)
                flatten(len(entries) - 1)
            else:
                entry.update(type=2, data=value)
        for a, b in zip(ids, [*ids[1:], None], strict=True):
            entries[a]["right"] = b
        entries[idx]["child"] = ids[0] if ids else None

    flatten(0)
    for entry in entries:
        data = entry.get("data")
        if data is None:
            continue
        entry["size"] = len(data)
        if len(data) >= 4096:
            count = -(-len(data) // 512)
            entry["start"] = add_chain(fat, count)
            sector_data += data.ljust(count * 512, b"\x00")
        elif data:
            count = -(-len(data) // 64)
            entry["start"] = add_chain(minifat, count)
            mini += data.ljust(count * 64, b"\x00")
        else:
            entry["start"] = _END
    root = entries[0]
    mini_sectors = -(-len(mini) // 512)
    root["start"] = add_chain(fat, mini_sectors) if mini else _END
    root["size"] = len(mini)
    sector_data += bytes(mini).ljust(mini_sectors * 512, b"\x00")
    minifat_bytes = b"".join(struct.pack("<L", v) for v in minifat)
    minifat_sectors = -(-len(minifat_bytes) // 512)
    minifat_start = add_chain(fat, minifat_sectors) if minifat else _END
    sector_data += minifat_bytes.ljust(minifat_sectors * 512, b"\xff")
    dir_bytes = bytearray()
    for entry in entries:
        name = entry["name"].encode("utf-16-le") + b"\x00\x00"
        dir_bytes += struct.pack(
            "<64sHBBLLL16sL8s8sLLL", name, len(name), entry["type"], 1,
            _FREE, entry.get("right") if entry.get("right") is not None else _FREE,
            entry.get("child") if entry.get("child") is not None else _FREE,
            b"\x00" * 16, 0, b"\x00" * 8, b"\x00" * 8, entry.get("start", _END),
            entry.get("size", 0), 0)
    dir_sectors = -(-len(dir_bytes) // 512)
    dir_start = add_chain(fat, dir_sectors)
    sector_data += bytes(dir_bytes).ljust(dir_sectors * 512, b"\x00")
    n_fat = 1
    while n_fat * 128 < len(fat) + n_fat:
        n_fat += 1
    fat_start = len(fat)
    fat.extend([_FATSECT] * n_fat)
    fat_bytes = b"".join(struct.pack("<L", v) for v in fat).ljust(n_fat * 512, b"\xff")
    difat = [fat_start + i for i in range(n_fat)] + [_FREE] * (109 - n_fat)
    header = struct.pack(
        "<8s16sHHHHH6sLLLLLLLLL", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\x00" * 16, 0x3E, 3,
        0xFFFE, 9, 6, b"\x00" * 6, 0, n_fat, dir_start, 0, 4096, minifat_start,
        minifat_sectors, _END, 0) + b"".join(struct.pack("<L", v) for v in difat)
    return header + bytes(sector_data) + fat_bytes


def _filetime(unix: float) -> int:
    return int((unix + 11_644_473_600) * 10**7)


def _props(header_len: int, sent_unix: float | None = None) -> bytes:
    body = b""
    if sent_unix is not None:
        body = struct.pack("<LLQ", (0x0039 << 16) | 0x0040, 0, _filetime(sent_unix))
    return b"\x00" * header_len + body


def msg_streams(attachments: Sequence[tuple[str, bytes]], *, subject: str = "計画の提出",
                sent_unix: float | None = 1569891600.0, prefix: str = "",
                embedded: dict[str, bytes] | None = None, top: bool = True) -> dict[str, bytes]:
    """The streams of an Outlook message; `embedded` adds an attached message's streams."""
    p = prefix + "/" if prefix else ""
    streams = {
        f"{p}__properties_version1.0": _props(32 if top else 24, sent_unix),
        f"{p}__substg1.0_0037001F": subject.encode("utf-16-le"),
    }
    for i, (name, data) in enumerate(attachments):
        a = f"{p}__attach_version1.0_#{i:08X}"
        streams[f"{a}/__properties_version1.0"] = b"\x00" * 8
        streams[f"{a}/__substg1.0_3707001F"] = name.encode("utf-16-le")
        streams[f"{a}/__substg1.0_37010102"] = data
    if embedded:
        a = f"{p}__attach_version1.0_#{len(attachments):08X}"
        streams[f"{a}/__properties_version1.0"] = b"\x00" * 8
        for path, data in embedded.items():
            streams[f"{a}/__substg1.0_3701000D/{path}"] = data
    return streams
