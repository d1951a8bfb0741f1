"""Side files (--passwords, --config, --master, --schedule, letter templates, the summary that
kofu-advise reads) read with the same care as the inbox: a regular file, of bounded size.

``--config /dev/zero`` would otherwise read until memory runs out, and a FIFO would block the
command for ever. Here the file is checked before it is opened (a device or FIFO is never
opened), opened without blocking, checked again on the open handle (it may have been swapped
meanwhile), and read at most ``limit + 1`` bytes: too big is one Japanese line with the file's
own code (E501 master, E502 schedule, E503 config, E505 passwords, E601 summary, E602 template).
Stdlib only.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .findings import KofuError

__all__ = ["MAX_SIDE_BYTES", "read_side_file"]

MAX_SIDE_BYTES = 1 << 20  # 1 MiB: a TOML setting, a password list, a template is a few KB

_KIND = ((stat.S_ISDIR, "フォルダ"), (stat.S_ISCHR, "デバイス"), (stat.S_ISBLK, "デバイス"),
         (stat.S_ISFIFO, "名前付きパイプ（FIFO）"), (stat.S_ISSOCK, "ソケット"))


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    return next((word for test, word in _KIND if test(mode)), "通常のファイルではないもの")


def _size(n: int) -> str:
    return f"{n / (1 << 20):g}MB" if n >= 1 << 20 else f"{n / 1024:g}KB"


def read_side_file(path: str | os.PathLike[str], what: str, code: str,
                   limit: int = MAX_SIDE_BYTES) -> bytes:
    """The bytes of ``path``, or KofuError ``code`` ('<what> <name>: …') when it is missing,
    unreadable, not a regular file (device, FIFO, folder …) or larger than ``limit``."""
    from .intake.names import clean_text, fs_display

    name = clean_text(fs_display(Path(path).name)) or clean_text(fs_display(os.fspath(path)))

    def fail(detail: str) -> KofuError:
        return KofuError(code, f"{what} {name}: {detail}")

    try:
        kind = _not_regular(os.stat(path).st_mode)
    except (OSError, ValueError):
        raise fail("ファイルが見つからないか読み込めません") from None
    if kind is not None:
        raise fail(f"{kind}です。通常のファイルを指定してください")
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        raise fail("ファイルが見つからないか読み込めません") from None
    with open(fd, "rb", closefd=True) as fh:
        st = os.fstat(fh.fileno())
        kind = _not_regular(st.st_mode)
        if kind is not None:  # swapped between the check and the open
            raise fail(f"{kind}です。通常のファイルを指定してください")
        if st.st_size > limit:
            raise fail(f"ファイルが大きすぎます（{_size(limit)} まで）")
        try:
            data = fh.read(min(st.st_size, limit) + 1)
            if len(data) <= limit and len(data) > st.st_size:  # growing while read
                data += fh.read(limit + 1 - len(data))
        except OSError:
            raise fail("ファイルを読み込めません") from None
    if len(data) > limit:
        raise fail(f"ファイルが大きすぎます（{_size(limit)} まで）")
    return data
