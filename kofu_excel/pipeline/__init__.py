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

from kofu_excel.intake import Item, Stored, read_passwords

from .batch import E_NOTHING, E_OUTPUT_IS_INPUT, Batch, gc_paused, load_batch
from .validation import E_MISSING, ValidationRun, file_results, validate_paths

__all__ = [
    "E_MISSING",
    "E_NOTHING",
    "E_OUTPUT_IS_INPUT",
    "Batch",
    "Item",
    "Stored",
    "ValidationRun",
    "file_results",
    "gc_paused",
    "load_batch",
    "read_passwords",
    "validate_paths",
]
