"""Child processes of a command: how they start, and that they never outlive it.

Two kinds use this: the reading workers (:mod:`kofu_excel.pipeline.pool`) and a piece of work
run beside the main process (:func:`beside`: the summary's データ rows while the other sheets
are written). Light on purpose: a spawned child imports this module by name.

The start method is fork where the OS has it (a child starts in ~10 ms) and spawn on Windows;
``KOFU_START_METHOD=spawn|fork|forkserver`` chooses another (Windows: always spawn).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

START_METHODS = ("spawn", "fork", "forkserver")
# How long a caller waits for a child beside it (the summary's データ takes ~1 s) before doing
# the work itself.
RESULT_TIMEOUT = 120.0


def start_method() -> str:
    """KOFU_START_METHOD if the OS offers it, else fork where there is one, else spawn."""
    offered = multiprocessing.get_all_start_methods()
    asked = os.environ.get("KOFU_START_METHOD", "").strip().lower()
    if asked in START_METHODS and asked in offered:
        return asked
    return "fork" if "fork" in offered else "spawn"


def cores() -> int:
    return os.cpu_count() or 1


def quiet_child() -> None:
    """Set up a child: Ctrl-C and SIGTERM are the parent's to handle (it ends its children and
    cleans up), and the child dies with the parent (:func:`die_with_parent`)."""
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent()


def die_with_parent() -> None:
    """A child never outlives the command, whatever kills it (SIGKILL included): on Linux the
    kernel kills it when the parent dies (PR_SET_PDEATHSIG, even while stuck in native code);
    everywhere a watchdog thread waits on the parent's sentinel (a pipe the parent holds, a
    process handle on Windows) and ends the child when it fires."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    if not parent.is_alive():  # died before the line above took effect
        os._exit(1)

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="kofu-parent-watchdog", daemon=True).start()


class Beside:
    """``fn(*args)`` running in a child process; :meth:`result` waits for it.

    The child is a helper, never a point of failure: if it cannot start, fails or dies,
    :meth:`result` says so with ``None`` and the caller does the work itself. :meth:`close`
    (also on Ctrl-C or an error in the caller) kills it and waits for it to end.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self._proc: Any = None
        self._recv: Any = None
        try:
            ctx = multiprocessing.get_context(start_method())
            self._recv, send = ctx.Pipe(duplex=False)
            # Under fork the arguments are inherited, not pickled; under spawn they are pickled.
            self._proc = ctx.Process(target=_beside_main, args=(send, fn, args),
                                     name="kofu-beside", daemon=True)
            self._proc.start()
            send.close()
        except Exception:  # no process could start (resources, a frozen interpreter): do it here
            self.close()

    def result(self) -> Any | None:
        """What ``fn`` returned, or None if it did not (the caller then does the work): it
        failed, died, or is still at it after :data:`RESULT_TIMEOUT` seconds (a child stuck
        on a lock another thread held when it was forked must not hang the command)."""
        if self._proc is None:
            return None
        try:
            if not multiprocessing.connection.wait([self._recv], timeout=RESULT_TIMEOUT):
                return None
            ok, value = self._recv.recv()
        except (EOFError, OSError):  # the child died
            return None
        finally:
            self.close()
        return value if ok else None

    def close(self) -> None:
        proc, recv, self._proc, self._recv = self._proc, self._recv, None, None
        if proc is not None:
            with contextlib.suppress(Exception):
                if proc.is_alive():
                    proc.kill()
                proc.join()
        if recv is not None:
            with contextlib.suppress(Exception):
                recv.close()


def _beside_main(send: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    quiet_child()
    try:
        value = fn(*args)
    except BaseException:  # the parent does the work itself; it reports any real problem
        send.send((False, None))
    else:
        send.send((True, value))
    finally:
        send.close()
