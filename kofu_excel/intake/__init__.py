"""Intake: the paths given on the command line -> every file found, each with its provenance.

Folders are walked (sorted), e-mails (.eml, .msg) and zip archives are opened in memory,
encrypted workbooks are decrypted in memory, and every workbook's bytes are checked before any
parser sees them (:func:`kofu_excel.formats.check_workbook`). Nothing is extracted to disk and
nothing raises for a bad input: every file found becomes exactly one :class:`Item` with a
status and a Japanese reason.

- :mod:`.items`: the item, its provenance, the statuses' reasons;
- :mod:`.names`: Japanese file names (RFC 2047/2231, ISO-2022-JP, cp932) and OS litter;
- :mod:`.mail`: e-mails (.eml, .msg) walked for their attachments;
- :mod:`.collector`: any blob -> items (zip archives, OLE files, workbooks);
- :mod:`.walk`: the disk walk (:func:`discover`, :func:`collect_file`, :func:`collect`).

Duplicates and resubmissions are settled later, by :mod:`kofu_excel.settle`.
"""

from __future__ import annotations

from ..formats.limits import DEFAULT_LIMITS, Limits
from .collector import read_passwords
from .items import Item
from .walk import Found, Stored, collect, collect_file, discover

__all__ = [
    "DEFAULT_LIMITS",
    "Found",
    "Item",
    "Limits",
    "Stored",
    "collect",
    "collect_file",
    "discover",
    "read_passwords",
]
