"""Intake: the paths given on the command line -> every file found, each with its provenance.

Folders are walked (sorted), e-mails (.eml, .msg) and zip archives are opened in memory,
encrypted workbooks are decrypted in memory, and every workbook's bytes are checked before any
parser sees them (:func:`check_workbook`). Nothing is extracted to disk and nothing raises for a
bad input: every file found becomes exactly one :class:`Item` with a status and a Japanese reason.

The checks exist because the readers are fragile on hostile bytes (see quality.md): python-calamine
aborts the whole process (a Rust abort, not an exception) on a 5 KB sheet with cells at A1 and
XFD1048576, or on a shared-string table declaring 2**32 entries; Python's zipfile inflates
overlapping entries and reads "the last one" of duplicate names.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import email
import email.message
import email.policy
import email.utils
import hashlib
import html
import io
import os
import re
import stat
import struct
import time
import types
import unicodedata
import urllib.parse
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from itertools import pairwise
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_LIMITS",
    "Item",
    "Limits",
    "check_workbook",
    "collect",
    "read_passwords",
    "settle",
]


@dataclass(frozen=True)
class Limits:
    """Starting limits from quality.md; each can be overridden by the operator."""

    max_file_bytes: int = 50 * 2**20
    max_depth: int = 3  # e-mail -> forwarded e-mail -> zip -> workbook
    max_entries: int = 1000
    max_part_bytes: int = 128 * 2**20
    max_package_bytes: int = 256 * 2**20
    max_ratio: float = 100.0
    ratio_min_part: int = 2**20
    max_name_len: int = 255
    max_sheets: int = 50
    max_cells: int = 5_000_000
    max_passwords: int = 5
    max_mime_parts: int = 100
    max_mime_depth: int = 10


DEFAULT_LIMITS = Limits()


@dataclass
class Item:
    """One file found in the inputs (on disk, or inside an e-mail or archive)."""

    path: str
    member: str
    name: str
    sha256: str
    fmt: str
    status: str
    code: str = ""
    reason: str = ""
    data: bytes | None = None
    email_date: datetime | None = None
    mtime: float = 0.0
    decrypted: bool = False
    # filled later by the reader stage (before settle):
    kind: str = ""
    muni_code: str = ""
    revision: int = 0
    submitted_on: date | None = None

    @property
    def where(self) -> str:
        """The file as a user would name it: the disk path, then the members inside."""
        return f"{self.path} > {self.member}" if self.member else self.path


# --------------------------------------------------------------------------------------------
# Constants and small helpers
# --------------------------------------------------------------------------------------------

WORKBOOK_EXTS = frozenset({".xlsx", ".xlsm", ".xltx", ".xltm", ".xls", ".xlt", ".ods", ".ots"})
CONTAINER_EXTS = frozenset({".zip", ".eml", ".msg"})
KNOWN_EXTS = WORKBOOK_EXTS | CONTAINER_EXTS | {".xlsb"}

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLS = 16_384
# xls files saved with only a "write-reservation" password are encrypted with this fixed key.
XLS_DEFAULT_PASSWORD = "VelvetSweatshop"

NOT_TARGET = "取込対象外のファイル形式です"
R_MAC = "macOS が自動で作る管理用ファイルのため対象外です"
R_WIN = "Windows が自動で作る管理用ファイルのため対象外です"
R_EXCEL_LOCK = "Excel がブックを開いている間に作る一時ファイル（~$ で始まるロックファイル）のため対象外です"
R_LO_LOCK = "LibreOffice がブックを開いている間に作るロックファイルのため対象外です"


class _Reject(Exception):
    """Internal short-cut: this blob must not go further (code, Japanese reason)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(code)
        self.code = code
        self.reason = reason


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _ext(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def _size(n: float) -> str:
    """Human-readable size for reasons: 「3 KB」「1.0 GB」."""
    if n < 1024:
        return f"{int(n)} バイト"
    if n < 2**20:
        return f"{max(1, round(n / 1024))} KB"
    value, unit = (n / 2**20, "MB") if n < 2**30 else (n / 2**30, "GB")
    return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"


def _col_letters(col: int) -> str:
    letters = ""
    while col > 0:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters or "A"


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def _litter_reason(name: str, parts: Sequence[str]) -> str | None:
    """OS and application litter that is listed but never read."""
    if "__MACOSX" in parts or name == ".DS_Store" or name.startswith("._"):
        return R_MAC
    if name.startswith("~$"):
        return R_EXCEL_LOCK
    if name.startswith(".~lock.") and name.endswith("#"):
        return R_LO_LOCK
    if name.lower() in {"thumbs.db", "ehthumbs.db", "desktop.ini"}:
        return R_WIN
    return None


def _clean_name(text: str) -> str:
    """A display name: NFC, no control characters, last path component only."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if ch >= " " and ch != "\x7f")
    text = re.split(r"[/\\]", text)[-1]
    return text.strip()


def _fs_display(text: str) -> str:
    """File names that were not UTF-8 on disk (surrogate escapes) decoded for display."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _decode_bytes(os.fsencode(text), None)


# --------------------------------------------------------------------------------------------
# Japanese text decoding (file names in e-mails, zip member names)
# --------------------------------------------------------------------------------------------

_JIS_LABELS = {"iso-2022-jp", "iso2022jp", "csiso2022jp", "iso-2022-jp-1", "iso-2022-jp-2",
               "iso-2022-jp-3", "iso-2022-jp-ext", "jis", "x-jis"}
_SJIS_LABELS = {"shift-jis", "shift_jis", "sjis", "x-sjis", "ms-kanji", "ms_kanji", "windows-31j",
                "cp932", "ms932", "csshiftjis", "x-ms-cp932", "cswindows31j"}
_EUC_LABELS = {"euc-jp", "eucjp", "x-euc-jp", "cseucpkdfmtjapanese"}


def _jis_as_cp932(raw: bytes) -> str:
    """ISO-2022-JP read the way Windows mailers write it (CP50220): JIS rows through cp932.

    Python's iso2022_jp codecs refuse NEC row 13 (①, ㈱) and map 1-33 to 〜 (U+301C) where the
    sender typed ～ (U+FF5E); converting each JIS pair to Shift_JIS and decoding as cp932 gives
    what the sender saw.
    """
    out = bytearray()
    mode = "ascii"
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x1B:
            seq = raw[i + 1 : i + 3]
            if seq in (b"(B", b"(J"):
                mode = "ascii"
            elif seq in (b"$@", b"$B"):
                mode = "kanji"
            elif seq == b"(I":
                mode = "kana"
            else:
                raise ValueError("unsupported escape")
            i += 3
            continue
        if c == 0x0E:  # SO: half-width katakana
            mode, i = "kana", i + 1
            continue
        if c == 0x0F:
            mode, i = "ascii", i + 1
            continue
        if mode == "ascii" or c in (0x0A, 0x0D):
            out.append(c)
            i += 1
        elif mode == "kana":
            if not 0x21 <= c <= 0x5F:
                raise ValueError("bad kana")
            out.append(c + 0x80)
            i += 1
        else:
            if i + 1 >= len(raw):
                raise ValueError("odd kanji byte")
            j1, j2 = c, raw[i + 1]
            if not (0x21 <= j1 <= 0x7E and 0x21 <= j2 <= 0x7E):
                raise ValueError("bad kanji pair")
            s1 = (j1 + 1) // 2 + (0x70 if j1 <= 0x5E else 0xB0)
            s2 = j2 + (0x1F + (j2 >= 0x60) if j1 % 2 else 0x7E)
            out += bytes((s1, s2))
            i += 2
    return out.decode("cp932")


def _decode_bytes(raw: bytes, charset: str | None) -> str:
    """Decode with the declared charset, tolerant of Windows extensions; never raises."""
    cs = (charset or "").strip().strip('"').lower()
    chain: list[Callable[[bytes], str]] = []

    def codec(name: str) -> Callable[[bytes], str]:
        return lambda b: b.decode(name)

    if cs in _JIS_LABELS:
        chain = [_jis_as_cp932, codec("iso2022_jp_2004"), codec("iso2022_jp_2"), codec("cp932")]
    elif cs in _SJIS_LABELS:
        chain = [codec("cp932"), codec("shift_jis_2004"), codec("utf-8")]
    elif cs in _EUC_LABELS:
        chain = [codec("euc_jp"), codec("euc_jis_2004"), codec("cp932")]
    elif cs in ("utf-8", "utf8", ""):
        chain = [codec("utf-8"), codec("cp932")]
        if b"\x1b$" in raw:
            chain.insert(0, _jis_as_cp932)
    else:
        with contextlib.suppress(LookupError):
            codecs.lookup(cs)
            chain.append(codec(cs))
        chain += [codec("utf-8"), codec("cp932")]
    for decode in chain:
        try:
            return decode(raw)
        except (UnicodeDecodeError, ValueError, LookupError):
            continue
    return raw.decode("utf-8", "replace")


_ENCODED_WORD = re.compile(r"=\?([^?\s]+?)\?([bBqQ])\?([^?\s]*)\?=")


def _unescape_raw(text: str) -> str:
    """Header text with raw 8-bit bytes (surrogate escapes) decoded as Japanese text."""
    try:
        raw = text.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return text  # already real Unicode
    return text if raw.isascii() else _decode_bytes(raw, None)


def _decode_words(text: str) -> str:
    """RFC 2047 encoded words (also inside quoted parameters, as Japanese mailers write them).

    Adjacent words in the same charset are joined as bytes before decoding, because some
    mailers split a Shift_JIS or ISO-2022-JP name in the middle of a character.
    """
    out: list[str] = []
    pending = bytearray()
    pending_cs = ""
    pos = 0

    def flush() -> None:
        nonlocal pending, pending_cs
        if pending:
            out.append(_decode_bytes(bytes(pending), pending_cs))
        pending = bytearray()
        pending_cs = ""

    for m in _ENCODED_WORD.finditer(text):
        between = text[pos : m.start()]
        if between and not (pending and between.isspace()):
            flush()
            out.append(_unescape_raw(between))
        cs = m.group(1).split("*")[0].lower()
        payload = m.group(3)
        try:
            if m.group(2) in "bB":
                chunk = base64.b64decode(payload + "=" * (-len(payload) % 4))
            else:
                chunk = re.sub(
                    rb"=([0-9A-Fa-f]{2})",
                    lambda h: bytes([int(h.group(1), 16)]),
                    payload.replace("_", " ").encode("ascii", "surrogateescape"),
                )
        except (ValueError, TypeError):
            chunk = m.group(0).encode("ascii", "surrogateescape")
            cs = ""
        if pending and cs != pending_cs:
            flush()
        pending_cs = cs
        pending += chunk
        pos = m.end()
    flush()
    if pos < len(text):
        out.append(_unescape_raw(text[pos:]))
    return "".join(out)


def _split_params(raw: str) -> tuple[str, list[tuple[str, str]]]:
    """A MIME header value split into its main value and (lower-case key, raw value) pairs.

    Tolerant of what Japanese mailers send: raw Shift_JIS inside quotes (whose second byte may
    be a backslash), missing closing quotes, unquoted non-ASCII values.
    """
    raw = re.sub(r"\r?\n(?=[ \t])", "", raw)
    pieces: list[str] = []
    buf: list[str] = []
    quoted = False
    i = 0
    while i < len(raw):
        ch = raw[i]
        # A backslash escapes the next character, unless it is the second byte of a raw
        # Shift_JIS character (its first byte shows as a surrogate escape).
        after_raw_byte = i > 0 and "\udc80" <= raw[i - 1] <= "\udcff"
        if quoted and ch == "\\" and i + 1 < len(raw) and not after_raw_byte:
            buf += [ch, raw[i + 1]]
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            pieces.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    pieces.append("".join(buf))
    main = pieces[0].strip().lower()
    params: list[tuple[str, str]] = []
    for piece in pieces[1:]:
        key, eq, value = piece.partition("=")
        if not eq:
            continue
        value = value.strip()
        if value.startswith('"'):
            end = value.rfind('"')
            inner = value[1:end] if end > 0 else value[1:]
            if inner.isascii():
                inner = re.sub(r"\\(.)", r"\1", inner)
            value = inner
        params.append((key.strip().lower(), value))
    return main, params


def _param(params: list[tuple[str, str]], name: str) -> str | None:
    """A parameter value, RFC 2231 (with continuations) first, then plain or encoded words."""
    single: str | None = None
    segments: dict[int, tuple[str, bool]] = {}
    for key, value in params:
        if key == name + "*":
            single = value
            continue
        m = re.fullmatch(re.escape(name) + r"\*(\d{1,3})(\*?)", key)
        if m:
            segments.setdefault(int(m.group(1)), (value, bool(m.group(2))))
    if single is not None or segments:
        pieces = [(single, True)] if single is not None else [segments[k] for k in sorted(segments)]
        charset = ""
        raw = bytearray()
        for i, (value, encoded) in enumerate(pieces):
            value = value.strip('"')
            if encoded:
                if i == 0 and value.count("'") >= 2:
                    charset, _lang, value = value.split("'", 2)
                raw += urllib.parse.unquote_to_bytes(value)
            else:
                raw += value.encode("utf-8", "surrogateescape")
        return _decode_bytes(bytes(raw), charset)
    for key, value in params:
        if key == name:
            return _decode_words(value)
    return None


# --------------------------------------------------------------------------------------------
# Zip: central directory pre-check (nothing inflated before it passes)
# --------------------------------------------------------------------------------------------


@dataclass
class _ZipEntry:
    index: int
    raw_name: bytes
    name: str
    flags: int
    method: int
    crc: int
    compress_size: int
    file_size: int
    header_offset: int
    extra: bytes
    external_attr: int
    create_system: int
    dos_time: int
    dos_date: int
    data_start: int = 0
    inner_method: int = 0

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & 0x1)

    @property
    def is_dir(self) -> bool:
        return self.name.endswith(("/", "\\")) and self.file_size == 0

    @property
    def aes(self) -> bool:
        return self.method == 99


@dataclass
class _ZipIndex:
    entries: list[_ZipEntry]
    by_name: dict[str, _ZipEntry]  # NFC + casefold, "/" separators

    def get(self, name: str) -> _ZipEntry | None:
        return self.by_name.get(name.casefold())


def _extra_fields(extra: bytes) -> Iterator[tuple[int, bytes]]:
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, i)
        yield tag, extra[i + 4 : i + 4 + size]
        i += 4 + size


def _zip_name(raw: bytes, flags: int, extra: bytes) -> str:
    """Decode one member name: UTF-8 flag, Info-ZIP Unicode Path field, UTF-8, cp932, cp437.

    Per entry, because one archive from a Japanese Windows machine can mix cp932 names with
    UTF-8 ones (zipfile's metadata_encoding fails the whole archive on the first odd name).
    """
    if flags & 0x800:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Reject("E113", "圧縮ファイル内のファイル名が UTF-8 として不正です") from None
    for tag, body in _extra_fields(extra):
        if tag == 0x7075 and len(body) > 5 and body[0] == 1:
            (crc,) = struct.unpack_from("<L", body, 1)
            if crc == zlib.crc32(raw):
                with contextlib.suppress(UnicodeDecodeError):
                    return body[5:].decode("utf-8")
    for enc in ("utf-8", "cp932"):
        with contextlib.suppress(UnicodeDecodeError):
            return raw.decode(enc)
    return raw.decode("cp437")


def _zip_index(data: bytes, limits: Limits) -> _ZipIndex:
    """Parse and check the central directory; raise _Reject before anything is inflated."""
    broken = "zip の構造が壊れているか、ファイルが途中で切れています"
    n = len(data)
    if n < 22:
        raise _Reject("E111", broken)
    if data[-22:-18] == b"PK\x05\x06" and data[-2:] == b"\x00\x00":
        eocd = n - 22
    else:
        eocd = data.rfind(b"PK\x05\x06", max(0, n - 22 - 65535))
        if eocd < 0 or eocd + 22 > n:
            raise _Reject("E111", broken + "（終端レコードがありません）")
    (_, disk, disk_cd, _, total, cd_size, cd_offset, _) = struct.unpack_from(
        "<4s4H2LH", data, eocd
    )
    z64 = 0
    if total == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        loc = eocd - 20
        if loc < 56 or data[loc : loc + 4] != b"PK\x06\x07":
            raise _Reject("E111", broken)
        rec = loc - 56
        if data[rec : rec + 4] != b"PK\x06\x06":
            raise _Reject("E111", broken)
        (_, _, _, _, disk, disk_cd, _, total, cd_size, cd_offset) = struct.unpack_from(
            "<4sQ2H2L4Q", data, rec
        )
        z64 = 76
    if disk or disk_cd:
        raise _Reject("E111", "分割された zip（複数ファイルに分かれた圧縮ファイル）には対応していません")
    if total > limits.max_entries:
        raise _Reject(
            "E112", f"圧縮ファイルに {total:,} 個のファイルがあり、上限 {limits.max_entries:,} 個を超えています"
        )
    # Bytes prepended to the archive (self-extractors) shift every offset, as zipfile allows.
    concat = eocd - cd_size - cd_offset - z64
    cd_start = cd_offset + concat
    if concat < 0 or cd_start + cd_size > eocd:
        raise _Reject("E111", broken)

    entries: list[_ZipEntry] = []
    i = cd_start
    end = cd_start + cd_size
    while i < end:
        if i + 46 > end or data[i : i + 4] != b"PK\x01\x02":
            raise _Reject("E111", broken + "（中央ディレクトリが不正です）")
        (_, _, create_system, _, _, flags, method, dtime, ddate, crc, csize, usize, ln, lx, lc,
         _, _, ext_attr, offset) = struct.unpack_from("<4s4B4HL2L5HLL", data, i)
        raw_name = data[i + 46 : i + 46 + ln]
        extra = data[i + 46 + ln : i + 46 + ln + lx]
        i += 46 + ln + lx + lc
        if len(entries) >= limits.max_entries:
            raise _Reject(
                "E112", f"圧縮ファイルのファイル数が上限 {limits.max_entries:,} 個を超えています"
            )
        if 0xFFFFFFFF in (csize, usize, offset):
            for tag, body in _extra_fields(extra):
                if tag == 0x0001:
                    vals = [v for (v,) in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
                    if usize == 0xFFFFFFFF and vals:
                        usize = vals.pop(0)
                    if csize == 0xFFFFFFFF and vals:
                        csize = vals.pop(0)
                    if offset == 0xFFFFFFFF and vals:
                        offset = vals.pop(0)
        if b"\x00" in raw_name:
            raise _Reject("E113", "圧縮ファイル内のファイル名に NUL 文字が含まれています")
        name = unicodedata.normalize("NFC", _zip_name(raw_name, flags, extra))
        entries.append(
            _ZipEntry(len(entries), raw_name, name, flags, method, crc, csize, usize,
                      offset + concat, extra, ext_attr, create_system, dtime, ddate)
        )
    if total != 0xFFFF and z64 == 0 and len(entries) != total:
        raise _Reject("E115", "zip の中央ディレクトリの件数が終端レコードと一致しません")

    by_name: dict[str, _ZipEntry] = {}
    total_size = 0
    for e in entries:
        _check_member_name(e, limits)
        key = e.name.replace("\\", "/").casefold()
        if key in by_name:
            raise _Reject(
                "E115", f"圧縮ファイル内に同じ名前のファイル「{e.name}」が重複しています（大文字・小文字や正規化の違いを含む）"
            )
        by_name[key] = e
        if e.file_size > limits.ratio_min_part and (
            e.compress_size == 0 or e.file_size / e.compress_size > limits.max_ratio
        ):
            raise _Reject(
                "E112",
                f"圧縮後 {_size(e.compress_size)} から {_size(e.file_size)} に展開されるため取り込みません（zip爆弾の疑い）",
            )
        if e.file_size > limits.max_part_bytes:
            raise _Reject(
                "E112",
                f"圧縮ファイル内の「{e.name}」が展開後 {_size(e.file_size)} あり、上限 {_size(limits.max_part_bytes)} を超えています（zip爆弾の疑い）",
            )
        total_size += e.file_size
        if e.method == 99:
            e.inner_method = -1
            for tag, body in _extra_fields(e.extra):
                if tag == 0x9901 and len(body) >= 7:
                    (e.inner_method,) = struct.unpack_from("<H", body, 5)
        else:
            e.inner_method = e.method
    if total_size > limits.max_package_bytes:
        raise _Reject(
            "E112",
            f"圧縮ファイル全体が展開後 {_size(total_size)} になり、上限 {_size(limits.max_package_bytes)} を超えています（zip爆弾の疑い）",
        )

    # Each entry's local header + data must lie before the central directory and not overlap
    # another's: overlapping entries are how a 100 KB archive inflates to gigabytes.
    spans: list[tuple[int, int, _ZipEntry]] = []
    for e in entries:
        h = e.header_offset
        if h < 0 or h + 30 > cd_start or data[h : h + 4] != b"PK\x03\x04":
            raise _Reject("E111", broken + "（ローカルヘッダが見つかりません）")
        ln, lx = struct.unpack_from("<HH", data, h + 26)
        if data[h + 30 : h + 30 + ln] != e.raw_name:
            raise _Reject("E115", f"zip の「{e.name}」の名前が中央ディレクトリとローカルヘッダで異なります")
        e.data_start = h + 30 + ln + lx
        stop = e.data_start + e.compress_size
        if stop > cd_start:
            raise _Reject("E111", broken + f"（「{e.name}」のデータが途中で切れています）")
        spans.append((h, stop, e))
    spans.sort(key=lambda s: (s[0], s[1]))
    for (_, prev_stop, prev), (start, _, cur) in pairwise(spans):
        if start < prev_stop:
            raise _Reject(
                "E115", f"zip のエントリ「{prev.name}」と「{cur.name}」のデータ領域が重なっています（zip爆弾の手口）"
            )
    return _ZipIndex(entries, by_name)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_member_name(e: _ZipEntry, limits: Limits) -> None:
    name = e.name
    bad = None
    if not name:
        bad = "空のファイル名があります"
    elif len(name) > limits.max_name_len:
        bad = f"ファイル名が {len(name)} 文字あり、上限 {limits.max_name_len} 文字を超えています"
    elif _CONTROL.search(name):
        bad = "ファイル名に制御文字が含まれています"
    elif name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        bad = f"「{name}」が絶対パスです"
    elif ".." in re.split(r"[/\\]", name):
        bad = f"「{name}」が上位フォルダ（..）を指しています"
    elif e.create_system == 3 and (e.external_attr >> 16) & 0o170000 == 0o120000:
        bad = f"「{name}」がシンボリックリンクです"
    if bad:
        raise _Reject("E113", f"圧縮ファイル内のエントリ名が不正です：{bad}")


def _inflate(data: bytes, e: _ZipEntry) -> bytes:
    """A plain (unencrypted) member, inflated with output capped at its declared size + 1."""
    raw = data[e.data_start : e.data_start + e.compress_size]
    if e.method == 0:
        out = raw
    elif e.method == 8:
        try:
            out = zlib.decompressobj(-15).decompress(raw, e.file_size + 1)
        except zlib.error:
            raise _Reject("E111", f"「{e.name}」の圧縮データが壊れています") from None
    else:
        raise _Reject("E101", f"「{e.name}」は対応していない圧縮方式（{e.method}）で圧縮されています")
    if len(out) != e.file_size or zlib.crc32(out) != e.crc:
        raise _Reject("E111", f"「{e.name}」の展開結果が宣言された大きさ・CRC と一致しません（壊れています）")
    return out


def _inflate_head(data: bytes, e: _ZipEntry, size: int) -> bytes:
    """The first `size` bytes of a plain member (no CRC check: the whole part is not read)."""
    raw = data[e.data_start : e.data_start + e.compress_size]
    if e.method == 0:
        return raw[:size]
    if e.method == 8:
        try:
            return zlib.decompressobj(-15).decompress(raw, size)
        except zlib.error:
            raise _Reject("E111", f"「{e.name}」の圧縮データが壊れています") from None
    raise _Reject("E101", f"「{e.name}」は対応していない圧縮方式（{e.method}）で圧縮されています")


def _dos_mtime(e: _ZipEntry) -> float:
    for tag, body in _extra_fields(e.extra):
        if tag == 0x5455 and len(body) >= 5 and body[0] & 1:  # Info-ZIP extended timestamp (UTC)
            return float(struct.unpack_from("<l", body, 1)[0])
    d, t = e.dos_date, e.dos_time
    try:
        local = datetime(1980 + (d >> 9), (d >> 5) & 0xF, d & 0x1F, t >> 11, (t >> 5) & 0x3F,
                         (t & 0x1F) * 2)
        return time.mktime(local.timetuple())
    except (ValueError, OverflowError):
        return 0.0


def _zip_kind(data: bytes, idx: _ZipIndex, ext: str) -> str:
    """What a zip really holds: a workbook format, another office document, or plain files."""
    if idx.get("xl/workbook.xml"):
        return "xlsm" if idx.get("xl/vbaproject.bin") or ext in (".xlsm", ".xltm") else "xlsx"
    if idx.get("xl/workbook.bin"):
        return "xlsb"
    mimetype = idx.get("mimetype")
    if mimetype is not None:
        head = b""
        if not mimetype.encrypted and mimetype.file_size <= 200:
            with contextlib.suppress(_Reject):
                head = _inflate(data, mimetype)
        if head.startswith(b"application/vnd.oasis.opendocument.spreadsheet") and idx.get(
            "content.xml"
        ):
            return "ods"
        return "office"
    if idx.get("[content_types].xml"):
        return "office"
    return "zip"


# --------------------------------------------------------------------------------------------
# Workbook pre-check: bound every sheet's extent before a parser allocates it
# --------------------------------------------------------------------------------------------

# Every cell tag is looked at by one of three paths, cheapest first:
# - fast: each <c> starts with r="A1"-style (at most 2 letters, 3 digits): the sheet is within
#   ZZ999 (702 x 999 cells), whatever else the tags hold;
# - canonical: each <c> starts with r="..." (any size): the farthest cells with content are
#   found with two findall passes;
# - exact: anything else (no r, prefixes, odd quoting), tag by tag.
# A second r attribute (calamine uses the last) is searched for with whitespace removed and
# quotes unified, so that neither `x=">" r=` nor `r = '...'` can hide it.
_C_NOT_SMALL = re.compile(rb'<c(?! r="[A-Z]{1,2}[1-9][0-9]{0,2}"|[^\s/>])')
_C_NOT_CANON = re.compile(rb'<c(?! r="[A-Z]{1,3}[1-9][0-9]{0,6}"|[^\s/>])')
_C_CONTENT = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"[^<>]*(?<!/)>')
_C_EMPTY = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"([^<>]*)/>')
# Widest first: the first tier with a match holds the maximum, and same-length digit or
# letter strings compare like the numbers they spell.
_ROW_TIERS = [re.compile(rb'<c r="[A-Z]{1,3}([1-9][0-9]{%d})"' % (d - 1)) for d in range(7, 0, -1)]
_COL_TIERS = [re.compile(rb'<c r="([A-Z]{%d})[1-9]' % n) for n in (3, 2, 1)]
_C_PREFIXED = re.compile(rb":c[\s/>]")
_HIDDEN_R = re.compile(rb'"r=')
_QUOTES = bytes.maketrans(b"'", b'"')
_FAST_CELLS = 702 * 999
_REF = re.compile(r"([A-Za-z]{1,10})0*([0-9]{1,12})")
_TAG_STOP = re.compile(rb"[>\"']")
_TAG_NAME = re.compile(rb"/?([^\s/>]*)")
_ATTR_AT = re.compile(rb"\s*([^\s=/\"'<>]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_MAX_TAG = 64 * 1024


def _tag_end(xml: bytes, lt: int) -> int:
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


def _iter_tags(xml: bytes) -> Iterator[tuple[bool, bytes, bytes]]:
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
        gt = _tag_end(xml, lt)
        if gt < 0:
            return  # unterminated tag: no parser reads past it either
        if gt - lt > _MAX_TAG:
            raise _Reject("E111", "シートの XML に異常に長いタグがあります")
        body = xml[lt + 1 : gt]
        pos = gt + 1
        nm = _TAG_NAME.match(body)
        name = nm.group(1) if nm else b""
        yield body.startswith(b"/"), name.rsplit(b":", 1)[-1], body[nm.end() if nm else 0 :]


def _attrs(raw: bytes) -> list[tuple[bytes, bytes]]:
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
        raise _Reject("E111", "シートの XML の属性の書き方が不正です")
    return out


def _local(key: bytes) -> bytes:
    return key.rsplit(b":", 1)[-1]


_NAMED_TAG = {
    name: (re.compile(b"<" + name + rb"[\s/>]"), re.compile(b":" + name + rb"[\s/>]"))
    for name in (b"sheet", b"Relationship")
}


def _tags_named(xml: bytes, name: bytes) -> list[bytes]:
    """Attribute texts of the start tags called `name`, without tokenising the whole part.

    Each candidate "<name" is read with the quote-aware scanner; a prefixed spelling anywhere
    (x:sheet) sends the whole part through the scanner instead.
    """
    plain, prefixed = _NAMED_TAG[name]
    if prefixed.search(xml):
        return [attrs for closing, local, attrs in _iter_tags(xml) if not closing and local == name]
    out = []
    for m in plain.finditer(xml):
        gt = _tag_end(xml, m.start())
        if gt > 0:
            out.append(xml[m.end() - 1 : gt])
    return out


def _as_utf8(xml: bytes) -> bytes:
    """XML parts in UTF-16/32 are converted, so that the byte-level scans see every tag."""
    head = xml[:4]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) == 4 and 0 in head):
        for enc in ("utf-32", "utf-16", "utf-16-le", "utf-16-be"):
            try:
                text = xml.decode(enc)
            except UnicodeDecodeError:
                continue
            if "<" in text[:64]:
                return text.encode("utf-8")
        raise _Reject("E111", "シートの XML の文字コードが不正です")
    return xml


_PROLOG_SKIP = re.compile(rb"(?:\s|<\?.*?\?>|<!--.*?-->)*", re.S)


def _refuse_dtd(xml: bytes, where: str) -> None:
    """A DTD (``<!DOCTYPE …>``) is where entity bombs and external entities live, and no
    spreadsheet program writes one into a workbook part. It can only stand in the prolog,
    before the root element, so only the prolog is looked at: O(1) on a real part."""
    pos = 3 if xml.startswith(codecs.BOM_UTF8) else 0
    m = _PROLOG_SKIP.match(xml, pos)
    if xml.startswith(b"<!DOCTYPE", m.end() if m else pos):
        raise _Reject("E101", f"{where}の XML に DTD（<!DOCTYPE> 宣言）があります。表計算ソフトが作るブックには"
                              "無いもので、XML の実体展開・外部実体の攻撃に使われるため取り込みません")


def _too_wide(where: str, rows: int, cols: int, limits: Limits) -> str | None:
    if rows > EXCEL_MAX_ROWS or cols > EXCEL_MAX_COLS:
        return (f"{where}にセル {_col_letters(cols)}{rows} があり、Excel の上限"
                f"（{EXCEL_MAX_ROWS:,} 行 × {EXCEL_MAX_COLS:,} 列）を超えています")
    if rows * cols > limits.max_cells:
        return (f"{where}の使用範囲が A1:{_col_letters(cols)}{rows}（約 {rows * cols:,} セル）と広く、"
                f"上限 {limits.max_cells:,} セルを超えています。離れた位置に入力されたセルを削除して保存し直してください")
    return None


def _xlsx_sheet_problem(xml: bytes, where: str, limits: Limits) -> str | None:
    """Bound a worksheet's extent: max row x max column over the cells with content.

    calamine allocates the whole rectangle up to the farthest non-empty cell, so one cell at
    XFD1048576 in a 5 KB file asks for 512 GiB and aborts the process. Self-closing cells
    (formatting only) are not placed by calamine; the fast path counts them anyway, because it
    only needs an upper bound.
    """
    xml = _as_utf8(xml)
    _refuse_dtd(xml, where)
    if _HIDDEN_R.search(xml.translate(_QUOTES, b" \t\r\n")) or _C_PREFIXED.search(xml):
        return _xlsx_sheet_exact(xml, where, limits)
    if limits.max_cells >= _FAST_CELLS and not _C_NOT_SMALL.search(xml):
        return None
    if _C_NOT_CANON.search(xml):
        return _xlsx_sheet_exact(xml, where, limits)
    # Canonical but large: first an upper bound over all cells, formatting-only ones included.
    rows = next((int(max(found)) for tier in _ROW_TIERS if (found := tier.findall(xml))), 0)
    cols = next((_col_number(max(found)) for tier in _COL_TIERS if (found := tier.findall(xml))), 0)
    if _too_wide(where, rows, cols, limits) is None:
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
    cols = max(_col_number(x) for x in set(letters))
    return _too_wide(where, rows, cols, limits)


def _xlsx_sheet_exact(xml: bytes, where: str, limits: Limits) -> str | None:
    """Tag by tag, following calamine's placement of cells without an r attribute."""
    max_row = max_col = 0
    row = 0
    col = 0
    for closing, local, raw_attrs in _iter_tags(xml):
        if closing or local not in (b"row", b"c"):
            continue
        refs = [v for k, v in _attrs(raw_attrs) if k == b"r"]
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
            col = max(_col_number(mm.group(1).encode("ascii")) for mm in parsed)
            row_here = max(int(mm.group(2)) for mm in parsed)
        else:
            col += 1
            row_here = max(row, 1)
        if raw_attrs.rstrip().endswith(b"/"):
            continue  # formatting only: calamine does not place it
        max_row = max(max_row, row_here)
        max_col = max(max_col, col)
        problem = _too_wide(where, max_row, max_col, limits)
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
    return [(b"/" if closing else b"", local, raw_attrs) for closing, local, raw_attrs in _iter_tags(xml)
            if local in (b"table", b"table-row", b"table-cell", b"covered-table-cell")]


_REPEAT = re.compile(rb"number-(?:rows|columns)-repeated\s*=\s*[\"']\s*([0-9]{1,15})")


def _ods_problem(xml: bytes, limits: Limits) -> str | None:
    """Bound each table of content.xml, multiplying repeats only for cells with content.

    LibreOffice writes the empty rest of a sheet as huge repeats (a row repeated 1,048,535 times
    holding an empty cell repeated 16,384 times); those are free. A content cell or row repeated
    that often is not: calamine stops at 100 million cells with an error, but well before that
    the rectangle costs gigabytes.
    """
    xml = _as_utf8(xml)
    _refuse_dtd(xml, "content.xml ")
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
        return _too_wide(f"シート「{name}」", max_row, max_col, limits)

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
            if problem := _too_wide(f"シート「{name}」", max_row, max_col, limits):
                return problem
        else:
            tables += 1
            if tables > limits.max_sheets:
                return f"シートが {limits.max_sheets} 枚を超えています"
            name = next((html.unescape(v.decode("utf-8", "replace")) for k, v in _attrs(attrs)
                         if _local(k) == b"name"), "")
            row = max_row = max_col = 0
    if in_row and (problem := finish_row()):
        return problem
    return _too_wide(f"シート「{name}」", max_row, max_col, limits)


_SST_START = re.compile(rb"<(?:[\w.-]{1,40}:)?sst[\s/>]")


def _xlsx_target(target: str) -> list[str]:
    """The part a relationship target names, resolved as calamine does and as OPC does."""
    names = []
    if target.startswith("/xl/"):
        names.append(target[1:])
    elif target.startswith("xl/"):
        names.append(target)
    else:
        names.append("xl/" + target)
    names.append(os.path.normpath(os.path.join("xl", target.lstrip("/"))).replace("\\", "/"))
    return names


def _check_zip_workbook(data: bytes, idx: _ZipIndex, fmt: str, limits: Limits) -> tuple[str, str] | None:
    for e in idx.entries:
        if e.encrypted or e.method not in (0, 8):
            return ("E101", f"ブック内の「{e.name}」が対応していない圧縮方式・暗号化で格納されています")
    try:
        if fmt == "ods":
            content = idx.get("content.xml")
            if content is None:
                return ("E101", "ODS の本体（content.xml）がありません")
            problem = _ods_problem(_inflate(data, content), limits)
            return ("E108", problem) if problem else None
        return _check_xlsx(data, idx, limits)
    except _Reject as r:
        return (r.code, r.reason)


def _check_xlsx(data: bytes, idx: _ZipIndex, limits: Limits) -> tuple[str, str] | None:
    rels: dict[str, tuple[str, str]] = {}
    rels_entry = idx.get("xl/_rels/workbook.xml.rels")
    if rels_entry is not None:
        rels_xml = _as_utf8(_inflate(data, rels_entry))
        _refuse_dtd(rels_xml, "xl/_rels/workbook.xml.rels ")
        for raw_attrs in _tags_named(rels_xml, b"Relationship"):
            a = {_local(k): html.unescape(v.decode("utf-8", "replace")) for k, v in _attrs(raw_attrs)}
            rels[a.get(b"Id", "")] = (a.get(b"Type", ""), a.get(b"Target", ""))
    parts: dict[str, str] = {}  # part name (casefolded) -> where, for reasons
    wb = idx.get("xl/workbook.xml")
    sheets = 0
    if wb is not None:
        wb_xml = _as_utf8(_inflate(data, wb))
        _refuse_dtd(wb_xml, "xl/workbook.xml ")
        for raw_attrs in _tags_named(wb_xml, b"sheet"):
            sheets += 1
            a = _attrs(raw_attrs)
            sheet_name = next((html.unescape(v.decode("utf-8", "replace")) for k, v in a
                               if k == b"name"), "")
            for k, v in a:
                if _local(k) == b"id" and b":" in k:
                    _, target = rels.get(html.unescape(v.decode("utf-8", "replace")), ("", ""))
                    for part in _xlsx_target(target) if target else []:
                        parts[part.casefold()] = f"シート「{sheet_name}」"
    for e in idx.entries:
        key = e.name.casefold()
        if key.startswith(("xl/worksheets/", "xl/macrosheets/", "xl/dialogsheets/")) \
                and not key.endswith(".rels") and key not in parts:
            parts[key] = f"シート（{e.name}）"
    sheets = max(sheets, len(parts))
    if sheets > limits.max_sheets:
        return ("E108", f"シートが {sheets} 枚あり、上限 {limits.max_sheets} 枚を超えています")
    for part, where in parts.items():
        e = idx.get(part)
        if e is None or e.is_dir:
            continue
        problem = _xlsx_sheet_problem(_inflate(data, e), where, limits)
        if problem:
            return ("E108", problem)
    # calamine reserves room for every shared string the table declares (uniqueCount) before
    # reading any: 4294967295 aborts the process.
    sst_parts = {"xl/sharedstrings.xml"}
    for rel_type, target in rels.values():
        if rel_type.endswith("/sharedStrings") and target:
            sst_parts.update(p.casefold() for p in _xlsx_target(target))
    for part in sst_parts:
        e = idx.get(part)
        if e is None:
            continue
        # Only the root tag matters: inflate the head of the part, not all of it.
        head = _as_utf8(_inflate_head(data, e, _MAX_TAG))
        _refuse_dtd(head, "共有文字列（sharedStrings.xml）")
        m = _SST_START.search(head)
        gt = _tag_end(head, m.start()) if m else -1
        if m and gt > 0:
            for k, v in _attrs(head[m.end() - 1 : gt]):
                if _local(k) == b"uniqueCount" and v.strip().isdigit():
                    declared = int(v.strip()[:20])
                    # every <si> takes at least 8 bytes, so the part's size bounds the count
                    if declared > e.file_size // 8 + 16:
                        return ("E108", f"共有文字列の宣言数（{declared:,} 件）が実際の内容に比べて不正に大きいため取り込みません")
    styles = idx.get("xl/styles.xml")  # calamine parses it too
    if styles is not None:
        _refuse_dtd(_as_utf8(_inflate_head(data, styles, 4096)), "xl/styles.xml ")
    return None


def check_workbook(data: bytes, fmt: str, limits: Limits = DEFAULT_LIMITS) -> tuple[str, str] | None:
    """(code, reason) when a workbook's bytes must not reach a parser; None when they may.

    xlsx/xlsm/ods: the zip pre-check, the number of sheets, every sheet's extent and the shared
    string table. xls (BIFF in an OLE container): the container, the number of sheets, and
    every sheet's records (DIMENSIONS, columns beyond IV, the extent calamine will allocate).
    """
    if not data:
        return ("E110", "空のファイル（0 バイト）です")
    if len(data) > limits.max_file_bytes:
        return ("E108", f"ファイルが {_size(len(data))} あり、上限 {_size(limits.max_file_bytes)} を超えています")
    try:
        if fmt in ("xlsx", "xlsm", "ods"):
            if not data.startswith(ZIP_MAGICS):
                return ("E111", "Excel ブック（xlsx）の形式ではありません")
            return _check_zip_workbook(data, _zip_index(data, limits), fmt, limits)
        if fmt == "xls":
            return _check_xls(data, limits)
    except _Reject as r:
        return (r.code, r.reason)
    except Exception as exc:
        return ("E111", f"ブックの事前検査で問題が見つかりました（{type(exc).__name__}）")
    return ("E101", f"対応していない形式（{fmt or '不明'}）です")


def _check_xls(data: bytes, limits: Limits) -> tuple[str, str] | None:
    """The container, then every sheet's BIFF records: calamine parses all sheets when it
    opens an xls and aborts the process (a Rust abort, not an exception) on a DIMENSIONS
    record claiming rwMac = 0xFFFFFFFF or a cell at column 65535; a cell at IV65536 costs it
    1.2 GB. So the records are bounded here, before calamine ever sees the bytes."""
    import olefile

    if not data.startswith(OLE_MAGIC):
        return ("E111", "Excel 97-2003 ブック（xls）の形式ではありません")
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except Exception:
        return ("E111", "xls ファイルの構造が壊れています")
    with contextlib.closing(ole):
        # calamine reads "Workbook", else "Book": the same stream is checked.
        stream = "Workbook" if ole.exists("Workbook") else "Book" if ole.exists("Book") else None
        if stream is None:
            return ("E101", "xls ファイルにブックのデータ（Workbook ストリーム）がありません")
        if ole.get_size(stream) > limits.max_part_bytes:
            return ("E108", f"xls のブックデータが {_size(ole.get_size(stream))} あり、上限を超えています")
        book = ole.openstream(stream).read()
    try:
        return xls_problem(book, limits)
    except (ValueError, struct.error):
        return ("E111", "xls ファイルのブックデータが壊れているか、途中で切れています")


# BIFF record types (MS-XLS 2.3).
BIFF_BOF, BIFF_EOF, BIFF_FILEPASS, BIFF_BOUNDSHEET = 0x0809, 0x000A, 0x002F, 0x0085
BIFF_DIMENSIONS, BIFF_FORMULA, BIFF_STRING = 0x0200, 0x0006, 0x0207
BIFF_MULRK, BIFF_BLANK, BIFF_MULBLANK = 0x00BD, 0x0201, 0x00BE
# Records calamine turns into a cell: NUMBER, RK, LABELSST, LABEL, BOOLERR, RSTRING, FORMULA
# (MULRK and the STRING after a FORMULA too; BLANK and MULBLANK are not placed).
BIFF_VALUES = frozenset({0x0203, 0x027E, 0x00FD, 0x0204, 0x0205, 0x00D6, BIFF_FORMULA})
BIFF_CELLS = BIFF_VALUES | {BIFF_BLANK}
XLS_MAX_ROWS, XLS_MAX_COLS = 65_536, 256


def biff_records(stream: bytes, pos: int) -> Iterator[tuple[int, bytes]]:
    """(type, data) of the records of one substream, from ``pos`` to its EOF record.

    Raises ValueError when a record is cut short (as calamine stops with an error there).
    """
    end = len(stream)
    unpack = struct.unpack_from
    while pos + 4 <= end:
        rtype, length = unpack("<HH", stream, pos)
        data = stream[pos + 4 : pos + 4 + length]
        if len(data) != length:
            raise ValueError("BIFF レコードが途中で切れています")
        yield rtype, data
        if rtype == BIFF_EOF:
            return
        pos += 4 + length


def biff_short_string(data: bytes, pos: int, errors: str = "strict") -> str:
    """ShortXLUnicodeString: a length byte, a flags byte, then Latin-1 or UTF-16 characters."""
    cch, flags = struct.unpack_from("<BB", data, pos)
    if flags & 1:
        return data[pos + 2 : pos + 2 + 2 * cch].decode("utf-16-le", errors)
    return data[pos + 2 : pos + 2 + cch].decode("latin-1", errors)


@dataclass
class BiffSheet:
    """One sheet substream as calamine will hold it (zero-based rows and columns)."""

    box: tuple[int, int, int, int] | None  # first row, first col, last row, last col of the cells
    formulas: set[tuple[int, int]]
    widest: tuple[int, int] | None  # (row, col) of a cell record beyond column IV, if any
    dimensions: list[tuple[int, int, int, int]]  # (rwMic, rwMac, colMic, colMac) as declared

    @property
    def cells(self) -> int:
        """The rectangle calamine allocates: the bounding box of the cells it places."""
        if self.box is None:
            return 0
        r0, c0, r1, c1 = self.box
        return (r1 - r0 + 1) * (c1 - c0 + 1)


def scan_biff_sheet(stream: bytes, pos: int) -> BiffSheet:
    """One walk over a sheet's records, from its BOF to its EOF: the cells calamine places
    (it ignores blank cells), the formula cells, cell records beyond column IV, DIMENSIONS."""
    unpack = struct.unpack_from
    formulas: set[tuple[int, int]] = set()
    dimensions: list[tuple[int, int, int, int]] = []
    widest: tuple[int, int] | None = None
    r_min = c_min = 1 << 20
    r_max = c_max = -1
    last_formula = (0, 0)  # calamine places a STRING record at the last FORMULA's cell
    for rtype, data in biff_records(stream, pos):
        if rtype in BIFF_CELLS:
            r, c = unpack("<HH", data)
            c_last = c
            if rtype == BIFF_FORMULA:
                formulas.add((r, c))
                last_formula = (r, c)
            elif rtype == BIFF_BLANK:
                if c >= XLS_MAX_COLS and widest is None:
                    widest = (r, c)
                continue
        elif rtype in (BIFF_MULRK, BIFF_MULBLANK):
            r, c = unpack("<HH", data)
            c_last = unpack("<H", data, len(data) - 2)[0]
            if rtype == BIFF_MULBLANK:
                if max(c, c_last) >= XLS_MAX_COLS and widest is None:
                    widest = (r, max(c, c_last))
                continue
        elif rtype == BIFF_STRING:
            r, c = last_formula
            c_last = c
        elif rtype == BIFF_DIMENSIONS:
            if len(data) >= 14:
                dimensions.append(unpack("<IIHH", data))
            elif len(data) >= 8:
                dimensions.append(unpack("<HHHH", data))
            continue
        else:
            continue
        if max(c, c_last) >= XLS_MAX_COLS and widest is None:
            widest = (r, max(c, c_last))
        r_min, r_max = min(r_min, r), max(r_max, r)
        c_min, c_max = min(c_min, c, c_last), max(c_max, c, c_last)
    box = (r_min, c_min, r_max, c_max) if r_max >= 0 else None
    return BiffSheet(box, formulas, widest, dimensions)


def xls_problem(stream: bytes, limits: Limits) -> tuple[str, str] | None:
    """(code, reason) when calamine must not open this BIFF ``Workbook`` stream: the globals
    substream's sheet list, then each sheet as calamine will walk it. Raises ValueError or
    struct.error on records cut short."""
    sheets: list[tuple[str, int]] = []
    for rtype, data in biff_records(stream, 0):
        if rtype == BIFF_FILEPASS and data[:2] != b"\x00\x00":
            return None  # still encrypted: calamine refuses it before reading any sheet
        if rtype == BIFF_BOUNDSHEET:
            (pos,) = struct.unpack_from("<I", data)
            sheets.append((biff_short_string(data, 6, "replace") if len(data) > 7 else "", pos))
    if len(sheets) > limits.max_sheets:
        return ("E108", f"シートが {len(sheets)} 枚あり、上限 {limits.max_sheets} 枚を超えています")
    for name, pos in sheets:
        where = f"シート「{name}」"
        if pos >= len(stream):
            return ("E111", f"{where}の位置情報が壊れています（xls のブックデータの外を指しています）")
        sheet = scan_biff_sheet(stream, pos)
        for rw0, rw1, col0, col1 in sheet.dimensions:
            if rw1 > XLS_MAX_ROWS or col1 > XLS_MAX_COLS or rw0 > rw1 or col0 > col1:
                return ("E108", f"{where}の使用範囲の宣言（DIMENSIONS レコード：行 {rw0:,}〜{rw1:,}、列 {col0:,}〜{col1:,}）が"
                                f"Excel 97-2003 形式の上限（{XLS_MAX_ROWS:,} 行 × {XLS_MAX_COLS} 列）を超えているか不正です")
            if (rw1 - rw0) * (col1 - col0) > limits.max_cells:
                return ("E108", f"{where}の使用範囲の宣言（約 {(rw1 - rw0) * (col1 - col0):,} セル）が"
                                f"上限 {limits.max_cells:,} セルを超えています")
        if sheet.widest is not None:
            r, c = sheet.widest
            return ("E108", f"{where}に列番号 {c + 1:,}（{r + 1:,} 行目）のセルがあり、Excel 97-2003 形式の上限"
                            f"（{XLS_MAX_ROWS:,} 行 × {XLS_MAX_COLS} 列）を超えています（壊れているか、細工されたファイルです）")
        if sheet.cells > limits.max_cells:
            r0, c0, r1, c1 = sheet.box or (0, 0, 0, 0)
            return ("E108", f"{where}の使用範囲が {_col_letters(c0 + 1)}{r0 + 1}:{_col_letters(c1 + 1)}{r1 + 1}"
                            f"（約 {sheet.cells:,} セル）と広く、上限 {limits.max_cells:,} セルを超えています。"
                            "離れた位置に入力されたセルを削除して保存し直してください")
    return None


# --------------------------------------------------------------------------------------------
# Collecting
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ctx:
    """Where a blob was found."""

    path: str
    members: tuple[str, ...] = ()
    level: int = 0  # number of enclosing containers
    email_date: datetime | None = None
    mtime: float = 0.0
    ancestors: tuple[str, ...] = ()  # sha256 of enclosing containers

    def child(self, member: str, container_sha: str, **kw: Any) -> _Ctx:
        return _Ctx(
            path=self.path,
            members=(*self.members, member),
            level=self.level + 1,
            email_date=kw.get("email_date", self.email_date),
            mtime=kw.get("mtime", self.mtime),
            ancestors=(*self.ancestors, container_sha),
        )

    def item(self, name: str, status: str, *, fmt: str = "", sha: str = "", code: str = "",
             reason: str = "", data: bytes | None = None, decrypted: bool = False) -> Item:
        return Item(path=self.path, member=" > ".join(self.members), name=name, sha256=sha,
                    fmt=fmt, status=status, code=code, reason=reason, data=data,
                    email_date=self.email_date, mtime=self.mtime, decrypted=decrypted)


def _unique(name: str, seen: dict[str, int]) -> str:
    """Member names unique within one container, so that (path, member) names one item."""
    key = name.casefold()
    seen[key] = seen.get(key, 0) + 1
    return name if seen[key] == 1 else f"{name} #{seen[key]}"


def _fmt_guess(name: str) -> str:
    ext = _ext(name)
    return {".xlsx": "xlsx", ".xltx": "xlsx", ".xlsm": "xlsm", ".xltm": "xlsm", ".xls": "xls",
            ".xlt": "xls", ".ods": "ods", ".ots": "ods", ".zip": "zip", ".eml": "eml",
            ".msg": "msg"}.get(ext, "")


class _Collector:
    def __init__(self, passwords: Sequence[str], limits: Limits) -> None:
        self.limits = limits
        unique: list[str] = []
        for p in passwords:
            if p and p not in unique:
                unique.append(p)
        self.passwords = unique[: limits.max_passwords]
        self.last_zip_password: bytes | None = None

    # ---- entry point for any blob ---------------------------------------------------------

    def blob(self, data: bytes, name: str, ctx: _Ctx) -> list[Item]:
        """Every blob becomes at least one item; nothing escapes as an exception."""
        sha = _sha(data)
        try:
            return self._blob(data, name, ctx, sha)
        except _Reject as r:
            return [ctx.item(name, "rejected", fmt=_fmt_guess(name), sha=sha, code=r.code,
                             reason=r.reason)]
        except RecursionError:
            return [ctx.item(name, "rejected", fmt=_fmt_guess(name), sha=sha, code="E114",
                             reason="入れ子が深すぎるため開きません")]
        except Exception as exc:
            return [ctx.item(name, "rejected", fmt=_fmt_guess(name), sha=sha, code="E111",
                             reason=f"読み込み中に想定外の問題が起きたため取り込みません（{type(exc).__name__}）")]

    def too_big(self, name: str, size: int, ctx: _Ctx) -> Item:
        if _ext(name) in KNOWN_EXTS:
            return ctx.item(name, "rejected", fmt=_fmt_guess(name), code="E108",
                            reason=f"ファイルが {_size(size)} あり、上限 {_size(self.limits.max_file_bytes)} を超えています")
        return ctx.item(name, "ignored", reason=NOT_TARGET)

    def _blob(self, data: bytes, name: str, ctx: _Ctx, sha: str) -> list[Item]:
        ext = _ext(name)
        if not data:
            if ext in KNOWN_EXTS:
                return [ctx.item(name, "rejected", fmt=_fmt_guess(name), sha=sha, code="E110",
                                 reason="空のファイル（0 バイト）です")]
            return [ctx.item(name, "ignored", sha=sha, reason=NOT_TARGET)]
        if data.startswith(ZIP_MAGICS):
            return self._zip_blob(data, name, ctx, sha)
        if data.startswith(OLE_MAGIC):
            return self._ole_blob(data, name, ctx, sha)
        if ext == ".eml":
            return self._email(data, name, ctx, sha)
        if ext in WORKBOOK_EXTS or ext in (".zip", ".msg", ".xlsb"):
            head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
            if head.startswith(b"<") and (b"<html" in head or b"<table" in head or b"<?xml" in head):
                reason = ("中身が HTML／XML 形式の表で、Excel ブックではありません。"
                          "Excel で開き「Excel ブック (*.xlsx)」形式で保存し直してください")
            elif ext == ".xlsx" or ext == ".xlsm":
                reason = "Excel ブック（xlsx）の形式ではありません（壊れているか、別の形式のファイルです）"
            else:
                reason = "ファイルが壊れているか、拡張子と中身の形式が一致しません"
            return [ctx.item(name, "rejected", fmt=_fmt_guess(name), sha=sha, code="E111",
                             reason=reason)]
        if ext == ".csv":
            return [ctx.item(name, "ignored", sha=sha,
                             reason="CSV は対象外です。様式のブック（xlsx）を提出してください")]
        if name.lower() == "winmail.dat":
            return [ctx.item(name, "ignored", sha=sha, reason=(
                "Outlook の TNEF 形式（winmail.dat）です。送信者に添付ファイルを通常の形式で送り直すよう依頼してください"))]
        return [ctx.item(name, "ignored", sha=sha, reason=NOT_TARGET)]

    def _workbook(self, data: bytes, name: str, ctx: _Ctx, sha: str, fmt: str, *,
                  decrypted: bool = False) -> list[Item]:
        problem = check_workbook(data, fmt, self.limits)
        if problem:
            return [ctx.item(name, "rejected", fmt=fmt, sha=sha, code=problem[0],
                             reason=problem[1], decrypted=decrypted)]
        return [ctx.item(name, "candidate", fmt=fmt, sha=sha, data=data, decrypted=decrypted)]

    def _open_container(self, ctx: _Ctx, sha: str) -> None:
        if sha and sha in ctx.ancestors:
            raise _Reject("E114", "自分自身を含む圧縮ファイル・メールのため開きません")
        if ctx.level >= self.limits.max_depth:
            raise _Reject("E114", f"入れ子が深すぎるため開きません（メール・圧縮ファイルの入れ子は {self.limits.max_depth} 段まで）")

    # ---- zip ------------------------------------------------------------------------------

    def _zip_blob(self, data: bytes, name: str, ctx: _Ctx, sha: str) -> list[Item]:
        ext = _ext(name)
        try:
            idx = _zip_index(data, self.limits)
        except _Reject:
            if ext in KNOWN_EXTS:
                raise
            return [ctx.item(name, "ignored", sha=sha, reason=NOT_TARGET)]
        kind = _zip_kind(data, idx, ext)
        if kind in ("xlsx", "xlsm", "ods"):
            problem = _check_zip_workbook(data, idx, kind, self.limits)
            if problem:
                return [ctx.item(name, "rejected", fmt=kind, sha=sha, code=problem[0],
                                 reason=problem[1])]
            return [ctx.item(name, "candidate", fmt=kind, sha=sha, data=data)]
        if kind == "xlsb":
            raise _Reject("E101", "xlsb（バイナリ形式）のブックには対応していません。"
                                  "Excel で「Excel ブック (*.xlsx)」形式で保存し直してください")
        if ext in WORKBOOK_EXTS:
            raise _Reject("E101", f"拡張子は {ext} ですが、中身は Excel ブックではありません")
        if kind == "office" or ext != ".zip":
            return [ctx.item(name, "ignored", sha=sha, reason=NOT_TARGET)]
        return self._zip_container(data, idx, name, ctx, sha)

    def _zip_container(self, data: bytes, idx: _ZipIndex, name: str, ctx: _Ctx,
                       sha: str) -> list[Item]:
        self._open_container(ctx, sha)
        files = [e for e in idx.entries if not e.is_dir]
        readers: dict[str, Any] = {}
        password: bytes | None = None
        encrypted = [e for e in files if e.encrypted and e.file_size <= self.limits.max_file_bytes
                     and _litter_reason(_clean_name(e.name), e.name.split("/")) is None]
        first_data: dict[int, bytes] = {}
        if encrypted:
            # Find the archive's password on its first encrypted member before listing anything.
            found = self._zip_password(data, encrypted[0], readers)
            if found is None:
                raise _Reject("E102", self._no_password_reason("パスワード付き zip"))
            password, first_data[encrypted[0].index] = found
        children: list[Item] = []
        seen: dict[str, int] = {}
        for e in files:
            member_path = e.name.replace("\\", "/")
            base = _clean_name(member_path) or member_path
            child = ctx.child(_unique(member_path, seen), sha, mtime=_dos_mtime(e))
            litter = _litter_reason(base, member_path.split("/"))
            if litter:
                children.append(child.item(base, "ignored", reason=litter))
                continue
            if e.file_size > self.limits.max_file_bytes:
                children.append(self.too_big(base, e.file_size, child))
                continue
            try:
                if e.index in first_data:
                    content = first_data[e.index]
                elif e.encrypted:
                    found = self._zip_password(data, e, readers, prefer=password)
                    if found is None:
                        raise _Reject("E102", self._no_password_reason("パスワード付きのファイル"))
                    content = found[1]
                else:
                    content = _inflate(data, e)
            except _Reject as r:
                children.append(child.item(base, "rejected", fmt=_fmt_guess(base), code=r.code,
                                           reason=r.reason))
                continue
            children.extend(self.blob(content, base, child))
        head = ctx.item(name, "opened", fmt="zip", sha=sha,
                        reason=f"zip を展開し（ディスクには書き出さず）{len(files)} 件を取り出しました")
        return [head, *children]

    def _no_password_reason(self, what: str) -> str:
        if not self.passwords:
            return f"{what}です。パスワードの一覧（--passwords）を指定してください"
        return f"{what}ですが、指定されたパスワード（{len(self.passwords)} 件）のいずれでも開けません"

    def _password_bytes(self, prefer: bytes | None) -> list[bytes]:
        out: list[bytes] = [prefer] if prefer else []
        if self.last_zip_password and self.last_zip_password not in out:
            out.append(self.last_zip_password)
        for p in self.passwords:
            for enc in ("utf-8", "cp932"):
                with contextlib.suppress(UnicodeEncodeError):
                    b = p.encode(enc)
                    if b not in out:
                        out.append(b)
        return out

    def _zip_password(self, data: bytes, e: _ZipEntry, readers: dict[str, Any],
                      prefer: bytes | None = None) -> tuple[bytes, bytes] | None:
        """Read an encrypted member with each candidate password; CRC/HMAC confirm the fit."""
        if e.flags & 0x40 or e.inner_method not in (0, 8):
            raise _Reject("E102", "対応していない暗号化方式の zip です（ZipCrypto と AES のみ対応）")
        key = "aes" if e.aes else "zipcrypto"
        if key not in readers:
            try:
                if e.aes:
                    import pyzipper

                    zf: Any = pyzipper.AESZipFile(io.BytesIO(data))
                else:
                    zf = zipfile.ZipFile(io.BytesIO(data))
            except Exception:
                raise _Reject("E111", "パスワード付き zip の構造が壊れています") from None
            readers[key] = (zf, {zi.header_offset: zi for zi in zf.infolist()})
        zf, infos = readers[key]
        zinfo = infos.get(e.header_offset)
        if zinfo is None or zinfo.file_size != e.file_size:
            raise _Reject("E115", "zip の構造が読み取り方によって食い違います")
        for pwd in self._password_bytes(prefer):
            try:
                with zf.open(zinfo, pwd=pwd) as f:
                    content = f.read(e.file_size + 1)  # ZipExtFile stops at the declared size
            except Exception:
                continue
            if len(content) == e.file_size:
                self.last_zip_password = pwd
                return pwd, content
        return None

    # ---- OLE: encrypted workbooks, xls, Outlook .msg --------------------------------------

    def _ole_blob(self, data: bytes, name: str, ctx: _Ctx, sha: str) -> list[Item]:
        import olefile

        ext = _ext(name)
        try:
            ole = olefile.OleFileIO(io.BytesIO(data))
        except Exception:
            if ext in KNOWN_EXTS:
                raise _Reject("E111", "ファイルの構造（OLE 複合文書）が壊れています") from None
            return [ctx.item(name, "ignored", sha=sha, reason=NOT_TARGET)]
        with contextlib.closing(ole):
            if ole.exists("EncryptionInfo") and ole.exists("EncryptedPackage"):
                if ext not in WORKBOOK_EXTS:
                    return [ctx.item(name, "ignored", sha=sha, reason=NOT_TARGET)]
                return self._encrypted_ooxml(data, name, ctx, sha)
            if ole.exists("Workbook") or ole.exists("Book"):
                return self._xls(data, name, ctx, sha)
            if ole.exists("__properties_version1.0") or ext == ".msg":
                return self._msg(ole, data, name, ctx, sha)
        if ext in WORKBOOK_EXTS:
            raise _Reject("E101", "Excel ブックではありません（Word 文書など別の形式のファイルです）")
        return [ctx.item(name, "ignored", sha=sha, reason=NOT_TARGET)]

    def _encrypted_ooxml(self, data: bytes, name: str, ctx: _Ctx, sha: str) -> list[Item]:
        from msoffcrypto.format.ooxml import OOXMLFile

        try:
            office = OOXMLFile(io.BytesIO(data))
        except Exception:
            raise _Reject("E102", "パスワード付きのブックですが、暗号化方式に対応していません") from None
        for password in self.passwords:
            try:
                office.load_key(password=password, verify_password=True)
                out = io.BytesIO()
                office.decrypt(out, verify_integrity=True)
            except Exception:
                continue
            plain = out.getvalue()
            if not plain.startswith(ZIP_MAGICS):
                continue
            kind = _zip_kind(plain, _zip_index(plain, self.limits), _ext(name))
            if kind not in ("xlsx", "xlsm"):
                raise _Reject("E101", "復号できましたが、中身は Excel ブックではありません")
            return self._workbook(plain, name, ctx, sha, kind, decrypted=True)
        raise _Reject("E102", self._no_password_reason("パスワード付きのブック"))

    def _xls(self, data: bytes, name: str, ctx: _Ctx, sha: str) -> list[Item]:
        from msoffcrypto.format.xls97 import Xls97File

        try:
            encrypted = Xls97File(io.BytesIO(data)).is_encrypted()
        except Exception:
            raise _Reject("E111", "xls ファイルのブックデータが壊れています") from None
        if not encrypted:
            return self._workbook(data, name, ctx, sha, "xls")
        for password in [XLS_DEFAULT_PASSWORD, *self.passwords]:
            try:
                office = Xls97File(io.BytesIO(data))
                office.load_key(password=password)
                out = io.BytesIO()
                with _xls_decrypt_in_memory():
                    office.decrypt(out)
            except Exception:
                continue
            return self._workbook(out.getvalue(), name, ctx, sha, "xls", decrypted=True)
        raise _Reject("E102", self._no_password_reason("パスワード付きのブック"))

    def _msg(self, ole: Any, data: bytes, name: str, ctx: _Ctx, sha: str) -> list[Item]:
        self._open_container(ctx, sha)
        return self._msg_items(ole, [], name, ctx, sha, budget=[0], depth=0)

    def _msg_items(self, ole: Any, prefix: list[str], name: str, ctx: _Ctx, sha: str, *,
                   budget: list[int], depth: int) -> list[Item]:
        """Outlook .msg with olefile: attachments are the storages __attach_version1.0_#N.

        An attached (forwarded) message is a storage __substg1.0_3701000D laid out like a
        .msg of its own, so it is walked in place.
        """
        limits = self.limits
        if depth > limits.max_mime_depth:
            raise _Reject("E116", f"メールの入れ子が上限 {limits.max_mime_depth} 段を超えています")
        here = replace(ctx, email_date=_msg_date(ole, prefix, limits) or ctx.email_date)
        attach_dirs = sorted({
            tuple(p[: len(prefix) + 1]) for p in ole.listdir(streams=True, storages=True)
            if len(p) > len(prefix) and p[: len(prefix)] == prefix
            and p[len(prefix)].startswith("__attach_version1.0_")
        })
        children: list[Item] = []
        seen: dict[str, int] = {}
        for k, adir in enumerate(attach_dirs, 1):
            budget[0] += 1
            if budget[0] > limits.max_mime_parts:
                raise _Reject("E116", f"添付ファイルが上限 {limits.max_mime_parts} 件を超えています")
            base = list(adir)
            fname = _msg_attachment_name(ole, base, limits)
            embedded = [*base, "__substg1.0_3701000D"]
            if ole.exists("/".join([*embedded, "__properties_version1.0"])):
                subject = _msg_text(ole, [*embedded, "__substg1.0_0037001F"], limits) or ""
                fname = fname or _clean_name(subject)[:80] or f"添付メール{k}"
                if not fname.lower().endswith(".msg"):
                    fname += ".msg"
                child = here.child(_unique(fname, seen), sha)
                sub_sha = _msg_storage_sha(ole, embedded)
                try:
                    self._open_container(child, sub_sha)
                    children.extend(self._msg_items(ole, embedded, fname, child, sub_sha,
                                                    budget=budget, depth=depth + 1))
                except _Reject as r:
                    children.append(child.item(fname, "rejected", fmt="msg", sha=sub_sha,
                                               code=r.code, reason=r.reason))
                continue
            fname = fname or f"添付ファイル{k}"
            child = here.child(_unique(fname, seen), sha)
            stream = [*base, "__substg1.0_37010102"]
            size = _msg_size(ole, stream)
            if size > limits.max_file_bytes:
                children.append(self.too_big(fname, size, child))
                continue
            content = _msg_stream(ole, stream, limits)
            if content is None:
                children.append(child.item(fname, "ignored", reason="埋め込みオブジェクトのため対象外です"))
                continue
            children.extend(self.blob(content, fname, child))
        head = here.item(name, "opened", fmt="msg", sha=sha,
                         reason=f"Outlook のメールを開き、添付ファイル {len(attach_dirs)} 件を取り出しました")
        return [head, *children]

    # ---- e-mail (.eml) --------------------------------------------------------------------

    def _email(self, data: bytes, name: str, ctx: _Ctx, sha: str) -> list[Item]:
        self._open_container(ctx, sha)
        # Bound the parse itself: the stdlib parser recurses per nested multipart level.
        nested = len(re.findall(rb"(?im)^content-type:[ \t\r\n]*(?:multipart|message)/", data))
        if nested > self.limits.max_mime_parts:
            raise _Reject("E116", f"MIME パートが上限 {self.limits.max_mime_parts} 個を超えています")
        try:
            msg = email.message_from_bytes(data, policy=email.policy.default)
        except RecursionError:
            raise _Reject("E116", "メールの入れ子が深すぎます") from None
        except Exception:
            raise _Reject("E111", "メールの形式が壊れています") from None
        return self._message(msg, name, ctx, sha, budget=[0], depth=0)

    def _message(self, msg: email.message.Message, name: str, ctx: _Ctx, sha: str, *,
                 budget: list[int], depth: int) -> list[Item]:
        sent = _email_date(msg) or ctx.email_date
        here = _Ctx(ctx.path, ctx.members, ctx.level, sent, ctx.mtime, ctx.ancestors)
        children: list[Item] = []
        seen: dict[str, int] = {}
        count = 0
        # Depth-first in MIME order, with an explicit stack (no recursion on hostile nesting).
        stack: list[tuple[email.message.Message, int]] = [(msg, depth)]
        while stack:
            part, level = stack.pop()
            budget[0] += 1
            if budget[0] > self.limits.max_mime_parts:
                raise _Reject("E116", f"MIME パートが上限 {self.limits.max_mime_parts} 個を超えています")
            if level > self.limits.max_mime_depth:
                raise _Reject("E116", f"MIME の入れ子が上限 {self.limits.max_mime_depth} 段を超えています")
            ctype, cparams = _split_params(_raw_header(part, "content-type") or "text/plain")
            payload = part.get_payload()
            if ctype.startswith("multipart/") and isinstance(payload, list):
                stack.extend((p, level + 1) for p in reversed(payload))
                continue
            filename = _part_filename(part, cparams)
            disposition, _ = _split_params(_raw_header(part, "content-disposition") or "")
            if ctype == "message/rfc822" and isinstance(payload, list) and payload:
                count += 1
                inner = payload[0]
                subject = _decode_words(_raw_header(inner, "subject") or "").strip()
                fname = filename or (_clean_name(subject)[:80] or f"添付メール{count}")
                if not fname.lower().endswith(".eml"):
                    fname += ".eml"
                child = here.child(_unique(fname, seen), sha)
                sub_sha = _message_sha(inner)
                try:
                    self._open_container(child, sub_sha)
                    children.extend(self._message(inner, fname, child, sub_sha, budget=budget,
                                                  depth=level + 1))
                except _Reject as r:
                    children.append(child.item(fname, "rejected", fmt="eml", sha=sub_sha,
                                               code=r.code, reason=r.reason))
                continue
            if not filename and disposition != "attachment":
                continue  # the body text, not a file
            count += 1
            fname = filename or f"添付ファイル{count}{_EXT_BY_TYPE.get(ctype, '')}"
            child = here.child(_unique(fname, seen), sha)
            try:
                content = part.get_payload(decode=True)
            except Exception:
                content = None
            if not isinstance(content, bytes):
                content = b""
            if len(content) > self.limits.max_file_bytes:
                children.append(self.too_big(fname, len(content), child))
                continue
            children.extend(self.blob(content, fname, child))
        head = here.item(name, "opened", fmt="eml", sha=sha,
                         reason=f"メールを開き、添付ファイル {count} 件を取り出しました")
        return [head, *children]


_EXT_BY_TYPE = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.12": ".xlsm",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/zip": ".zip",
    "application/x-zip-compressed": ".zip",
    "message/rfc822": ".eml",
}


def _raw_header(msg: email.message.Message, name: str) -> str | None:
    """A header as written, without the policy's parser (which raises on some Japanese names)."""
    for key, value in msg.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def _part_filename(part: email.message.Message, cparams: list[tuple[str, str]]) -> str:
    _, dparams = _split_params(_raw_header(part, "content-disposition") or "")
    name = _param(dparams, "filename") or _param(cparams, "name")
    if not name:
        with contextlib.suppress(Exception):
            name = part.get_filename() or ""
    return _clean_name(name or "")


def _email_date(msg: email.message.Message) -> datetime | None:
    raw = _raw_header(msg, "date")
    if not raw:
        return None
    try:
        when = email.utils.parsedate_to_datetime(_unescape_raw(raw).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _message_sha(msg: email.message.Message) -> str:
    try:
        return _sha(msg.as_bytes(policy=email.policy.compat32))
    except Exception:
        return ""


def _msg_stream(ole: Any, path: list[str], limits: Limits) -> bytes | None:
    joined = "/".join(path)
    if not ole.exists(joined) or ole.get_type(joined) != 2:  # 2 = stream
        return None
    if ole.get_size(joined) > limits.max_file_bytes:
        return None
    return bytes(ole.openstream(joined).read())


def _msg_size(ole: Any, path: list[str]) -> int:
    joined = "/".join(path)
    return int(ole.get_size(joined)) if ole.exists(joined) else 0


def _msg_text(ole: Any, path: list[str], limits: Limits) -> str | None:
    raw = _msg_stream(ole, path, limits)
    if raw is None:
        return None
    return raw.decode("utf-16-le", "replace").rstrip("\x00")


def _msg_attachment_name(ole: Any, base: list[str], limits: Limits) -> str:
    """Long file name, short file name, display name: Unicode (001F) first, then 8-bit (001E)."""
    for prop in ("3707", "3704", "3001"):
        text = _msg_text(ole, [*base, f"__substg1.0_{prop}001F"], limits)
        if text and _clean_name(text):
            return _clean_name(text)
    for prop in ("3707", "3704", "3001"):
        raw = _msg_stream(ole, [*base, f"__substg1.0_{prop}001E"], limits)
        if raw and _clean_name(_decode_bytes(raw.rstrip(b"\x00"), "cp932")):
            return _clean_name(_decode_bytes(raw.rstrip(b"\x00"), "cp932"))
    return ""


def _msg_storage_sha(ole: Any, prefix: list[str]) -> str:
    """A fingerprint of an attached message: its streams, by path."""
    h = hashlib.sha256()
    for p in sorted(ole.listdir(streams=True)):
        if p[: len(prefix)] == prefix:
            h.update("/".join(p).encode("utf-8") + b"\x00")
            h.update(ole.openstream("/".join(p)).read())
    return h.hexdigest()


def _msg_date(ole: Any, prefix: list[str], limits: Limits) -> datetime | None:
    """PR_CLIENT_SUBMIT_TIME (0x0039), else PR_MESSAGE_DELIVERY_TIME (0x0E06): a FILETIME.

    The fixed-length property records (16 bytes each) follow a 32-byte header in a top-level
    message and a 24-byte header in an attached one.
    """
    raw = _msg_stream(ole, [*prefix, "__properties_version1.0"], limits)
    if not raw:
        return None
    found: dict[int, int] = {}
    for i in range(32 if not prefix else 24, len(raw) - 15, 16):
        tag, _flags, value = struct.unpack_from("<LLQ", raw, i)
        if tag & 0xFFFF == 0x0040:
            found[tag >> 16] = value
    for prop in (0x0039, 0x0E06):
        if found.get(prop):
            with contextlib.suppress(ValueError, OverflowError, OSError):
                return datetime.fromtimestamp(found[prop] / 10**7 - 11_644_473_600, tz=timezone.utc)
    return None


@contextlib.contextmanager
def _xls_decrypt_in_memory() -> Iterator[None]:
    """msoffcrypto rewrites a decrypted xls through tempfile.TemporaryFile; keep it in memory.

    Swaps the module's reference for the duration of one call, so that a decrypted workbook
    never touches the disk (the library is single-threaded).
    """
    from msoffcrypto.format import xls97

    original = xls97.tempfile
    xls97.tempfile = types.SimpleNamespace(TemporaryFile=io.BytesIO)  # type: ignore[assignment]
    try:
        yield
    finally:
        xls97.tempfile = original


# --------------------------------------------------------------------------------------------
# Disk walk
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    display: str
    real: str
    kind: str  # "file" | "symlink" | "special" | "missing"


@dataclass(frozen=True)
class Stored:
    """A file kept under a generated name (``real``) and known by the name it came with
    (``display``: a relative path with "/", e.g. an upload to ``kofu serve``).

    Intake reads ``real`` but names, orders and judges the file (litter, duplicates, the
    取込記録) by ``display``, exactly as if a folder holding ``display`` had been given, so
    the same files give the same result on disk and uploaded. ``display`` is never opened.
    """

    display: str
    real: str

    def __fspath__(self) -> str:
        return self.real


def _walk(paths: Sequence[str | os.PathLike[str]]) -> list[_Found]:
    found: list[_Found] = []
    stored = sorted((p for p in paths if isinstance(p, Stored)), key=lambda s: s.display.split("/"))
    for s in stored:  # in the order a walk of the folders they came from would give
        ok = os.path.isfile(s.real) and not os.path.islink(s.real)
        found.append(_Found(s.display, s.real, "file" if ok else "missing"))
    for given in sorted({os.fspath(p) for p in paths if not isinstance(p, Stored)}):
        if not os.path.lexists(given):
            found.append(_Found(given, given, "missing"))
        elif os.path.isdir(given):  # a folder named on the command line may be a link
            _walk_dir(given, given, found)
        elif os.path.isfile(given):
            found.append(_Found(given, given, "file"))
        else:
            found.append(_Found(given, given, "special"))
    seen: set[str] = set()
    unique: list[_Found] = []
    for f in found:
        key = os.path.realpath(f.real) if f.kind == "file" else f"{f.kind}:{f.real}"
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def _walk_dir(display: str, real: str, found: list[_Found]) -> None:
    try:
        with os.scandir(real) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        found.append(_Found(display, real, "unreadable-dir"))
        return
    for entry in entries:
        shown = os.path.join(display, entry.name)
        if entry.is_symlink():
            found.append(_Found(shown, entry.path, "symlink"))
        elif entry.is_dir(follow_symlinks=False):
            _walk_dir(shown, entry.path, found)
        elif entry.is_file(follow_symlinks=False):
            found.append(_Found(shown, entry.path, "file"))
        else:
            found.append(_Found(shown, entry.path, "special"))


def _disk_item(collector: _Collector, f: _Found) -> list[Item]:
    display = _fs_display(f.display)
    name = _clean_name(_fs_display(os.path.basename(f.display))) or display
    ctx = _Ctx(path=display)
    if f.kind == "missing":
        return [ctx.item(name, "rejected", code="E101", reason="指定されたファイル・フォルダが見つかりません")]
    if f.kind == "unreadable-dir":
        return [ctx.item(name, "rejected", code="E101", reason="フォルダの中を読み取れません（アクセス権限を確認してください）")]
    if f.kind == "symlink":
        return [ctx.item(name, "ignored", reason="シンボリックリンクのため辿りません")]
    if f.kind == "special":
        return [ctx.item(name, "ignored", reason="通常のファイルではないため対象外です")]
    parts = re.split(r"[/\\]", display)
    litter = _litter_reason(name, parts)
    limits = collector.limits
    try:
        st = os.stat(f.real)
        ctx = _Ctx(path=display, mtime=st.st_mtime)
        if litter:
            return [ctx.item(name, "ignored", reason=litter)]
        if not stat.S_ISREG(st.st_mode):
            return [ctx.item(name, "ignored", reason="通常のファイルではないため対象外です")]
        if st.st_size > limits.max_file_bytes:
            return [collector.too_big(name, st.st_size, ctx)]
        with open(f.real, "rb") as fh:
            # Sized by the file, not by the limit: read(n) allocates n bytes up front (50 MiB
            # for every file otherwise).
            data = fh.read(st.st_size + 1)
            if len(data) > st.st_size:  # growing while we look: read on up to the limit
                data += fh.read(limits.max_file_bytes + 1 - len(data))
    except OSError:
        return [ctx.item(name, "rejected", fmt=_fmt_guess(name), code="E101",
                         reason="ファイルを読み取れません（アクセス権限などを確認してください）")]
    if len(data) > limits.max_file_bytes:  # grew while we looked
        return [collector.too_big(name, len(data), ctx)]
    return collector.blob(data, name, ctx)


def discover(paths: Sequence[str | os.PathLike[str]]) -> list[_Found]:
    """The files on disk under the given paths, in intake order (for callers that take them in
    one at a time, e.g. in worker processes)."""
    return _walk(paths)


def collect_file(found: _Found, passwords: Sequence[str] = (),
                 limits: Limits = DEFAULT_LIMITS) -> list[Item]:
    """Every item of one file found by :func:`discover` (the file and all it contains)."""
    return _disk_item(_Collector(passwords, limits), found)


def collect(paths: Sequence[str | Path], passwords: Sequence[str] = (),
            limits: Limits = DEFAULT_LIMITS) -> list[Item]:
    """Every file under the given paths (and inside their e-mails and archives), in order.

    Order: sorted paths, folders walked in name order, then the order inside each container.
    Candidates (status "candidate") have passed :func:`check_workbook` and carry their bytes.
    """
    collector = _Collector(passwords, limits)
    items: list[Item] = []
    for f in _walk(paths):
        items.extend(_disk_item(collector, f))
    return items


# --------------------------------------------------------------------------------------------
# Settling duplicates and resubmissions
# --------------------------------------------------------------------------------------------

_EPOCH = datetime(1, 1, 1, tzinfo=timezone.utc)
_PARTICIPANTS = ("candidate", "accepted", "superseded", "duplicate")


def settle(items: list[Item]) -> None:
    """Duplicates, then resubmissions: one accepted workbook per (municipality, kind).

    Byte-identical copies of a candidate become "duplicate" (the first in order stays). Then per
    (muni_code, kind) the latest wins - highest revision, then latest submitted_on, e-mail Date,
    file time, and finally later in order; the others become "superseded". Rejected, ignored and
    opened items are left as they are. Calling it twice gives the same result.
    """
    first_copy: dict[str, Item] = {}
    pool: list[tuple[int, Item]] = []
    for order, item in enumerate(items):
        if item.status not in _PARTICIPANTS:
            continue
        key = _sha(item.data) if item.decrypted and item.data is not None else item.sha256
        original = first_copy.get(key) if key else None
        if original is not None:
            item.status, item.code = "duplicate", ""
            item.reason = f"{original.where} と同じ内容のため、重複として扱います"
            continue
        if key:
            first_copy[key] = item
        pool.append((order, item))

    groups: dict[tuple[str, str], list[tuple[int, Item]]] = {}
    for order, item in pool:
        group = (item.muni_code, item.kind) if item.kind else ("", f"#{order}")
        groups.setdefault(group, []).append((order, item))
    for members in groups.values():
        def rank(entry: tuple[int, Item]) -> tuple[Any, ...]:
            order, it = entry
            return (it.revision, it.submitted_on or date.min, it.email_date or _EPOCH, it.mtime,
                    order)

        _, winner = max(members, key=rank)
        for _, item in members:
            if item is winner:
                item.status, item.code, item.reason = "accepted", "", "取り込みました"
            else:
                item.status, item.code = "superseded", ""
                item.reason = f"より新しい提出（{winner.where}）があるため採用しません"


def read_passwords(path: str | Path) -> list[str]:
    """Passwords, one per line, in UTF-8 (with or without BOM) or cp932; blank lines skipped.

    Surrounding spaces are removed (a trailing space from Notepad is the usual mistake).
    """
    raw = Path(path).read_bytes()
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp932", "replace")
    return [line.strip() for line in text.splitlines() if line.strip()]

