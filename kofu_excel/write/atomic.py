"""Outputs written all or nothing.

One file (:func:`write_atomic`): a temporary file in the same folder, fsynced and renamed over
the target. Several files that belong together (letters, annotated copies with the report,
templates): a :class:`Staging` — each file is written to a temporary file beside its target,
and only when all are written are they renamed into place; on any failure, Ctrl-C or SIGTERM,
exactly the files this run wrote are removed (and the folders it created, when left empty),
and a target replaced in the commit gets its earlier file back.

Temporary names are unique (random, created exclusively, never through a planted link), so two
runs writing the same output never share one. The limit: a run killed by SIGKILL or a power
cut cannot clean up; it leaves ``.kofu-tmp-*`` files behind (never a half-written file under an
output's own name, except when killed inside the commit's few renames), and the next run that
writes into that folder removes those whose writer is no longer running on this machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

from ..findings import KofuError
from ..oserrors import describe
from .guard import refuse_not_regular

TEMP_PREFIX = ".kofu-tmp-"
NOTHING_CHANGED = "出力ファイルは変更していません"


_HOST = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:4]
_TEMP = re.compile(re.escape(TEMP_PREFIX) + r"([0-9a-f]{4})([0-9a-f]+)-[0-9a-f]{6}(\.[^.]*)?$")


def _create_temp(path: Path) -> Path:
    """A new, empty temp file beside ``path``, created exclusively under a unique name that
    says which process wrote it (machine and process id): ``.kofu-tmp-<host><pid>-<random>``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(f"{TEMP_PREFIX}{_HOST}{os.getpid():x}-{secrets.token_hex(3)}{path.suffix}")
        try:
            os.close(os.open(tmp, flags, 0o666))  # the usual permissions (umask applies)
        except FileExistsError:
            continue
        return tmp


def _alive(pid: int) -> bool:
    """Whether a process of this machine is running (True when it cannot be told)."""
    if os.name == "nt":
        try:
            import ctypes

            kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
            handle = kernel32.OpenProcess(0x00100000, False, pid)  # SYNCHRONIZE
            if not handle:
                return ctypes.get_last_error() != 87  # ERROR_INVALID_PARAMETER: no such process
            try:
                return kernel32.WaitForSingleObject(handle, 0) == 0x102  # WAIT_TIMEOUT: running
            finally:
                kernel32.CloseHandle(handle)
        except Exception:
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale_temps(folder: Path) -> None:
    """Remove the temp files that a run of this machine killed outright (SIGKILL, power cut)
    left in ``folder``: only names of our own pattern, only when their writer is gone. Another
    run's temp files (running, or on another machine sharing the folder) are left alone."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = _TEMP.match(name)
        if m is None or m.group(1) != _HOST:
            continue
        pid = int(m.group(2), 16)
        if pid != os.getpid() and not _alive(pid):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))


def _fill(tmp: Path, data: bytes) -> None:
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _os_error(path: Path, exc: OSError, tail: str = "") -> KofuError:
    if isinstance(exc, PermissionError):
        return KofuError("E901", f"{path} に書き込めません。Excel 等で開いている場合は閉じてから再実行してください"
                                 f"（{describe(exc)}）{tail}")
    return KofuError("E901", f"{path} に書き込めません（{describe(exc)}）{tail}")


@contextlib.contextmanager
def signals_deferred() -> Iterator[list[int]]:
    """Ctrl-C and SIGTERM held back while a few renames (or their undoing) run, so they happen
    all or not at all; the signals that arrived are listed for the caller to act on. Only the
    main thread can set handlers: elsewhere (kofu serve's jobs) nothing is deferred."""
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield got
        return
    wanted = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    old = {s: signal.signal(s, lambda n, _f: got.append(n)) for s in wanted}
    try:
        yield got
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _raise_for(got: list[int]) -> None:
    """Act on a signal held back: raised again, now that the handler in place before is back."""
    if got:
        signal.raise_signal(got[0])


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write bytes to ``path`` via a unique temp file + fsync + rename: all or nothing."""
    path = Path(path)
    refuse_not_regular(path)  # never replace a device, FIFO, folder or link (E904)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path.parent)
        tmp = _create_temp(path)
        _fill(tmp, data)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise _os_error(path, exc) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()


class Staging:
    """Files written together or not at all (see the module doc). Use :func:`staged`."""

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []  # (temp, target), in the order written
        self._made: list[Path] = []  # folders this run created, outermost first
        self._targets: set[Path] = set()
        self._swept: set[Path] = set()  # folders cleared of stale temp files (once each)
        self.paths: list[Path] = []  # the targets, in the order written

    def _mkdirs(self, folder: Path) -> None:
        missing = []
        while not folder.exists():
            missing.append(folder)
            if folder.parent == folder:
                break
            folder = folder.parent
        for d in reversed(missing):
            try:
                d.mkdir()
            except FileExistsError:
                continue
            self._made.append(d)

    def write(self, path: str | Path, data: bytes) -> Path:
        """Stage ``data`` for ``path``: written and fsynced now, in place at the commit."""
        path = Path(path)
        key = Path(os.path.abspath(path))
        if key in self._targets:
            raise ValueError(f"staged twice: {path}")
        refuse_not_regular(path)  # never replace a device, FIFO, folder or link (E904)
        tmp: Path | None = None
        try:
            self._mkdirs(path.parent)
            if path.parent not in self._swept:
                self._swept.add(path.parent)
                remove_stale_temps(path.parent)
            tmp = _create_temp(path)
            self._staged.append((tmp, path))
            self._targets.add(key)
            self.paths.append(path)
            _fill(tmp, data)
        except OSError as exc:
            raise _os_error(path, exc) from None
        return path

    def discard(self) -> None:
        """Remove exactly what this run wrote: its temp files, then the folders it created
        if they are empty (never a folder with anything else in it)."""
        for tmp, _ in self._staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._staged.clear()
        self.paths.clear()
        for d in reversed(self._made):
            with contextlib.suppress(OSError):
                d.rmdir()
        self._made.clear()

    def commit(self) -> None:
        """Rename every staged file into place, as a whole or not at all."""
        self._finish(self._move_in())

    def _move_in(self) -> list[tuple[Path, Path, Path | None]]:
        """Rename the staged files into place, keeping each earlier file under a temp name; a
        failed rename undoes the others (E901)."""
        moved: list[tuple[Path, Path, Path | None]] = []  # (temp, target, the earlier file kept)
        target = Path(".")
        try:
            for tmp, target in self._staged:
                backup = None
                if os.path.lexists(target) and not os.path.isdir(target):
                    backup = _create_temp(target)
                    try:
                        os.replace(target, backup)  # kept until all are in place
                    except FileNotFoundError:  # another run moved it away meanwhile
                        backup.unlink()
                        backup = None
                    except BaseException:
                        with contextlib.suppress(OSError):
                            backup.unlink()
                        raise
                moved.append((tmp, target, backup))
                os.replace(tmp, target)
        except OSError as exc:
            self._undo(moved)
            raise _os_error(target, exc, f"。{NOTHING_CHANGED}") from None
        except BaseException:
            self._undo(moved)
            raise
        return moved

    def _finish(self, moved: list[tuple[Path, Path, Path | None]]) -> None:
        for _, _, backup in moved:
            if backup is not None:
                with contextlib.suppress(OSError):
                    backup.unlink()
        self._staged.clear()
        self._made.clear()

    def _undo(self, moved: list[tuple[Path, Path, Path | None]]) -> None:
        for tmp, target, backup in reversed(moved):
            with contextlib.suppress(OSError):
                if os.path.lexists(target) and not os.path.lexists(tmp):
                    os.replace(target, tmp)  # ours: back to its temp name, removed below
            if backup is not None:
                with contextlib.suppress(OSError):
                    os.replace(backup, target)
        self.discard()


@contextlib.contextmanager
def staged() -> Iterator[Staging]:
    """A :class:`Staging` committed when the block ends normally and discarded otherwise (an
    error, Ctrl-C, SIGTERM). A write error is E901 that says no output was changed; the
    commit and the clean-up run with Ctrl-C and SIGTERM held back, so they are never cut."""
    st = Staging()
    try:
        yield st
    except KofuError as exc:
        with signals_deferred():
            st.discard()
        if exc.code == "E901":
            raise KofuError(exc.code, f"{exc.message}。{NOTHING_CHANGED}") from None
        raise
    except BaseException:
        with signals_deferred():
            st.discard()
        raise
    with signals_deferred() as got:
        moved = st._move_in()
        if got:  # interrupted while committing: undone, so "nothing changed" stays true
            st._undo(moved)
        else:
            st._finish(moved)
    _raise_for(got)
