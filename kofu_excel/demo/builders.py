"""The bytes of an inbox, written the way real senders write them: zip archives field by field
(ZipCrypto as Windows Explorer writes it, cp932 names with no UTF-8 flag), e-mails with
Japanese attachment names (ISO-2022-JP encoded-words as Outlook writes them, RFC 2231 UTF-8
as Thunderbird and Gmail do), and the litter every shared folder collects.

The demo inbox (:mod:`kofu_excel.demo.inbox`) and the intake tests' hostile inputs
(``tests/intake_fixtures.py``) are built with these same functions.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import os
import random
import struct
import urllib.parse
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

__all__ = [
    "JST",
    "XLSX_TYPE",
    "RawEntry",
    "attachment",
    "deflate",
    "eml",
    "encoded_word",
    "excel_lock_file",
    "jis",
    "local_record",
    "mail_date",
    "outlook_attachment",
    "raw_zip",
    "rfc2231_attachment",
    "thumbs_db",
    "tiny_pdf",
    "zipcrypto_zip",
]

JST = timezone(timedelta(hours=9))
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# --------------------------------------------------------------------------------------------
# Zip archives, written field by field
# --------------------------------------------------------------------------------------------


def deflate(data: bytes) -> bytes:
    """Raw deflate (no zlib header), as a zip stores it."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def dos_datetime(when: datetime) -> tuple[int, int]:
    """(time, date) fields of a zip entry, in local time as Windows writes them."""
    return ((when.hour << 11) | (when.minute << 5) | (when.second // 2),
            ((when.year - 1980) << 9) | (when.month << 5) | when.day)


@dataclass
class RawEntry:
    """One member for :func:`raw_zip`, with the fields hostile archives lie about."""

    name: bytes
    data: bytes = b""
    method: int = 8
    flags: int = 0
    extra: bytes = b""
    external_attr: int = 0
    create_system: int = 0
    declared_size: int | None = None
    payload: bytes | None = None  # compressed bytes to store instead of compressing data
    crc: int | None = None
    dos_time: int = 0
    dos_date: int = 0x21  # 1980-01-01


def local_record(e: RawEntry, comp: bytes, crc: int, size: int) -> bytes:
    """The local file header of ``e`` followed by its (compressed) bytes."""
    return struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, e.flags, e.method, e.dos_time, e.dos_date,
                       crc, len(comp), size, len(e.name), len(e.extra)) + e.name + e.extra + comp


def raw_zip(entries: Sequence[RawEntry], *, offsets: dict[int, int] | None = None,
            prefix: bytes = b"") -> bytes:
    """A zip written field by field; ``offsets`` makes central entries point elsewhere."""
    out = bytearray(prefix)
    cd = bytearray()
    for i, e in enumerate(entries):
        comp = e.payload if e.payload is not None else (e.data if e.method == 0 else deflate(e.data))
        crc = e.crc if e.crc is not None else zlib.crc32(e.data)
        size = e.declared_size if e.declared_size is not None else len(e.data)
        offset = len(out) - len(prefix)
        out += local_record(e, comp, crc, size)
        header_offset = (offsets or {}).get(i, offset)
        cd += struct.pack("<4s4B4HL2L5HLL", b"PK\x01\x02", 20, e.create_system, 20, 0, e.flags,
                          e.method, e.dos_time, e.dos_date, crc, len(comp), size, len(e.name),
                          len(e.extra), 0, 0, 0, e.external_attr, header_offset) + e.name + e.extra
    n = len(entries)
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, len(cd), len(out) - len(prefix), 0)
    return bytes(out + cd + eocd)


class _ZipCrypto:
    """The traditional PKWARE cipher ("ZipCrypto"), which Windows Explorer and 7-Zip write."""

    def __init__(self, password: bytes) -> None:
        self.keys = [0x12345678, 0x23456789, 0x34567890]
        for b in password:
            self._update(b)

    def _update(self, b: int) -> None:
        k0, k1, k2 = self.keys
        k0 = (zlib.crc32(bytes([b]), k0 ^ 0xFFFFFFFF) ^ 0xFFFFFFFF) & 0xFFFFFFFF
        k1 = ((k1 + (k0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        k2 = (zlib.crc32(bytes([k1 >> 24]), k2 ^ 0xFFFFFFFF) ^ 0xFFFFFFFF) & 0xFFFFFFFF
        self.keys = [k0, k1, k2]

    def encrypt(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            t = (self.keys[2] | 2) & 0xFFFF
            out.append(b ^ (((t * (t ^ 1)) >> 8) & 0xFF))
            self._update(b)
        return bytes(out)


def zipcrypto_zip(members: Sequence[tuple[bytes, bytes]], password: bytes, *,
                  rng: random.Random | None = None, when: datetime | None = None) -> bytes:
    """A password zip as Windows makes it: ZipCrypto, deflate, names as given (cp932 bytes,
    no UTF-8 flag). The 11 random header bytes come from ``rng`` when given (same bytes for the
    same seed), else from the OS; ``when`` sets the members' time stamps."""
    t, d = dos_datetime(when) if when is not None else (0, 0x21)
    entries = []
    for name, data in members:
        crc = zlib.crc32(data)
        salt = bytes(rng.randrange(256) for _ in range(11)) if rng is not None else os.urandom(11)
        payload = _ZipCrypto(password).encrypt(salt + bytes([crc >> 24]) + deflate(data))
        entries.append(RawEntry(name, data, flags=0x1, payload=payload, dos_time=t, dos_date=d,
                                external_attr=0x20))  # FILE_ATTRIBUTE_ARCHIVE
    return raw_zip(entries)


# --------------------------------------------------------------------------------------------
# E-mail
# --------------------------------------------------------------------------------------------


def jis(text: str) -> bytes:
    """ISO-2022-JP as Windows mailers write it: cp932 characters (①, ㈱, ～) as JIS pairs."""
    out = bytearray()
    kanji = False
    for ch in text:
        b = ch.encode("cp932")
        if len(b) == 1:
            if kanji:
                out += b"\x1b(B"
                kanji = False
            out += b
            continue
        if not kanji:
            out += b"\x1b$B"
            kanji = True
        s1, s2 = b
        j1 = (s1 - (0x70 if s1 < 0xA0 else 0xB0)) * 2
        if s2 < 0x9F:
            j1 -= 1
            j2 = s2 - 0x1F - (1 if s2 > 0x7F else 0)
        else:
            j2 = s2 - 0x7E
        out += bytes((j1, j2))
    if kanji:
        out += b"\x1b(B"
    return bytes(out)


def encoded_word(raw: bytes, charset: str) -> str:
    """One MIME encoded-word (RFC 2047, base64) holding ``raw`` bytes in ``charset``."""
    return f"=?{charset}?B?{base64.b64encode(raw).decode('ascii')}?="


def attachment(data: bytes, disposition: str,
               content_type: str = "application/octet-stream") -> bytes:
    """One MIME part: ``disposition`` is the raw Content-Disposition value, as a mailer wrote it.

    Non-ASCII text in it goes out as raw UTF-8, as some mailers send it (RFC 6532).
    """
    body = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return (f"Content-Type: {content_type}\r\nContent-Disposition: {disposition}\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + body


def outlook_attachment(data: bytes, name: str, content_type: str = XLSX_TYPE) -> bytes:
    """An attachment named as Outlook (Japanese Windows) names it: an ISO-2022-JP encoded-word,
    quoted, in both ``name=`` and ``filename=``."""
    word = encoded_word(jis(name), "ISO-2022-JP")
    return attachment(data, f'attachment;\r\n filename="{word}"', f'{content_type};\r\n name="{word}"')


def rfc2231_attachment(data: bytes, name: str, content_type: str = XLSX_TYPE) -> bytes:
    """An attachment named as Thunderbird or Gmail name it: ``filename*=UTF-8''…`` (RFC 2231)."""
    quoted = urllib.parse.quote(name.encode("utf-8"), safe="")
    return attachment(data, f"attachment;\r\n filename*=UTF-8''{quoted}", content_type)


def eml(parts: Sequence[bytes], *, date: str = "Tue, 01 Oct 2019 10:00:00 +0900",
        subject: str = "計画の提出", sender: str = "tanto@city.example.lg.jp",
        to: str = "pref@pref.example.lg.jp", body: str = "本文です。\r\n",
        charset: str = "utf-8") -> bytes:
    """A multipart/mixed e-mail: a short body, then the given parts.

    ``charset="iso-2022-jp"`` writes the subject and body as Japanese Outlook does.
    """
    # A boundary of its own, so that a forwarded message inside keeps its structure.
    boundary = "==kofu-" + hashlib.sha256(b"".join(parts) + subject.encode()).hexdigest()[:16]
    if charset.lower() == "iso-2022-jp":
        subj, text, cte = encoded_word(jis(subject), "ISO-2022-JP"), jis(body), "7bit"
    else:
        subj, text, cte = encoded_word(subject.encode("utf-8"), "UTF-8"), body.encode("utf-8"), "8bit"
    head = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subj}\r\nDate: {date}\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset={charset}\r\n"
        + (f"Content-Transfer-Encoding: {cte}\r\n" if charset.lower() != "utf-8" else "")
        + "\r\n"
    ).encode("ascii") + text
    for part in parts:
        head += f"--{boundary}\r\n".encode("ascii") + part + b"\r\n"
    return head + f"--{boundary}--\r\n".encode("ascii")


def mail_date(when: datetime) -> str:
    """An RFC 5322 Date header value for a time in Japan."""
    return email.utils.format_datetime(when.astimezone(JST))


# --------------------------------------------------------------------------------------------
# Litter: what every shared folder collects
# --------------------------------------------------------------------------------------------


def excel_lock_file(user: str) -> bytes:
    """The 165-byte owner file Excel writes next to an open workbook (``~$name.xlsx``)."""
    ansi = user.encode("cp932")[:53]
    wide = user.encode("utf-16-le")
    out = bytes([len(ansi)]) + ansi.ljust(53, b" ") + struct.pack("<H", len(user)) + wide
    return out.ljust(165, b" ")[:165]


def thumbs_db() -> bytes:
    """A small stand-in for the thumbnail cache Windows Explorer leaves in image folders."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
    return header.ljust(1536, b"\x00")


def tiny_pdf(title: str) -> bytes:
    """A minimal one-page PDF (a cover letter 送付状 scanned to PDF, as far as intake cares)."""
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
            + f"% {title}\n".encode()
            + b"trailer<</Root 1 0 R>>\n%%EOF\n")
