"""The disk side of intake: the paths given walked in a fixed order, each file read once.

Folders are walked sorted by name, iteratively (no recursion limit to hit), down to
:data:`MAX_DEPTH` levels below the folder given: a folder deeper than that is one rejected item
(E118) and everything above it is read as usual. Symbolic links are listed, never followed; a
file is read with its size bounded (it may grow while read). Each file found goes to the
:class:`Collector`.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..formats.limits import DEFAULT_LIMITS, Limits
from .collector import Collector
from .items import Ctx, Item, fmt_guess
from .names import clean_name, clean_text, fs_display, litter_reason

__all__ = ["MAX_DEPTH", "Found", "Stored", "collect", "collect_file", "discover"]

# Folder levels walked below a folder given. Deeper nesting is no office's filing (a folder
# bomb, a link loop copied as folders): rejected as one item, not walked.
MAX_DEPTH = 64
E_TOO_DEEP = "E118"


@dataclass(frozen=True)
class Found:
    """One path found on disk, as shown to the user and as opened."""

    display: str
    real: str
    kind: str  # "file" | "symlink" | "special" | "missing" | "unreadable-dir" | "too-deep"


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


def _walk(paths: Sequence[str | os.PathLike[str]]) -> list[Found]:
    found: list[Found] = []
    stored = sorted((p for p in paths if isinstance(p, Stored)), key=lambda s: s.display.split("/"))
    for s in stored:  # in the order a walk of the folders they came from would give
        ok = os.path.isfile(s.real) and not os.path.islink(s.real)
        found.append(Found(s.display, s.real, "file" if ok else "missing"))
    for given in sorted({os.fspath(p) for p in paths if not isinstance(p, Stored)}):
        if not os.path.lexists(given):
            found.append(Found(given, given, "missing"))
        elif os.path.isdir(given):  # a folder named on the command line may be a link
            _walk_dir(given, given, found)
        elif os.path.isfile(given):
            found.append(Found(given, given, "file"))
        else:
            found.append(Found(given, given, "special"))
    seen: set[str] = set()
    unique: list[Found] = []
    for f in found:
        key = os.path.realpath(f.real) if f.kind == "file" else f"{f.kind}:{f.real}"
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def _list_dir(display: str, real: str, found: list[Found]) -> Iterator[tuple[str, os.DirEntry[str]]]:
    try:
        with os.scandir(real) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        found.append(Found(display, real, "unreadable-dir"))
        entries = []
    return iter([(os.path.join(display, e.name), e) for e in entries])


def _walk_dir(display: str, real: str, found: list[Found], max_depth: int = MAX_DEPTH) -> None:
    """Depth first in name order, as a recursive walk would list them, with a stack of the
    folders being listed instead of the call stack."""
    stack = [_list_dir(display, real, found)]
    while stack:
        nxt = next(stack[-1], None)
        if nxt is None:
            stack.pop()
            continue
        shown, entry = nxt
        if entry.is_symlink():
            found.append(Found(shown, entry.path, "symlink"))
        elif entry.is_dir(follow_symlinks=False):
            if len(stack) > max_depth:  # the given folder is level 0
                found.append(Found(shown, entry.path, "too-deep"))
            else:
                stack.append(_list_dir(shown, entry.path, found))
        elif entry.is_file(follow_symlinks=False):
            found.append(Found(shown, entry.path, "file"))
        else:
            found.append(Found(shown, entry.path, "special"))


def _disk_item(collector: Collector, f: Found) -> list[Item]:
    # Shown, never opened: decoded when not UTF-8, and cleaned of control characters and escape
    # sequences as names inside e-mails and archives are (a name may retitle a terminal).
    display = clean_text(fs_display(f.display))
    name = clean_name(fs_display(os.path.basename(f.display))) or display
    ctx = Ctx(path=display)
    if f.kind == "missing":
        return [ctx.item(name, "rejected", code="E703", reason="指定されたファイル・フォルダが見つかりません")]
    if f.kind == "unreadable-dir":
        return [ctx.item(name, "rejected", code="E124", reason="フォルダの中を読み取れません（アクセス権限を確認してください）")]
    if f.kind == "too-deep":
        return [ctx.item(name, "rejected", code=E_TOO_DEEP,
                         reason=f"フォルダの階層が深すぎるため（{MAX_DEPTH} 階層まで）、この中は読み取りません。"
                                "浅いフォルダに移してから指定してください")]
    if f.kind == "symlink":
        return [ctx.item(name, "ignored", reason="シンボリックリンクのため辿りません")]
    if f.kind == "special":
        return [ctx.item(name, "ignored", reason="通常のファイルではないため対象外です")]
    parts = re.split(r"[/\\]", display)
    litter = litter_reason(name, parts)
    limits = collector.limits
    try:
        st = os.stat(f.real)
        ctx = Ctx(path=display, mtime=st.st_mtime)
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
        return [ctx.item(name, "rejected", fmt=fmt_guess(name), code="E124",
                         reason="ファイルを読み取れません（アクセス権限などを確認してください）")]
    if len(data) > limits.max_file_bytes:  # grew while we looked
        return [collector.too_big(name, len(data), ctx)]
    return collector.blob(data, name, ctx)


def discover(paths: Sequence[str | os.PathLike[str]]) -> list[Found]:
    """The files on disk under the given paths, in intake order (for callers that take them in
    one at a time, e.g. in worker processes)."""
    return _walk(paths)


def collect_file(found: Found, passwords: Sequence[str] = (),
                 limits: Limits = DEFAULT_LIMITS) -> list[Item]:
    """Every item of one file found by :func:`discover` (the file and all it contains)."""
    return _disk_item(Collector(passwords, limits), found)


def collect(paths: Sequence[str | os.PathLike[str]], passwords: Sequence[str] = (),
            limits: Limits = DEFAULT_LIMITS) -> list[Item]:
    """Every file under the given paths (and inside their e-mails and archives), in order.

    Order: sorted paths, folders walked in name order, then the order inside each container.
    Candidates (status "candidate") have passed :func:`check_workbook` and carry their bytes.
    """
    collector = Collector(passwords, limits)
    items: list[Item] = []
    for f in _walk(paths):
        items.extend(_disk_item(collector, f))
    return items
