"""File names as Japanese senders write them: decoded, cleaned, and OS litter told apart.

Japanese mailers and Windows zip tools send names in ISO-2022-JP, Shift_JIS (cp932) or raw
8-bit bytes, split RFC 2047 encoded words mid-character, and write RFC 2231 parameters with
continuations; every decoder here is tolerant of that and never raises.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import os
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Sequence

from .items import R_EXCEL_LOCK, R_LO_LOCK, R_MAC, R_WIN

__all__ = [
    "clean_name",
    "clean_text",
    "decode_bytes",
    "decode_words",
    "fs_display",
    "litter_reason",
    "param",
    "split_params",
    "unescape_raw",
]


def litter_reason(name: str, parts: Sequence[str]) -> str | None:
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


def clean_text(text: str) -> str:
    """Text safe to print: NFC, without control characters (C0, DEL, C1 such as CSI, and the
    bidirectional overrides), so a name cannot move the cursor, retitle the terminal or read
    backwards; what an escape sequence leaves (``]0;PWNED``) is shown as plain text."""
    text = unicodedata.normalize("NFC", text)
    return "".join(ch for ch in text if not _is_control(ch))


def _is_control(ch: str) -> bool:
    return ch < " " or "\x7f" <= ch <= "\x9f" or ch in _BIDI


_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def clean_name(text: str) -> str:
    """A display name: NFC, no control characters, last path component only."""
    text = clean_text(text)
    text = re.split(r"[/\\]", text)[-1]
    return text.strip()


def fs_display(text: str) -> str:
    """File names that were not UTF-8 on disk (surrogate escapes) decoded for display."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return decode_bytes(os.fsencode(text), None)


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


def decode_bytes(raw: bytes, charset: str | None) -> str:
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


def unescape_raw(text: str) -> str:
    """Header text with raw 8-bit bytes (surrogate escapes) decoded as Japanese text."""
    try:
        raw = text.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return text  # already real Unicode
    return text if raw.isascii() else decode_bytes(raw, None)


def decode_words(text: str) -> str:
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
            out.append(decode_bytes(bytes(pending), pending_cs))
        pending = bytearray()
        pending_cs = ""

    for m in _ENCODED_WORD.finditer(text):
        between = text[pos : m.start()]
        if between and not (pending and between.isspace()):
            flush()
            out.append(unescape_raw(between))
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
        out.append(unescape_raw(text[pos:]))
    return "".join(out)


def split_params(raw: str) -> tuple[str, list[tuple[str, str]]]:
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


def param(params: list[tuple[str, str]], name: str) -> str | None:
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
        return decode_bytes(bytes(raw), charset)
    for key, value in params:
        if key == name:
            return decode_words(value)
    return None
