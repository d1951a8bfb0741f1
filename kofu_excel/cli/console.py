"""Console text that never loses a result, whatever the console's encoding.

An official's console is cp932 (Windows, Japanese) or, when redirected (``> 結果.txt``), the
locale's code page; a file may be named ``131016_𠮷田_交付円滑化計画.xlsx`` (𠮷 is not in
cp932). Python's default would raise UnicodeEncodeError half-way through the results. Here:

- stdout and stderr replace a character they cannot encode by a visible mark: 〓 (the geta
  mark, JIS's own "character missing" sign) where the encoding has it, U+FFFD on UTF-8 (only a
  lone surrogate from an undecodable file name can fail there), ``?`` elsewhere;
- ``--json`` escapes every non-ASCII character when stdout is not UTF-8, so the document stays
  valid JSON and loses nothing (``\\ud842\\udfb7`` is 𠮷);
- only console text is touched: the files written never go through these streams.

This module must stay light (standard library only): the console scripts use it before the
heavy imports.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import signal
import sys
from collections.abc import Iterator
from typing import NoReturn, TextIO

ERRORS = "kofu-console"
GETA = "〓"
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process ended by it
INTERRUPTED = "E990: 中断しました（出力ファイルは変更していません）"


class Terminated(KeyboardInterrupt):
    """SIGTERM (a task manager, ``timeout``, a service stop), handled exactly as Ctrl-C is:
    the outputs are left whole or absent, one E990 line, exit status 143."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM raises :class:`Terminated` (the handler before is put
    back after: a test runner calling the command keeps its own)."""
    try:
        old = signal.signal(signal.SIGTERM, _terminate)
    except (ValueError, OSError, AttributeError):  # not the main thread, or no SIGTERM
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGTERM, old)


def exit_status(exc: BaseException | None) -> int:
    return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED


def _encodable(mark: str, encoding: str) -> bool:
    try:
        mark.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _mark(encoding: str) -> str | bytes:
    if is_utf8_encoding(encoding):
        return "\ufffd".encode()  # as bytes: the UTF-8 codec takes only ASCII text back
    return GETA if _encodable(GETA, encoding) else "?"


def _replace(exc: UnicodeError) -> tuple[str | bytes, int]:
    """The codec error handler: one visible mark per character that cannot be encoded."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return _mark(exc.encoding) * (exc.end - exc.start), exc.end


def is_utf8_encoding(encoding: str | None) -> bool:
    try:
        return codecs.lookup(encoding or "ascii").name == "utf-8"
    except LookupError:
        return False


def is_utf8(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default stdout) writes UTF-8, so JSON may carry characters as such."""
    stream = sys.stdout if stream is None else stream
    return is_utf8_encoding(getattr(stream, "encoding", None))


def setup() -> None:
    """Make stdout and stderr replace what they cannot encode (idempotent, cheap)."""
    codecs.register_error(ERRORS, _replace)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors != ERRORS:
            with contextlib.suppress(AttributeError, ValueError, OSError, io.UnsupportedOperation):
                stream.reconfigure(errors=ERRORS)


def say(line: str) -> None:
    """One line on stderr that cannot fail on encoding (used before click is imported)."""
    setup()
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


def finished() -> None:
    """The command has done its work and said so: from here to the exit (flushing, the worker
    pool's clean-up) a Ctrl-C is ignored, as "中断しました" would no longer be true; a SIGTERM
    ends the process at once (there is nothing left to leave half-done)."""
    with contextlib.suppress(ValueError, OSError):  # ValueError: not the main thread
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def interrupted(exc: BaseException | None = None) -> NoReturn:
    """Ctrl-C or SIGTERM: the one E990 line and exit status 130 (143 for SIGTERM), nothing else."""
    say(INTERRUPTED)
    raise SystemExit(exit_status(exc))
