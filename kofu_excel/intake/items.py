"""What intake hands on: one :class:`Item` for every file found, and where it was found.

Every file found (on disk, in an e-mail, in an archive) becomes exactly one item with a status
(candidate, rejected, ignored, opened; settle adds accepted, superseded, duplicate) and a
Japanese reason. :class:`Ctx` carries the provenance down through the containers.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

__all__ = [
    "CONTAINER_EXTS",
    "KNOWN_EXTS",
    "NOT_TARGET",
    "WORKBOOK_EXTS",
    "Ctx",
    "Item",
    "ext_of",
    "fmt_guess",
    "sha256_of",
    "unique_name",
]


@dataclass
class Item:
    """One file found in the inputs (on disk, or inside an e-mail or archive)."""

    path: str
    member: str
    name: str
    sha256: str
    fmt: str
    status: str
    code: str = ""
    reason: str = ""
    data: bytes | None = None
    email_date: datetime | None = None
    mtime: float = 0.0
    decrypted: bool = False
    # filled later by the reader stage (before settle):
    kind: str = ""
    muni_code: str = ""
    revision: int = 0
    submitted_on: date | None = None

    @property
    def where(self) -> str:
        """The file as a user would name it: the disk path, then the members inside."""
        return f"{self.path} > {self.member}" if self.member else self.path


WORKBOOK_EXTS = frozenset({".xlsx", ".xlsm", ".xltx", ".xltm", ".xls", ".xlt", ".ods", ".ots"})
CONTAINER_EXTS = frozenset({".zip", ".eml", ".msg"})
KNOWN_EXTS = WORKBOOK_EXTS | CONTAINER_EXTS | {".xlsb"}

NOT_TARGET = "取込対象外のファイル形式です"
R_MAC = "macOS が自動で作る管理用ファイルのため対象外です"
R_WIN = "Windows が自動で作る管理用ファイルのため対象外です"
R_EXCEL_LOCK = "Excel がブックを開いている間に作る一時ファイル（~$ で始まるロックファイル）のため対象外です"
R_LO_LOCK = "LibreOffice がブックを開いている間に作るロックファイルのため対象外です"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ext_of(name: str) -> str:
    return os.path.splitext(name)[1].lower()


@dataclass(frozen=True)
class Ctx:
    """Where a blob was found."""

    path: str
    members: tuple[str, ...] = ()
    level: int = 0  # number of enclosing containers
    email_date: datetime | None = None
    mtime: float = 0.0
    ancestors: tuple[str, ...] = ()  # sha256 of enclosing containers

    def child(self, member: str, container_sha: str, **kw: Any) -> Ctx:
        return Ctx(
            path=self.path,
            members=(*self.members, member),
            level=self.level + 1,
            email_date=kw.get("email_date", self.email_date),
            mtime=kw.get("mtime", self.mtime),
            ancestors=(*self.ancestors, container_sha),
        )

    def item(self, name: str, status: str, *, fmt: str = "", sha: str = "", code: str = "",
             reason: str = "", data: bytes | None = None, decrypted: bool = False) -> Item:
        return Item(path=self.path, member=" > ".join(self.members), name=name, sha256=sha,
                    fmt=fmt, status=status, code=code, reason=reason, data=data,
                    email_date=self.email_date, mtime=self.mtime, decrypted=decrypted)


def unique_name(name: str, seen: dict[str, int]) -> str:
    """Member names unique within one container, so that (path, member) names one item."""
    key = name.casefold()
    seen[key] = seen.get(key, 0) + 1
    return name if seen[key] == 1 else f"{name} #{seen[key]}"


def fmt_guess(name: str) -> str:
    ext = ext_of(name)
    return {".xlsx": "xlsx", ".xltx": "xlsx", ".xlsm": "xlsm", ".xltm": "xlsm", ".xls": "xls",
            ".xlt": "xls", ".ods": "ods", ".ots": "ods", ".zip": "zip", ".eml": "eml",
            ".msg": "msg"}.get(ext, "")
