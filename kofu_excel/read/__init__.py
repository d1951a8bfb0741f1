"""The read stage: one workbook's bytes -> a :class:`~kofu_excel.model.Book` of raw input cells.

- :mod:`.book`: :func:`read_book`, _meta, defined names, input cells;
- :mod:`.summary`: the national read-back of a prefectural summary's データ sheet;
- :mod:`.values`: sheet values read on demand, and the reader's findings.

Formats (names, formula cells, active content) come from :mod:`kofu_excel.formats`.
"""

from __future__ import annotations

from .book import KNOWN_VERSIONS, read_book

__all__ = ["KNOWN_VERSIONS", "read_book"]
