"""What an output may replace: never an input, never anything but a regular file.

Every command that writes checks its output paths here BEFORE it writes the first file, so a
refusal (exit 2) leaves the disk as it was:

- E903: the output is one of the files the command reads. Files are compared as the OS knows
  them, by device and inode (``os.path.samefile``), never by the names shown: a name that is
  not UTF-8 on disk (cp932 bytes from a Windows zip unpacked on Linux) is shown decoded, and
  two spellings of one path (``./a.xlsx``, a link to a folder) are one file.
- E904: the output exists and is not a regular file: a device (``/dev/null``), a FIFO, a socket,
  a folder where a file is needed, or a symbolic link (replacing the link would silently drop
  it; writing through it would change a file elsewhere).
- E901: an existing file would be replaced by different bytes where the command promises not to
  (``kofu sample -o``, ``kofu-template -o`` without ``--force``).

:func:`~kofu_excel.write.atomic.write_atomic` repeats the E904 check for every file it writes,
as the last line of defence. Names in messages go through :func:`shown`: decoded and cleaned of
control characters (a name may carry terminal escape sequences).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ..findings import KofuError

__all__ = ["E_NOT_REGULAR", "E_OUTPUT_IS_INPUT", "E_OVERWRITE", "InputFiles", "refuse_different",
           "refuse_not_regular", "shown"]

E_OUTPUT_IS_INPUT = "E903"
E_NOT_REGULAR = "E904"
E_OVERWRITE = "E901"


def shown(path: str | os.PathLike[str]) -> str:
    """A path as a message shows it: non-UTF-8 bytes decoded, control characters and escape
    sequences dropped (the same cleaning intake gives names found in e-mails and archives)."""
    from ..intake.names import clean_text, fs_display

    return clean_text(fs_display(os.fspath(path)))


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "フォルダ"
    if stat.S_ISLNK(mode):
        return "シンボリックリンク"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "デバイス"
    if stat.S_ISFIFO(mode):
        return "名前付きパイプ（FIFO）"
    if stat.S_ISSOCK(mode):
        return "ソケット"
    return "通常のファイルではないもの"


def refuse_not_regular(path: str | os.PathLike[str]) -> None:
    """KofuError E904 when ``path`` exists and is not a regular file (absent is fine)."""
    try:
        st = os.lstat(path)
    except OSError:
        return  # absent (or unreachable: the writer says why)
    if stat.S_ISREG(st.st_mode):
        return
    raise KofuError(E_NOT_REGULAR, f"出力先 {shown(path)} は{_kind(st.st_mode)}です。"
                                   "通常のファイルの名前（まだ無い名前か、以前に出力したファイル）を指定してください")


def _file_id(path: str | os.PathLike[str]) -> tuple[int, int] | tuple[str, str] | None:
    """(device, inode) of a regular file; where the file system gives no inode (0: some network
    shares on Windows), its real path, case-folded as the OS compares it."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    if st.st_ino:
        return (st.st_dev, st.st_ino)
    return ("path", os.path.normcase(os.path.realpath(path)))


class InputFiles:
    """The files a command reads, as (device, inode): every regular file given or found under
    the folders given (walked as intake walks them), plus side files (config, master …)."""

    def __init__(self, paths: Iterable[str | os.PathLike[str]] = (), walk: bool = True) -> None:
        self._ids: set[tuple[int, int] | tuple[str, str]] | None = None
        self._paths = list(paths)
        self._walk = walk
        self._extra: list[str | os.PathLike[str]] = []
        self._skipped: set[str] = set()

    @property
    def ids(self) -> set[tuple[int, int] | tuple[str, str]]:
        """Walked when first needed: only an output that already exists can be an input."""
        if self._ids is None:
            self._ids = set()
            found: Iterable[str | os.PathLike[str]] = self._paths
            if self._walk and self._paths:
                from ..intake.walk import discover

                found = [f.real for f in discover(self._paths)
                         if f.kind == "file" and f.display not in self._skipped]
            self._add(*found, *self._extra)
        return self._ids

    def skip(self, displays: Iterable[str]) -> None:
        """Files found under the folders given that are not inputs after all, by the name intake
        shows for them: the toolkit's own earlier outputs (stamped, ignored by intake), which a
        rerun may replace. Call before the first check."""
        assert self._ids is None, "skip() after the walk"
        self._skipped.update(displays)

    def add(self, *paths: str | os.PathLike[str] | None) -> None:
        """Side files (a folder: every file under it) read besides the inputs."""
        given = [p for p in paths if p is not None]
        if self._ids is None:
            self._extra.extend(given)
        else:
            self._add(*given)

    def _add(self, *paths: str | os.PathLike[str]) -> None:
        assert self._ids is not None
        for p in paths:
            if os.path.isdir(p):
                for root, _dirs, files in os.walk(p):
                    self._add(*(os.path.join(root, f) for f in files))
                continue
            fid = _file_id(p)
            if fid is not None:
                self._ids.add(fid)

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, (str, os.PathLike)):
            return False
        fid = _file_id(path)  # None for an output not there yet: no walk needed
        return fid is not None and fid in self.ids

    def refuse(self, outputs: Iterable[str | os.PathLike[str]]) -> None:
        """E904 for an output that is not a regular file, E903 for one that is an input."""
        for out in outputs:
            refuse_not_regular(out)
            if out in self:
                raise KofuError(E_OUTPUT_IS_INPUT, f"出力先 {shown(out)} は入力ファイルの一つです。"
                                                   "別の名前か別のフォルダを指定してください")


def refuse_different(planned: Sequence[tuple[Path, Callable[[], bytes]]], force: bool,
                     option: str = "--force") -> dict[Path, bytes]:
    """E901 when a planned output exists with other bytes than would be written (unless
    ``force``); E904 for one that is not a regular file. Returns the bytes already built for
    the existing files, so the caller need not build them twice."""
    built: dict[Path, bytes] = {}
    clash: list[Path] = []
    for path, make in planned:
        refuse_not_regular(path)
        if force or not os.path.lexists(path):
            continue
        data = make()
        built[path] = data
        try:
            # Sizes first: a large file of the same name is never read in full.
            same = os.stat(path).st_size == len(data) and Path(path).read_bytes() == data
        except OSError:
            same = False
        if not same:
            clash.append(path)
    if clash:
        more = f"（ほか {len(clash) - 1} 件）" if len(clash) > 1 else ""
        raise KofuError(E_OVERWRITE, f"出力先に内容の異なる同名のファイルがあります：{shown(clash[0])}{more}。"
                                     f"上書きしません（何も書き出していません）。別のフォルダを指定するか、"
                                     f"上書きしてよい場合は {option} を指定してください")
    return built
