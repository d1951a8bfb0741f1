"""Outputs written all or nothing: a temporary file in the same folder, fsynced and renamed.

A crash or Ctrl-C leaves the earlier output intact; the temp file a killed run leaves behind is
removed by the next write of the same output. Every writer (workbooks, letters) goes through
:func:`write_atomic`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..findings import KofuError
from ..oserrors import describe
from .guard import refuse_not_regular

TEMP_PREFIX = ".kofu-tmp-"


def temp_path(path: Path) -> Path:
    """The one temp file of an output, named after it: a run killed while writing leaves it
    behind, and the next write of the same output removes it (no directory listing, which
    would cost seconds when kofu-template writes 1,741 workbooks into one folder)."""
    tag = hashlib.sha256(os.fsencode(path.name)).hexdigest()[:16]
    return path.with_name(f"{TEMP_PREFIX}{tag}{path.suffix}")


@contextlib.contextmanager
def _temp_beside(path: Path) -> Iterator[Path]:
    tmp_path = temp_path(path)
    with contextlib.suppress(FileNotFoundError):
        tmp_path.unlink()  # stale: left by a run killed while writing this output
    # Created exclusively (never through a planted link), with the usual permissions.
    os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
    try:
        yield tmp_path
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write bytes to ``path`` via a temp file + fsync + rename: all or nothing."""
    path = Path(path)
    refuse_not_regular(path)  # never replace a device, FIFO, folder or link (E904)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _temp_beside(path) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
    except PermissionError as exc:
        raise KofuError(
            "E901",
            f"{path} に書き込めません。Excel 等で開いている場合は閉じてから再実行してください"
            f"（{describe(exc)}）",
        ) from None
    except OSError as exc:
        raise KofuError("E901", f"{path} に書き込めません（{describe(exc)}）") from None
