"""Zip packages read from the central directory, checked before anything is inflated.

Python's zipfile inflates overlapping entries and reads "the last one" of duplicate names, and
a 100 KB archive can claim gigabytes: :func:`zip_index` parses and checks the whole central
directory (counts, names, ratios, sizes, overlaps) and raises :class:`Reject` first. Members
are then inflated with their output capped at the declared size (:func:`inflate`).
Used for workbooks (xlsx, ods) and for zip archives that intake opens as containers.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import struct
import time
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from .base import Reject, size_text
from .limits import Limits

__all__ = [
    "ZIP_MAGICS",
    "Stored",
    "ZipEntry",
    "ZipIndex",
    "dos_mtime",
    "inflate",
    "inflate_head",
    "inflate_stored",
    "read_encrypted",
    "stored",
    "zip_index",
    "zip_kind",
]

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


@dataclass(slots=True)
class ZipEntry:
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
class ZipIndex:
    entries: list[ZipEntry]
    by_name: dict[str, ZipEntry]  # NFC + casefold, "/" separators

    def get(self, name: str) -> ZipEntry | None:
        return self.by_name.get(name.casefold())


def _extra_fields(extra: bytes) -> Iterator[tuple[int, bytes]]:
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, i)
        yield tag, extra[i + 4 : i + 4 + size]
        i += 4 + size


def _nfc_name(raw: bytes, flags: int, extra: bytes) -> str:
    return unicodedata.normalize("NFC", _zip_name(raw, flags, extra))


def _zip_name(raw: bytes, flags: int, extra: bytes) -> str:
    """Decode one member name: UTF-8 flag, Info-ZIP Unicode Path field, UTF-8, cp932, cp437.

    Per entry, because one archive from a Japanese Windows machine can mix cp932 names with
    UTF-8 ones (zipfile's metadata_encoding fails the whole archive on the first odd name).
    """
    if flags & 0x800:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Reject("E113", "圧縮ファイル内のファイル名が UTF-8 として不正です") from None
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


def zip_index(data: bytes, limits: Limits) -> ZipIndex:
    """Parse and check the central directory; raise Reject before anything is inflated."""
    broken = "zip の構造が壊れているか、ファイルが途中で切れています"
    n = len(data)
    if n < 22:
        raise Reject("E111", broken)
    if data[-22:-18] == b"PK\x05\x06" and data[-2:] == b"\x00\x00":
        eocd = n - 22
    else:
        eocd = data.rfind(b"PK\x05\x06", max(0, n - 22 - 65535))
        if eocd < 0 or eocd + 22 > n:
            raise Reject("E111", broken + "（終端レコードがありません）")
    (_, disk, disk_cd, _, total, cd_size, cd_offset, _) = struct.unpack_from(
        "<4s4H2LH", data, eocd
    )
    z64 = 0
    if total == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        loc = eocd - 20
        if loc < 56 or data[loc : loc + 4] != b"PK\x06\x07":
            raise Reject("E111", broken)
        rec = loc - 56
        if data[rec : rec + 4] != b"PK\x06\x06":
            raise Reject("E111", broken)
        (_, _, _, _, disk, disk_cd, _, total, cd_size, cd_offset) = struct.unpack_from(
            "<4sQ2H2L4Q", data, rec
        )
        z64 = 76
    if disk or disk_cd:
        raise Reject("E111", "分割された zip（複数ファイルに分かれた圧縮ファイル）には対応していません")
    if total > limits.max_entries:
        raise Reject(
            "E112", f"圧縮ファイルに {total:,} 個のファイルがあり、上限 {limits.max_entries:,} 個を超えています"
        )
    # Bytes prepended to the archive (self-extractors) shift every offset, as zipfile allows.
    concat = eocd - cd_size - cd_offset - z64
    cd_start = cd_offset + concat
    if concat < 0 or cd_start + cd_size > eocd:
        raise Reject("E111", broken)

    # One pass over the records: each member's record, name, sizes and local header are
    # checked as it is read, the totals and overlaps after. Only what differs between files is
    # worked out anew: the name and its checks come from a cache of the (few, recurring) names
    # of a batch.
    entries: list[ZipEntry] = []
    by_name: dict[str, ZipEntry] = {}
    spans: list[tuple[int, int, int]] = []
    total_size = 0
    max_entries, max_len = limits.max_entries, limits.max_name_len
    ratio_min, max_ratio, max_part = limits.ratio_min_part, limits.max_ratio, limits.max_part_bytes
    unpack, local = _CD_RECORD.unpack_from, _LOCAL_SIZES.unpack_from
    i = cd_start
    end = cd_start + cd_size
    while i < end:
        if i + 46 > end or not data.startswith(b"PK\x01\x02", i):
            raise Reject("E111", broken + "（中央ディレクトリが不正です）")
        (create_system, flags, method, dtime, ddate, crc, csize, usize, ln, lx, lc,
         ext_attr, offset) = unpack(data, i)
        j = i + 46 + ln
        raw_name = data[i + 46 : j]
        extra = data[j : j + lx]
        i = j + lx + lc
        if len(entries) >= max_entries:
            raise Reject(
                "E112", f"圧縮ファイルのファイル数が上限 {max_entries:,} 個を超えています"
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
            raise Reject("E113", "圧縮ファイル内のファイル名に NUL 文字が含まれています")
        symlink = create_system == 3 and (ext_attr >> 16) & 0o170000 == 0o120000
        name, key, bad = (_member_name_cached if ln + lx <= 1024 else _member_name)(
            raw_name, flags, extra, symlink, max_len)
        if bad:
            raise Reject("E113", f"圧縮ファイル内のエントリ名が不正です：{bad}")
        if key in by_name:
            raise Reject(
                "E115", f"圧縮ファイル内に同じ名前のファイル「{name}」が重複しています（大文字・小文字や正規化の違いを含む）"
            )
        if usize > ratio_min and (csize == 0 or usize / csize > max_ratio):
            raise Reject(
                "E112",
                f"圧縮後 {size_text(csize)} から {size_text(usize)} に展開されるため取り込みません（zip爆弾の疑い）",
            )
        if usize > max_part:
            raise Reject(
                "E112",
                f"圧縮ファイル内の「{name}」が展開後 {size_text(usize)} あり、上限 {size_text(max_part)} を超えています（zip爆弾の疑い）",
            )
        total_size += usize
        # The local header + data must lie before the central directory and not overlap
        # another's (checked below): overlapping entries are how a 100 KB archive inflates
        # to gigabytes.
        h = offset + concat
        if h < 0 or h + 30 > cd_start or not data.startswith(b"PK\x03\x04", h):
            raise Reject("E111", broken + "（ローカルヘッダが見つかりません）")
        hn, hx = local(data, h + 26)
        if hn != ln or not data.startswith(raw_name, h + 30):
            raise Reject("E115", f"zip の「{name}」の名前が中央ディレクトリとローカルヘッダで異なります")
        start = h + 30 + hn + hx
        stop = start + csize
        if stop > cd_start:
            raise Reject("E111", broken + f"（「{name}」のデータが途中で切れています）")
        spans.append((h, stop, len(entries)))
        e = ZipEntry(len(entries), raw_name, name, flags, method, crc, csize, usize, h, extra,
                     ext_attr, create_system, dtime, ddate, start,
                     method if method != 99 else _aes_method(extra))
        entries.append(e)
        by_name[key] = e
    if total != 0xFFFF and z64 == 0 and len(entries) != total:
        raise Reject("E115", "zip の中央ディレクトリの件数が終端レコードと一致しません")
    if total_size > limits.max_package_bytes:
        raise Reject(
            "E112",
            f"圧縮ファイル全体が展開後 {size_text(total_size)} になり、上限 {size_text(limits.max_package_bytes)} を超えています（zip爆弾の疑い）",
        )
    spans.sort()
    for (_, prev_stop, prev), (start, _, cur) in pairwise(spans):
        if start < prev_stop:
            raise Reject(
                "E115", f"zip のエントリ「{entries[prev].name}」と「{entries[cur].name}」のデータ領域が重なっています（zip爆弾の手口）"
            )
    return ZipIndex(entries, by_name)


# A central directory record after its signature, without the fields nothing here reads.
_CD_RECORD = struct.Struct("<5xB2x4HL2L3H4xLL")
_LOCAL_SIZES = struct.Struct("<HH")


def _aes_method(extra: bytes) -> int:
    """The real compression method of a WinZip AES member (-1 when its extra field lacks it)."""
    for tag, body in _extra_fields(extra):
        if tag == 0x9901 and len(body) >= 7:
            return int(struct.unpack_from("<H", body, 5)[0])
    return -1


def _member_name(raw: bytes, flags: int, extra: bytes, symlink: bool,
                 max_len: int) -> tuple[str, str, str | None]:
    """A member's name, its key in the index (``/`` separators, casefolded) and what is wrong
    with it (None when nothing is)."""
    name = _nfc_name(raw, flags, extra)
    return name, name.replace("\\", "/").casefold(), _name_problem(name, max_len, symlink)


# The same few member names recur in every file of a batch (short ones only are kept); a name
# that cannot be decoded raises Reject, which is never kept.
_member_name_cached = functools.lru_cache(maxsize=4096)(_member_name)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _name_problem(name: str, max_len: int, symlink: bool) -> str | None:
    if not name:
        return "空のファイル名があります"
    if len(name) > max_len:
        return f"ファイル名が {len(name)} 文字あり、上限 {max_len} 文字を超えています"
    if _CONTROL.search(name):
        return "ファイル名に制御文字が含まれています"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return f"「{name}」が絶対パスです"
    if ".." in _SEPARATORS.split(name):
        return f"「{name}」が上位フォルダ（..）を指しています"
    if symlink:
        return f"「{name}」がシンボリックリンクです"
    return None

_DRIVE = re.compile(r"[A-Za-z]:")
_SEPARATORS = re.compile(r"[/\\]")


def inflate(data: bytes, e: ZipEntry) -> bytes:
    """A plain (unencrypted) member, inflated with output capped at its declared size + 1."""
    return inflate_stored(stored(data, e), e.name)


Stored = tuple[bytes, int, int, int]


def stored(data: bytes, e: ZipEntry) -> Stored:
    """A member as stored: its compressed bytes, method, declared size and CRC. Equal tuples
    inflate to equal bytes that pass the same checks, so a result that depends only on a part's
    bytes can be kept under this key and found again without inflating the part."""
    return (data[e.data_start : e.data_start + e.compress_size], e.method, e.file_size, e.crc)


def inflate_stored(member: Stored, name: str) -> bytes:
    """:func:`inflate` of a member as :func:`stored` gives it (``name`` for the reasons)."""
    raw, method, size, crc = member
    if method == 0:
        out = raw
    elif method == 8:
        try:
            out = zlib.decompressobj(-15).decompress(raw, size + 1)
        except zlib.error:
            raise Reject("E111", f"「{name}」の圧縮データが壊れています") from None
    else:
        raise Reject("E101", f"「{name}」は対応していない圧縮方式（{method}）で圧縮されています")
    if len(out) != size or zlib.crc32(out) != crc:
        raise Reject("E111", f"「{name}」の展開結果が宣言された大きさ・CRC と一致しません（壊れています）")
    return out


def inflate_head(data: bytes, e: ZipEntry, size: int) -> bytes:
    """The first `size` bytes of a plain member (no CRC check: the whole part is not read)."""
    raw = data[e.data_start : e.data_start + e.compress_size]
    if e.method == 0:
        return raw[:size]
    if e.method == 8:
        try:
            return zlib.decompressobj(-15).decompress(raw, size)
        except zlib.error:
            raise Reject("E111", f"「{e.name}」の圧縮データが壊れています") from None
    raise Reject("E101", f"「{e.name}」は対応していない圧縮方式（{e.method}）で圧縮されています")


def dos_mtime(e: ZipEntry) -> float:
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


def zip_kind(data: bytes, idx: ZipIndex, ext: str) -> str:
    """What a zip really holds: a workbook format, another office document, or plain files."""
    if idx.get("xl/workbook.xml"):
        return "xlsm" if idx.get("xl/vbaproject.bin") or ext in (".xlsm", ".xltm") else "xlsx"
    if idx.get("xl/workbook.bin"):
        return "xlsb"
    mimetype = idx.get("mimetype")
    if mimetype is not None:
        head = b""
        if not mimetype.encrypted and mimetype.file_size <= 200:
            with contextlib.suppress(Reject):
                head = inflate(data, mimetype)
        if head.startswith(b"application/vnd.oasis.opendocument.spreadsheet") and idx.get(
            "content.xml"
        ):
            return "ods"
        return "office"
    if idx.get("[content_types].xml"):
        return "office"
    return "zip"


def read_encrypted(data: bytes, e: ZipEntry, readers: dict[str, Any],
                   passwords: Iterable[bytes]) -> tuple[bytes, bytes] | None:
    """(password, content) of an encrypted member, with the first password that fits (the
    CRC or the AES HMAC confirms it); None when none does. ``readers`` caches the zipfile
    (ZipCrypto) or pyzipper (AES) reader of this archive between members.
    """
    if e.flags & 0x40 or e.inner_method not in (0, 8):
        raise Reject("E102", "対応していない暗号化方式の zip です（ZipCrypto と AES のみ対応）")
    key = "aes" if e.aes else "zipcrypto"
    if key not in readers:
        try:
            if e.aes:
                import pyzipper

                zf: Any = pyzipper.AESZipFile(io.BytesIO(data))
            else:
                zf = zipfile.ZipFile(io.BytesIO(data))
        except Exception:
            raise Reject("E111", "パスワード付き zip の構造が壊れています") from None
        readers[key] = (zf, {zi.header_offset: zi for zi in zf.infolist()})
    zf, infos = readers[key]
    zinfo = infos.get(e.header_offset)
    if zinfo is None or zinfo.file_size != e.file_size:
        raise Reject("E115", "zip の構造が読み取り方によって食い違います")
    for pwd in passwords:
        try:
            with zf.open(zinfo, pwd=pwd) as f:
                content = f.read(e.file_size + 1)  # ZipExtFile stops at the declared size
        except Exception:
            continue
        if len(content) == e.file_size:
            return pwd, content
    return None

