"""OLE compound files: the magic, encrypted workbooks, and the streams of an Outlook .msg.

An OLE file is an xls (a ``Workbook`` stream), an encrypted xlsx (``EncryptionInfo`` and
``EncryptedPackage``), an Outlook message, or something else. Encrypted workbooks are
decrypted in memory with msoffcrypto (never through a temporary file); the .msg helpers read
one property stream with a size bound. olefile and msoffcrypto are imported where used.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import struct
import types
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

from .base import Reject
from .limits import Limits
from .zip import ZIP_MAGICS

__all__ = [
    "OLE_MAGIC",
    "XLS_DEFAULT_PASSWORD",
    "decrypt_ooxml",
    "decrypt_xls",
    "msg_date",
    "msg_size",
    "msg_storage_sha",
    "msg_stream",
    "msg_text",
    "open_ole",
    "xls_decrypt_in_memory",
    "xls_is_encrypted",
]

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# xls files saved with only a "write-reservation" password are encrypted with this fixed key.
XLS_DEFAULT_PASSWORD = "VelvetSweatshop"


def open_ole(data: bytes) -> Any:
    """An olefile reader over the bytes (raises on a broken container)."""
    import olefile

    return olefile.OleFileIO(io.BytesIO(data))


def decrypt_ooxml(data: bytes, passwords: Sequence[str]) -> bytes | None:
    """The plain zip package of an encrypted xlsx, with the first password that opens it.

    None when no password does; Reject (E102) when the encryption is not supported.
    """
    from msoffcrypto.format.ooxml import OOXMLFile

    try:
        office = OOXMLFile(io.BytesIO(data))
    except Exception:
        raise Reject("E102", "パスワード付きのブックですが、暗号化方式に対応していません") from None
    for password in passwords:
        try:
            office.load_key(password=password, verify_password=True)
            out = io.BytesIO()
            office.decrypt(out, verify_integrity=True)
        except Exception:
            continue
        plain = out.getvalue()
        if plain.startswith(ZIP_MAGICS):
            return plain
    return None


def xls_is_encrypted(data: bytes) -> bool:
    """Whether an xls carries a FILEPASS record; Reject (E111) when its records are broken."""
    from msoffcrypto.format.xls97 import Xls97File

    try:
        return bool(Xls97File(io.BytesIO(data)).is_encrypted())
    except Exception:
        raise Reject("E111", "xls ファイルのブックデータが壊れています") from None


def decrypt_xls(data: bytes, passwords: Sequence[str]) -> bytes | None:
    """An encrypted xls decrypted in memory: Excel's fixed write-reservation key first, then
    each password; None when none opens it."""
    from msoffcrypto.format.xls97 import Xls97File

    for password in [XLS_DEFAULT_PASSWORD, *passwords]:
        try:
            office = Xls97File(io.BytesIO(data))
            office.load_key(password=password)
            out = io.BytesIO()
            with xls_decrypt_in_memory():
                office.decrypt(out)
        except Exception:
            continue
        return out.getvalue()
    return None


@contextlib.contextmanager
def xls_decrypt_in_memory() -> Iterator[None]:
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


# --- Outlook .msg property streams ------------------------------------------------------------

def msg_stream(ole: Any, path: list[str], limits: Limits) -> bytes | None:
    joined = "/".join(path)
    if not ole.exists(joined) or ole.get_type(joined) != 2:  # 2 = stream
        return None
    if ole.get_size(joined) > limits.max_file_bytes:
        return None
    return bytes(ole.openstream(joined).read())


def msg_size(ole: Any, path: list[str]) -> int:
    joined = "/".join(path)
    return int(ole.get_size(joined)) if ole.exists(joined) else 0


def msg_text(ole: Any, path: list[str], limits: Limits) -> str | None:
    raw = msg_stream(ole, path, limits)
    if raw is None:
        return None
    return raw.decode("utf-16-le", "replace").rstrip("\x00")


def msg_storage_sha(ole: Any, prefix: list[str]) -> str:
    """A fingerprint of an attached message: its streams, by path."""
    h = hashlib.sha256()
    for p in sorted(ole.listdir(streams=True)):
        if p[: len(prefix)] == prefix:
            h.update("/".join(p).encode("utf-8") + b"\x00")
            h.update(ole.openstream("/".join(p)).read())
    return h.hexdigest()


def msg_date(ole: Any, prefix: list[str], limits: Limits) -> datetime | None:
    """PR_CLIENT_SUBMIT_TIME (0x0039), else PR_MESSAGE_DELIVERY_TIME (0x0E06): a FILETIME.

    The fixed-length property records (16 bytes each) follow a 32-byte header in a top-level
    message and a 24-byte header in an attached one.
    """
    raw = msg_stream(ole, [*prefix, "__properties_version1.0"], limits)
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
