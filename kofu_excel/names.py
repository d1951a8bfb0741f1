"""File names that Windows accepts, whatever text they are made from.

The tool makes file names out of municipality names, attachment names and e-mail subjects
(templates, annotated copies, letters, the bundle). Every such name goes through
:func:`safe_name`, and every generated output path through :func:`fit_path`, so that what is
written on Linux can be copied to, and what is written on Windows opens in, an official's PC:

- none of ``\\ / : * ? " < > |`` nor control characters (replaced by ``_``);
- no reserved device name (CON, PRN, AUX, NUL, COM0–9, LPT0–9, CONIN$, CONOUT$, also with
  superscript digits), with or without an extension, in any case (``_`` is put in front);
- no trailing dot or space (removed), no leading space;
- at most 255 UTF-16 units per component, and at most 255 bytes in UTF-8 too, so the same name
  also works on Linux (the bundle, CI): the stem is cut and ``~`` plus six hex digits of the
  SHA-1 of the original name appended, the extension kept;
- a full path shorter than MAX_PATH (260 UTF-16 units with the terminating NUL): a longer one has
  its file name's stem cut the same way (``<cut>~<6 hex>.xlsx``),
  so the result is the same on every run and two long names stay two names; when even the
  shortest such name does not fit, :class:`~kofu_excel.findings.KofuError` E906 is raised.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from .findings import KofuError

E_PATH_TOO_LONG = "E906"

MAX_COMPONENT = 255  # UTF-16 units in one name (NTFS, exFAT, SMB shares); UTF-8 bytes on Linux
MAX_PATH = 260  # UTF-16 units including the terminating NUL: 259 usable
HASH_LEN = 6

_FORBIDDEN = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
_SUPERSCRIPT = "¹²³"
RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{dev}{n}" for dev in ("COM", "LPT") for n in "0123456789" + _SUPERSCRIPT]
)


def utf16_len(text: str) -> int:
    """Length as Windows counts it: characters outside the BMP (𠮷) take two units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def os_len(text: str) -> int:
    """Length as this OS counts a name: UTF-16 units on Windows, bytes on POSIX (in the file
    system encoding, as ``os.fsencode`` gives them; UTF-8 for what it cannot encode)."""
    if os.name == "nt":
        return utf16_len(text)
    try:
        return len(os.fsencode(text))
    except UnicodeEncodeError:
        return len(text.encode("utf-8", "surrogatepass"))


def component_len(text: str) -> int:
    """What a name costs against MAX_COMPONENT: the most of its UTF-16 units (Windows) and its
    bytes (UTF-8, and as this OS encodes it), so a name that fits here fits on the other too."""
    return max(utf16_len(text), len(text.encode("utf-8", "surrogatepass")), os_len(text))


def name_max(folder: str | Path | None = None) -> int:
    """The longest name (in :func:`component_len`) a file in ``folder`` may have: MAX_COMPONENT,
    or less where the file system says so (POSIX ``NAME_MAX``: 143 bytes on eCryptfs)."""
    limit = MAX_COMPONENT
    if folder is None or not hasattr(os, "pathconf"):
        return limit
    probe = Path(os.path.abspath(folder))
    while True:
        try:
            fs_max = os.pathconf(probe, "PC_NAME_MAX")
            break
        except (OSError, ValueError):
            if probe.parent == probe:
                return limit
            probe = probe.parent  # not there yet (created later): ask the file system above
    return min(limit, fs_max) if fs_max and fs_max > 0 else limit


def writable_name(name: str, limit: int | None = None) -> str:
    """Why ``name`` cannot be a file's name on this OS ("" when it can): a character the file
    system encoding cannot store, or a name longer than ``limit`` (default MAX_COMPONENT)."""
    if os.name == "nt":
        if re.search(r"[\ud800-\udfff]", name):
            return "ファイル名に Windows で使えない文字が含まれています"
    else:
        try:
            os.fsencode(name)
        except UnicodeEncodeError:
            return "ファイル名にこのコンピュータで使えない文字が含まれています"
    if component_len(name) > (limit if limit is not None else MAX_COMPONENT):
        return "ファイル名が長すぎます"
    return ""


def _cut(text: str, units: int, measure=utf16_len) -> str:
    """The longest prefix of ``text`` that ``measure`` counts at most ``units`` (never half a
    surrogate pair, as characters are taken whole)."""
    out, used = [], 0
    for ch in text:
        need = measure(ch)
        if used + need > units:
            break
        out.append(ch)
        used += need
    return "".join(out)


def _split_ext(name: str) -> tuple[str, str]:
    """'a.b.xlsx' → ('a.b', '.xlsx'); a leading dot or a long 'extension' is part of the stem."""
    stem, ext = os.path.splitext(name)
    if not stem or utf16_len(ext) > 16:
        return name, ""
    return stem, ext


def is_reserved(name: str) -> bool:
    """CON, con.txt, 'Nul .xlsx', COM¹.log: names Windows maps to devices."""
    base = name.split(".", 1)[0].rstrip(" ").upper()
    return base in RESERVED


def safe_name(name: str, fallback: str = "_", max_units: int = MAX_COMPONENT) -> str:
    """``name`` as a valid Windows file name component (see the module doc). Idempotent."""
    text = _FORBIDDEN.sub("_", name).lstrip(" ").rstrip(". ")
    if not text or text in (".", ".."):
        text = fallback
    if is_reserved(text):
        text = "_" + text
    if component_len(text) > max_units:
        stem, ext = _split_ext(text)
        tag = _tag(name)
        keep = max_units - component_len(ext) - len(tag)
        text = (_cut(stem, keep, component_len).rstrip(". ") or "_") + tag + ext
    return text


def _tag(name: str) -> str:
    return "~" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:HASH_LEN]


def fit_path(folder: str | Path, name: str) -> Path:
    """``folder / safe_name(name)``, its file name shortened so the absolute path fits MAX_PATH.

    The rule is predictable: the stem is cut to what fits and ``~`` plus the first six hex
    digits of the SHA-1 of the full (safe) name is appended before the extension. Raises
    KofuError E906 when the folder leaves no room for even that.
    """
    folder = Path(folder)
    original, name = name, safe_name(name, max_units=name_max(folder))
    room = MAX_PATH - 1 - utf16_len(os.path.join(os.path.abspath(folder), ""))
    if utf16_len(name) <= room:
        return folder / name
    stem, ext = _split_ext(name)
    tag = _tag(original)
    keep = room - utf16_len(tag) - utf16_len(ext)
    if keep < 1:
        raise KofuError(E_PATH_TOO_LONG,
                        f"出力先のフォルダのパスが長すぎて、ファイル名を付けられません（{os.path.abspath(folder)}）。"
                        f"Windows のパスの上限は {MAX_PATH - 1} 文字です。もっと浅いフォルダを指定してください")
    short = _cut(stem, keep).rstrip(". ") or "_"
    return folder / (short + tag + ext)
