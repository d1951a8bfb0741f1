"""Workbook and container formats: one module per format, used by intake and by the reader.

- :mod:`.limits`: the operator's bounds (:class:`Limits`);
- :mod:`.zip`: the zip central directory, member names, bounded inflate;
- :mod:`.xmlscan`: byte-level XML tag scan, DTD refusal, sheet-extent scans;
- :mod:`.xlsx`, :mod:`.ods`, :mod:`.xls`: each format's pre-scan and reader package;
- :mod:`.ole`: OLE magic, encrypted workbooks, Outlook .msg streams;
- :mod:`.package`: picks the format by its bytes: :func:`check_workbook` (the safety
  pre-scan that must pass before any parser sees the bytes) and :func:`open_package`.
"""

from __future__ import annotations

from .base import Reject
from .limits import DEFAULT_LIMITS, Limits
from .ole import OLE_MAGIC
from .package import check_workbook, open_package
from .reader import BROKEN, MULTI, NameTarget, Package, Ref, Unreadable
from .zip import ZIP_MAGICS

__all__ = [
    "BROKEN",
    "DEFAULT_LIMITS",
    "MULTI",
    "OLE_MAGIC",
    "ZIP_MAGICS",
    "Limits",
    "NameTarget",
    "Package",
    "Ref",
    "Reject",
    "Unreadable",
    "check_workbook",
    "open_package",
]
