"""A zip member's body deflated on a thread while the rest of the workbook is still being built.

The summary's table sheets are ~115 MB of XML for a national merge, and deflating them was a
quarter of writing it. zlib releases the GIL while it compresses, so :class:`DeflateStream`
takes encoded slices as a sheet's rows are made and deflates them on a thread, on the other
core. When the archive is written, :func:`splice` puts the result into the member between the
part's head and tail (which depend on the whole sheet: extent, widths, panes), deflated as
usual. The member is one valid deflate stream: each piece is deflated independently and all
but the last end on a byte boundary (``Z_SYNC_FLUSH``, as pigz joins its blocks), and its CRC
is combined from the pieces' (:func:`crc32_combine`). Readers see the same part text.

zipfile's writer is reached through ``_ZipWriteFile``'s ``_compressor``, ``_crc``,
``_file_size``, ``_compress_size`` and ``_fileobj`` (the same in CPython 3.10 to 3.13);
``tests/test_xlsx_extensions.py`` fails if they change.
"""

from __future__ import annotations

import queue
import threading
import zlib
from dataclasses import dataclass
from typing import Any

# Slices waiting for the thread: bounded, so rows made faster than they are deflated wait
# rather than pile up (each slice is a few MB).
_QUEUE = 8


@dataclass(frozen=True)
class Deflated:
    """A piece of a member's text, deflated: raw deflate ending on a byte boundary (more deflate
    data may follow), with the CRC-32 and length of the text it holds."""

    data: bytes
    crc: int
    size: int

    def finish(self) -> Deflated:
        return self


class DeflateStream:
    """Raw deflate of the bytes fed to it, computed on a thread; :meth:`finish` returns it."""

    def __init__(self, level: int) -> None:
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        self._slices: queue.Queue[bytes | None] = queue.Queue(_QUEUE)
        self._out: list[bytes] = []
        self._failed: BaseException | None = None
        self.crc = 0
        self.size = 0  # bytes fed
        self._done = False
        self._thread = threading.Thread(target=self._run, name="kofu-deflate", daemon=True)
        self._thread.start()

    def feed(self, data: bytes) -> None:
        if self._failed is not None:
            raise self._failed
        if self._done:
            raise RuntimeError("DeflateStream.feed after finish")
        self.size += len(data)
        self._slices.put(data)

    def finish(self) -> Deflated:
        self.close()
        if self._failed is not None:
            raise self._failed
        return Deflated(b"".join(self._out), self.crc, self.size)

    def close(self) -> None:
        """Stop the thread (also on failure: nothing is left running after a build)."""
        if not self._done:
            self._done = True
            self._slices.put(None)
            self._thread.join()

    def _run(self) -> None:
        out, compressor = self._out, self._compressor
        while (data := self._slices.get()) is not None:
            if self._failed is not None:
                continue  # drain: the feeder learns of the failure on its next feed
            try:
                self.crc = zlib.crc32(data, self.crc)
                out.append(compressor.compress(data))
            except BaseException as e:  # MemoryError: raised again in the building thread
                self._failed = e
                out.clear()
        if self._failed is None:
            out.append(compressor.flush(zlib.Z_SYNC_FLUSH))


def splice(dest: Any, part: Deflated, level: int) -> None:
    """Append a deflated piece to an open zip member (``ZipFile.open(..., "w")``) whose text so
    far was written through it: the member's own deflate is flushed to a byte boundary, the
    piece follows, and a fresh compressor takes what comes after (the old one would refer back
    past the spliced bytes)."""
    head = dest._compressor.flush(zlib.Z_SYNC_FLUSH)
    dest._fileobj.write(head)
    dest._fileobj.write(part.data)
    dest._compress_size += len(head) + len(part.data)
    dest._crc = crc32_combine(dest._crc, part.crc, part.size)
    dest._file_size += part.size
    dest._compressor = zlib.compressobj(level, zlib.DEFLATED, -15)


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of A + B from crc32(A), crc32(B) and len(B): zlib's ``crc32_combine``, which
    Python's zlib does not expose (applying len2 zero bytes to crc1 by squaring a GF(2)
    operator, log2(len2) steps)."""
    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]  # the operator for one zero bit
    even = _square(odd)  # two zero bits
    odd = _square(even)  # four
    while True:
        even = _square(odd)  # one zero byte, then 2, 4, …
        if len2 & 1:
            crc1 = _times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _square(even)
        if len2 & 1:
            crc1 = _times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def _times(mat: list[int], vec: int) -> int:
    total, i = 0, 0
    while vec:
        if vec & 1:
            total ^= mat[i]
        vec >>= 1
        i += 1
    return total


def _square(mat: list[int]) -> list[int]:
    return [_times(mat, mat[n]) for n in range(32)]
