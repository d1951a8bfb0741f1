"""The one place the stages are chained: intake → read → validate → settle.

- :mod:`.batch` — :func:`load_batch`: every file under the inputs taken in, read, validated
  and settled (a :class:`Batch`); ``kofu-merge`` and ``kofu-validate`` both start here.
- :mod:`.pool` — :func:`~.pool.take_all`: intake and reading per file, in worker processes,
  a crash costing one file.
- :mod:`.validation` — :func:`validate_paths`: ``kofu-validate`` as a library call, one
  :class:`~kofu_excel.model.FileResult` per file, the report and annotated copies when asked.

Every call takes a :class:`~kofu_excel.model.BatchOptions`. This package is the only one that
imports :mod:`kofu_excel.intake`; the rest see intake's items through it.
"""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use, not with the package: a reading worker imports .pool (under spawn, by
# name) and must not pay for pandas and pandera, which only validation (.batch) needs.
_LAZY = {
    "Item": "kofu_excel.intake",
    "Stored": "kofu_excel.intake",
    "read_passwords": "kofu_excel.intake",
    "E_NOTHING": ".batch",
    "E_OUTPUT_IS_INPUT": "kofu_excel.write.guard",  # raised there, before anything is written
    "Batch": ".batch",
    "gc_paused": ".batch",
    "load_batch": ".batch",
    "ValidationRun": ".validation",
    "file_results": ".validation",
    "validate_paths": ".validation",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
